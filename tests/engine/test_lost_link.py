"""A link to the target that dies under a run: the executor stops within
its bounds (no unmount through the dead link), the run ends resumable
(exit 4) with one line saying so and no traceback, and the same run again,
once the link is back, unmounts what the dead one left and completes.
Over the built-in demo (real rsync into a directory) with the link cut by
the doubles of tests/engine/linkcut.py."""

from __future__ import annotations

import io
import json
import shutil
import time
from pathlib import Path
from typing import Any

import pytest

from p2v_tui.demo import example_file
from p2v_tui.engine import executor
from p2v_tui.engine.exits import EXIT_FAILED, EXIT_OK, EXIT_STOPPED
from p2v_tui.engine.headless import Options, run
from p2v_tui.system.answers_io import load_answers

from .linkcut import LOST, Link, cuttable_demo

if not shutil.which("rsync"):
    pytest.skip("needs rsync", allow_module_level=True)


class Demo:
    """The demo over ``link``, run headless as often as a test needs."""

    def __init__(self, tmp: Path, link: Link) -> None:
        self.tmp = tmp
        self.parts = cuttable_demo(tmp, link)

    def run(self, name: str) -> tuple[int, str, list[dict[str, Any]], float]:
        """Exit code, console, events, seconds."""
        console = io.StringIO()
        answers = load_answers(str(example_file("answers.yaml")))
        start = time.monotonic()
        code = run(answers, self.parts, Options(report_dir=self.tmp / name, console=console))
        took = time.monotonic() - start
        events = [json.loads(line) for line in (self.tmp / name / "events.jsonl").read_text().splitlines()]
        return code, console.getvalue(), events, took


def steps(events: list[dict[str, Any]]) -> dict[str, tuple[bool, str]]:
    return {e["step"]: (e["ok"], e["message"]) for e in events if e["type"] == "step_finished"}


def test_a_link_lost_mid_copy_stops_resumable_and_the_same_run_again_completes(tmp_path: Path) -> None:
    link = Link(cut_in_copy=True)
    demo = Demo(tmp_path, link)
    code, out, events, took = demo.run("r1")
    assert code == EXIT_STOPPED, out
    assert took < 10
    finished = steps(events)
    assert finished["copy"] == (False, LOST)  # the lost link, not rsync's broken pipe
    assert finished["unmount"] == (False, "the target could not be unmounted: the link to it is lost; "
                                          "the next run unmounts it")  # fmt: skip
    assert "after" not in finished  # nothing is powered off through a dead link
    last = out.strip().splitlines()[-1]
    assert last == f"STOPPED: {LOST}. The source is untouched; run the same command again to resume."
    assert "Traceback" not in out
    assert events[-1]["type"] == "finished" and events[-1]["resumable"] and not events[-1]["ok"]
    assert (tmp_path / "r1" / "result.txt").read_text().startswith("stopped: the link to the target is lost")
    # the dead link was tried once (the link check), not once per mount point
    tried = len(link.commands)

    link.restore()
    code, out, events, _took = demo.run("r2")
    assert code == EXIT_OK, out
    assert "unmounting what an earlier run left mounted on the target: /target" in out
    assert all(ok for ok, _ in steps(events).values())
    assert tried < len(link.commands)


def test_a_command_that_hangs_on_a_dead_link_stops_the_run_in_bounded_time(tmp_path: Path) -> None:
    link = Link(cut_at_command="mkswap", hang=1.0)
    demo = Demo(tmp_path, link)
    code, out, events, took = demo.run("r1")
    assert code == EXIT_STOPPED, out
    # one wait for the link timeout (the hung command); the unmount that
    # follows fails at once
    assert 1.0 <= took < 5
    finished = steps(events)
    assert finished["mkfs"] == (False, LOST)
    assert not finished["unmount"][0]
    assert "copy" not in finished
    assert "Traceback" not in out


def test_mounts_an_earlier_run_left_busy_are_waited_for(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(executor, "BUSY_POLL", 0.1)
    link = Link(cut_in_copy=True)
    demo = Demo(tmp_path, link)
    assert demo.run("r1")[0] == EXIT_STOPPED
    link.restore()
    link.busy_umounts = 3  # the dead run's rsync still holds /target for a while
    code, out, _events, _took = demo.run("r2")
    assert code == EXIT_OK, out
    assert (
        "waiting for processes of the earlier run to end (/target: umount: /target: target is busy.)" in out
    )


def test_mounts_that_stay_busy_fail_the_run_saying_what_holds_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    link = Link(cut_in_copy=True)
    demo = Demo(tmp_path, link)
    assert demo.run("r1")[0] == EXIT_STOPPED
    link.restore()
    link.busy_umounts = 10_000
    monkeypatch.setattr(executor, "BUSY_TIMEOUT", 0.5)
    monkeypatch.setattr(executor, "BUSY_POLL", 0.1)
    code, _out, events, took = demo.run("r2")
    assert code == EXIT_FAILED
    assert took < 10
    ok, message = steps(events)["preflight"]
    assert not ok
    assert "stays busy after 0 s (/target: umount: /target: target is busy.)" in message
    assert "fuser -vm /target" in message and "Run the same command again later" in message
    assert "partition" not in steps(events)  # nothing was written
