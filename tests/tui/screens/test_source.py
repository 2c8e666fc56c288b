"""The source screen: the controller is an autospec mock holding the demo
machine as a real controller probed it; probing and measuring exclusions
go through the real controller."""

from __future__ import annotations

import dataclasses
import shutil
import threading
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any
from unittest.mock import create_autospec

import pytest

from p2v_tui.demo import DemoNetwork, demo_parts, example_file
from p2v_tui.engine.session import Session
from p2v_tui.model.machine import Disk, Machine, Partition
from p2v_tui.model.plan import LayoutChoices
from p2v_tui.model.units import GiB, MiB
from p2v_tui.system.answers_io import load_answers
from p2v_tui.system.report import Report
from p2v_tui.tui.controller import Controller, Failed, Result, inline
from p2v_tui.tui.screens.source import SourceScreen
from p2v_tui.tui.widgets.theme import glyphs_for
from tests.tui.render import is_ascii, press, render, screen
from tests.tui.screens.support import FakeNav, save_screen

if not shutil.which("rsync"):
    pytest.skip("needs rsync (the demo's sources)", allow_module_level=True)


def make_real(tmp_path: Path) -> Iterator[Controller]:
    parts = demo_parts(tmp_path / "source", tmp_path / "target")
    report = Report(tmp_path / "report")
    session = Session(parts, report, report.event, threading.Event())
    yield Controller(session, load_answers(str(example_file("answers.yaml"))), DemoNetwork(), spawn=inline)
    session.close()
    report.close()


@pytest.fixture
def real(tmp_path: Path) -> Iterator[Controller]:
    yield from make_real(tmp_path)


def mock_over(real: Controller) -> Any:
    mock = create_autospec(Controller, instance=True)
    mock.answers = real.answers
    mock.machine = None

    def probe(done: Callable[[Result[Machine]], object]) -> None:
        def deliver(result: Result[Machine]) -> None:
            mock.machine = real.machine
            done(result)

        real.probe(deliver)

    def set_layout(layout: LayoutChoices) -> None:
        real.set_layout(layout)
        mock.answers = real.answers

    def set_source_disks(disks: tuple[str, ...] | None) -> None:
        real.set_source_disks(disks)
        mock.answers = real.answers

    def measure(paths: tuple[str, ...], done: Callable[[Result[Mapping[str, int]]], object]) -> None:
        real.measure_exclusions(paths, done)

    mock.probe.side_effect = probe
    mock.set_layout.side_effect = set_layout
    mock.set_source_disks.side_effect = set_source_disks
    mock.measure_exclusions.side_effect = measure
    return mock


def shown(real: Controller, ascii: bool = False) -> tuple[SourceScreen, Any, FakeNav]:
    mock = mock_over(real)
    nav = FakeNav(glyphs_for(ascii))
    s = SourceScreen(mock, nav)
    s.enter()
    return s, mock, nav


def line_with(s: SourceScreen, *parts: str) -> str:
    return next(line for line in render(s.frame) if all(p in line for p in parts))


def test_probes_then_lists_disks_partitions_filesystems_and_swap(real: Controller) -> None:
    s, mock, _nav = shown(real)
    mock.probe.assert_called_once()
    text = screen(s.frame)
    assert "Debian GNU/Linux 7 (wheezy), hostname web01" in text
    assert "/dev/sda  80.0 GiB  msdos  ATA ST380815AS" in text
    assert "256 MiB  ext3 /boot" in line_with(s, "/dev/sda1")
    assert "swap" in line_with(s, "/dev/sda2", "2.00 GiB")
    home = line_with(s, "[", "/home", "ext4", "/dev/sda5")
    assert "[X]" in home and "14.7 MiB" in home and "47.0 GiB" in home
    assert " / " in line_with(s, "(always)", "/dev/sda3")
    assert "2.00 GiB" in line_with(s, "(partition)", "swap", "/dev/sda2")
    assert s.frame.continue_enabled


