"""The done screen after real demo runs: a migration that worked (the
Ganeti commands to start the instance, where the report is) and one
cancelled during the copy (the reason, the last log lines, how to resume);
a failure and a lost link to the target, each with what to try."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from p2v_tui.engine.ending import Ending
from p2v_tui.tui.screens.done import DoneScreen
from p2v_tui.tui.widgets.theme import ASCII_GLYPHS, UTF8_GLYPHS, Glyphs

from ..render import is_ascii, press, render, screen
from .support import FakeNav, save_screen
from .test_fixups import Demo, mock_controller
from .test_transfer import run_demo


@pytest.fixture(scope="module")
def migrated(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    yield from run_demo(tmp_path_factory.mktemp("done"))


@pytest.fixture(scope="module")
def cancelled(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    yield from run_demo(tmp_path_factory.mktemp("cancelled"), cancel_at="copy")


@dataclass
class Transfer:
    """What the transfer screen leaves: its outcome and log."""

    outcome: Ending | None
    log_lines: list[str] = field(default_factory=list)


def make(run: Demo, log: list[str], glyphs: Glyphs = UTF8_GLYPHS) -> tuple[DoneScreen, FakeNav]:
    nav = FakeNav(glyphs)
    s = DoneScreen(mock_controller(run.controller), nav, Transfer(run.finished[0], log))
    s.enter()
    return s, nav


def test_success_says_how_to_start_the_instance_and_where_the_report_is(migrated: Demo) -> None:
    s, nav = make(migrated, ["copying / (24.5 MiB) from /dev/sda3"])
    lines = render(s.frame)
    text = "\n".join(lines)
    assert "✓ Migrated into web01.example.org." in text
    assert "gnt-instance modify -H kernel_path=,initrd_path= web01.example.org" in text
    assert "gnt-instance start web01.example.org" in text
    assert "gnt-instance console web01.example.org" in text
    report = str(migrated.tmp / "report")
    assert report in text.replace("\n", "")
    assert "copying /" not in text  # the log is for failures
    save_screen("done", lines)
    press(s.frame, "enter")
    assert nav.calls == ["quit"]


def test_a_cancel_shows_the_reason_the_log_and_how_to_resume(cancelled: Demo) -> None:
    log = [f"line {i}" for i in range(20)]
    s, nav = make(cancelled, log)
    text = screen(s.frame, 80, 40)
    assert cancelled.finished[0].cancelled
    assert "✗ Cancelled:" in text and "copy of / cancelled" in text
    assert "line 19" in text and "line 12" in text and "line 11" not in text
    assert "a new run resumes" in text
    assert f"{cancelled.tmp / 'report'}/debug.log" in text
    press(s.frame, "esc")  # no way back into a finished migration
    assert nav.calls == []


def test_a_failure_says_what_to_fix(migrated: Demo) -> None:
    failed = Ending(False, False, "rsync of / failed: No space left on device", "", "/tmp/r")
    nav = FakeNav()
    s = DoneScreen(mock_controller(migrated.controller), nav, Transfer(failed, ["error: copy failed"]))
    s.enter()
    text = screen(s.frame)
    assert "The migration failed" in text and "No space left on device" in text
    assert "error: copy failed" in text
    assert "Fix what the error names, then run p2v again" in text
    assert "/tmp/r/debug.log" in text


def test_a_lost_link_says_so_and_how_to_resume(migrated: Demo) -> None:
    lost = Ending(False, False, "the link to the target is lost: no answer from 192.0.2.20 for 40 s. "
                    "The source is untouched; p2v run again with the same target resumes.", "", "/tmp/r",
                    lost=True)  # fmt: skip
    nav = FakeNav()
    s = DoneScreen(mock_controller(migrated.controller), nav, Transfer(lost, ["error: copy failed"]))
    s.enter()
    lines = render(s.frame)
    text = "\n".join(lines)
    assert "Stopped: the target can be resumed" in text
    assert "✗ Stopped: the link to the target was lost:" in text
    assert "no answer from 192.0.2.20 for 40 s" in text
    assert "When the target is reachable again, run p2v again with the same target" in text
    assert "a new run resumes" in text and "Fix what the error names" not in text
    save_screen("done-lost", lines)


@pytest.mark.parametrize("which", ["migrated", "cancelled"])
def test_ascii_mode_draws_only_ascii(which: str, request: Any) -> None:
    run: Demo = request.getfixturevalue(which)
    s, _nav = make(run, ["a log line"], ASCII_GLYPHS)
    assert is_ascii(render(s.frame))
