"""The confirm screen over the demo's real plan: what is erased (the
instance's disk, named, with its size) and what is copied where; nothing
continues until the instance name was typed."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

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