def test_the_status_while_probing(real: Controller) -> None:
    mock = mock_over(real)
    mock.probe.side_effect = None  # the probe has not answered yet
    s = SourceScreen(mock, FakeNav())
    s.enter()
    s.enter()  # shown again meanwhile: no second probe
    assert mock.probe.call_count == 1
    assert "Reading the disks (read-only)…" in screen(s.frame)
    assert not s.frame.continue_enabled


def test_a_failed_probe_says_so_and_refuses_continue(real: Controller) -> None:
    mock = mock_over(real)
    mock.probe.side_effect = lambda done: done(Failed("blkid: permission denied"))
    s = SourceScreen(mock, FakeNav())
    s.enter()
    text = screen(s.frame)
    assert "Reading the disks failed: blkid: permission denied" in text
    assert not s.frame.continue_enabled


def test_unchecking_a_mount_point_drops_it(real: Controller) -> None:
    s, mock, nav = shown(real)
    focus_on(s, "/boot")
    press(s.frame, " ")
    assert mock.answers.layout.drop == ("/boot",)
    assert "[ ]" in line_with(s, "[", "/boot", "ext3", "/dev/sda1")
    press(s.frame, " ")
    assert mock.answers.layout.drop == ()
    s.frame.focus_buttons()
    press(s.frame, "enter")
    assert nav.calls == ["next"]


def focus_on(s: SourceScreen, text: str) -> None:
    """Move down until the focused line holds ``text``."""
    for _ in range(30):
        w = s._list.focus
        if text in str(w.base_widget.get_label() if hasattr(w.base_widget, "get_label") else ""):
            return
        press(s.frame, "down")
    raise AssertionError(f"no field with {text}")


def test_an_exclusion_is_measured_and_can_be_removed(real: Controller) -> None:
    s, mock, _nav = shown(real)
    # the demo's answers exclude /var/cache/apt/archives: measured on entry
    assert "12.0 MiB" in line_with(s, "/var/cache/apt/archives")
    s._list.set_focus(len(s._walker) - 1)
    press(s.frame, *"var/log", "enter")
    assert "absolute path" in screen(s.frame)  # typed without the leading /
    assert "/var/log" not in mock.answers.layout.exclude
    press(s.frame, "home", "/", "enter")
    assert mock.answers.layout.exclude == ("/var/cache/apt/archives", "/var/log")
    mock.measure_exclusions.assert_called_with(("/var/log",), mock.measure_exclusions.call_args[0][1])
    assert "4.00 MiB" in line_with(s, "/var/log")
    press(s.frame, "up", "right", "enter")  # Remove, on the /var/log line
    assert mock.answers.layout.exclude == ("/var/cache/apt/archives",)
    assert "/var/log" not in screen(s.frame)


def test_several_disks_each_get_a_checkbox(real: Controller) -> None:
    mock = mock_over(real)
    real.probe(lambda r: None)
    assert real.machine is not None
    second = Disk(
        "/dev/sdb", 500 * GiB, 512, "gpt", "ATA backup", (Partition("/dev/sdb1", 1, MiB, 499 * GiB),)
    )
    mock.probe.side_effect = None
    mock.machine = dataclasses.replace(real.machine, disks=(*real.machine.disks, second))
    s = SourceScreen(mock, FakeNav())
    s.enter()
    assert "[X] /dev/sdb  500 GiB  gpt  ATA backup" in screen(s.frame)
    focus_on(s, "/dev/sdb")
    press(s.frame, " ")
    assert mock.answers.source_disks == ("/dev/sda",)


def test_back(real: Controller) -> None:
    s, _mock, nav = shown(real)
    press(s.frame, "esc")
    assert nav.calls == ["back"]


def test_ascii_mode(real: Controller) -> None:
    s, _mock, _nav = shown(real, ascii=True)
    lines = render(s.frame)
    assert is_ascii(lines)
    assert "/dev/sda  80.0 GiB" in "\n".join(lines)


def test_the_screen_fits_80x24_and_is_kept_for_the_docs(real: Controller) -> None:
    s, _mock, _nav = shown(real)
    lines = render(s.frame)
    assert len(lines) == 24 and all(len(line) == 80 for line in lines)
    save_screen("source", lines)
