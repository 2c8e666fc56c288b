"""The confirm screen over the demo's real plan: what is erased (the
instance's disk, named, with its size) and what is copied where; nothing
continues until the instance name was typed."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from p2v_tui.model.layout_edit import requests_from_plan
from p2v_tui.model.units import GiB
from p2v_tui.model.warm import WarmPass, WarmState, new_record, with_pass
from p2v_tui.tui.screens.confirm import ConfirmScreen
from p2v_tui.tui.widgets.theme import ASCII_GLYPHS, UTF8_GLYPHS, Glyphs

from ..render import is_ascii, press, render, screen
from .support import FakeNav, save_screen
from .test_fixups import Demo, demo, mock_controller


@pytest.fixture(scope="module")
def planned(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    yield from demo(tmp_path_factory.mktemp("confirm"))


@pytest.fixture
def ctl(planned: Demo) -> Any:
    return mock_controller(planned.controller)


def make(ctl: Any, glyphs: Glyphs = UTF8_GLYPHS) -> tuple[ConfirmScreen, FakeNav]:
    nav = FakeNav(glyphs)
    s = ConfirmScreen(ctl, nav)
    s.enter()
    return s, nav


def test_the_summary_names_what_is_erased_and_what_is_copied(ctl: Any) -> None:
    s, _nav = make(ctl)
    lines = render(s.frame)
    text = "\n".join(lines)
    assert "ERASED on instance web01.example.org:" in text
    assert "/dev/vda  10.0 GiB: everything on it is replaced by 4 new partitions (msdos)" in text
    assert "/dev/sda3 -> /dev/vda1 ext4 at /, 24.5 MiB used" in text
    assert "not copied: /var/cache/apt/archives" in text
    assert "/dev/sda5 -> /dev/vda3 ext4 at /home, 14.7 MiB used" in text
    assert "the instance keeps running the bootstrap OS" in text  # the demo's after: none
    save_screen("confirm", lines)


def test_a_warm_copy_on_the_target_is_shown_with_the_final_pass(ctl: Any) -> None:
    prepared = ctl.prepared
    requests = requests_from_plan(prepared.plan, prepared.machine)
    record = new_record(prepared.machine, prepared.plan, requests)
    done = WarmPass(
        started=1796686390, source_clock=1796686388, seconds=812.0, bytes=300 * GiB, filesystems=("/",)
    )
    ctl.warm = WarmState(with_pass(record, done), files=1234, bytes=2 * GiB)
    text = " ".join(" ".join(render(make(ctl)[0].frame)).split())  # lines wrapped at 80 columns
    assert "A warm copy is on web01.example.org:" in text
    assert "1 pass, the last started 2026-12-07 23:33 UTC (300 GiB in 812 s)" in text
    assert "The final pass sends about 2.00 GiB (1234 files changed since" in text
    assert "ERASED on instance web01.example.org:" in text


def test_continue_needs_the_instance_name_typed(ctl: Any) -> None:
    s, nav = make(ctl)
    press(s.frame, "enter")  # Erase and copy: the question opens
    assert "Type web01.example.org to confirm." in screen(s.frame)
    press(s.frame, "enter")  # a stray Enter in the name field does nothing
    assert nav.calls == [] and s.frame.modal_open
    press(s.frame, *"web01.example.com", "tab", "enter")  # a wrong name: Erase does nothing
    assert nav.calls == [] and s.frame.modal_open
    assert "does not match web01.example.org" in screen(s.frame)
    press(s.frame, "tab", "tab", *["backspace"] * 3, *"org", "tab", "enter")
    assert nav.calls == ["next"]
    assert not s.frame.modal_open


def test_cancel_writes_nothing(ctl: Any) -> None:
    s, nav = make(ctl)
    press(s.frame, "enter", "tab", "tab", "enter")  # Erase and copy, then Cancel
    assert nav.calls == [] and not s.frame.modal_open
    assert "Nothing was written" in s.frame.message


def test_esc_in_the_question_is_no_and_esc_then_goes_back(ctl: Any) -> None:
    s, nav = make(ctl)
    press(s.frame, "enter", *"web01.example.org", "esc")
    assert nav.calls == [] and not s.frame.modal_open
    press(s.frame, "esc")
    assert nav.calls == ["back"]


def test_without_a_plan_continuing_is_refused(ctl: Any) -> None:
    ctl.prepared = None
    s, nav = make(ctl)
    assert "no plan yet" in screen(s.frame)
    assert not s.frame.continue_enabled
    s._continue()
    assert nav.calls == [] and not s.frame.modal_open


def test_ascii_mode_draws_only_ascii(ctl: Any) -> None:
    s, _nav = make(ctl, ASCII_GLYPHS)
    assert is_ascii(render(s.frame))
    press(s.frame, "enter")
    assert is_ascii(render(s.frame))
