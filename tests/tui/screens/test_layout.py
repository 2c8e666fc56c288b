"""The layout screen over the real planner: the controller is an autospec
mock whose plan() runs a real controller over the built-in demo, so every
edit really plans again."""

from __future__ import annotations

import dataclasses
import json
import shutil
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from unittest.mock import create_autospec

import pytest

from p2v_tui.demo import DemoNetwork, demo_parts, example_file
from p2v_tui.engine.prepare import Prepared
from p2v_tui.engine.session import Parts, Session
from p2v_tui.model.plan import LayoutChoices, LayoutRequest
from p2v_tui.model.units import GiB, MiB
from p2v_tui.system.answers_io import load_answers
from p2v_tui.system.report import Report
from p2v_tui.system.simulated import SimulatedTarget
from p2v_tui.system.target import Target
from p2v_tui.tui.controller import Controller, Result, inline
from p2v_tui.tui.screens.layout import LayoutScreen
from p2v_tui.tui.widgets.theme import glyphs_for
from tests.tui.render import is_ascii, press, render, screen
from tests.tui.screens.support import FakeNav, save_screen

if not shutil.which("rsync"):
    pytest.skip("needs rsync (the demo's sources)", allow_module_level=True)


def two_disk_parts(parts: Parts, root: Path) -> Parts:
    """The demo with a second 8 GiB disk on the instance."""
    doc = json.loads(example_file("instance.json").read_text())
    doc["disks"].append({"index": 1, "path": "/dev/vdb", "size": 8 * GiB})

    def connect(_a: Any) -> Target:
        sizes = {d["path"]: d["size"] for d in doc["disks"]}
        return SimulatedTarget(root, sizes, {"/etc/p2v-target/instance.json": json.dumps(doc).encode()})

    return dataclasses.replace(parts, connect=connect)


def make_real(tmp_path: Path, disks: int) -> Iterator[Controller]:
    parts = demo_parts(tmp_path / "source", tmp_path / "target")
    if disks == 2:
        parts = two_disk_parts(parts, tmp_path / "target")
    report = Report(tmp_path / "report")
    session = Session(parts, report, report.event, threading.Event())
    real = Controller(session, load_answers(str(example_file("answers.yaml"))), DemoNetwork(), spawn=inline)
    real.connect(lambda r: None)
    real.probe(lambda r: None)
    yield real
    session.close()
    report.close()


def mock_over(real: Controller) -> Any:
    """An autospec'd controller whose data and slow calls are the real ones."""
    mock = create_autospec(Controller, instance=True)
    mock.answers = real.answers
    mock.connected = real.connected
    mock.machine = real.machine
    mock.prepared = None

    def set_layout(layout: LayoutChoices) -> None:
        real.set_layout(layout)
        mock.answers = real.answers

    def plan(done: Callable[[Result[Prepared]], object]) -> None:
        def deliver(result: Result[Prepared]) -> None:
            mock.prepared = real.prepared
            done(result)

        real.plan(deliver)

    mock.set_layout.side_effect = set_layout
    mock.plan.side_effect = plan
    return mock


@pytest.fixture
def real(tmp_path: Path) -> Iterator[Controller]:
    yield from make_real(tmp_path, 1)


@pytest.fixture
def real2(tmp_path: Path) -> Iterator[Controller]:
    yield from make_real(tmp_path, 2)


def shown(real: Controller, ascii: bool = False) -> tuple[LayoutScreen, Any, FakeNav]:
    mock = mock_over(real)
    nav = FakeNav(glyphs_for(ascii))
    s = LayoutScreen(mock, nav)
    s.enter()
    return s, mock, nav


def test_shows_the_automatic_plan_as_a_bar_and_a_table(real: Controller) -> None:
    s, mock, _nav = shown(real)
    text = screen(s.frame)
    mock.plan.assert_called_once()
    assert "/dev/vda  10.0 GiB" in text
    assert "The data fits" in text
    lines = render(s.frame)
    row = next(line for line in lines if line.strip().startswith("/home"))
    assert "ext4" in row and "4.73 GiB" in row and "/dev/vda" in row
    assert any(line.strip().startswith("swap") and "2.00 GiB" in line for line in lines)
    assert s.frame.continue_enabled


def test_continue_goes_on_when_it_fits(real: Controller) -> None:
    s, _mock, nav = shown(real)
    s.frame.focus_buttons()
    press(s.frame, "enter")
    assert nav.calls == ["next"]


def test_grow_makes_an_explicit_layout_and_plans_again(real: Controller) -> None:
    s, mock, _nav = shown(real)
    press(s.frame, "down", "down")  # / -> /boot -> /home
    press(s.frame, "-")
    layout = mock.answers.layout
    assert layout.explicit is not None
    home = next(r for r in layout.explicit if r.mountpoint == "/home")
    assert home == LayoutRequest("/home", "size", 5078253568 - GiB, "ext4", 0)
    assert mock.plan.call_count == 2
    assert real.prepared is not None and real.prepared.plan.partition_at("/home").size == 5078253568 - GiB  # type: ignore[union-attr]
    assert "1.00 GiB free" in screen(s.frame)


def test_a_typed_size_that_does_not_fit_refuses_continue_with_the_reason(real: Controller) -> None:
    s, mock, nav = shown(real)
    press(s.frame, "enter")  # on /: type its size
    assert "Size of / on /dev/vda" in screen(s.frame)
    press(s.frame, *["backspace"] * 8, "9", "G", "enter")
    assert LayoutRequest("/", "size", 9 * GiB, "ext4", 0) in mock.answers.layout.explicit
    text = screen(s.frame)
    assert "Does not fit" in text
    assert "over by" in text  # the bar shows the request overflowing the disk
    assert "the data does not fit" in text  # beside the refused Continue
    assert not s.frame.continue_enabled
    assert "[ Continue ]" in text  # drawn, but not a button: nothing to press
    assert nav.calls == []
    # "f" on the same row fits it again and Continue comes back
    press(s.frame, "f")
    assert LayoutRequest("/", "fit", 0, "ext4", 0) in mock.answers.layout.explicit
    assert s.frame.continue_enabled
    assert "The data fits" in screen(s.frame)


def test_fit_and_rest(real: Controller) -> None:
    s, mock, _nav = shown(real)
    press(s.frame, "f")  # / to used + headroom: the rest of the disk is free
    assert "fit" in next(line for line in render(s.frame) if line.strip().startswith("/ "))
    press(s.frame, "r")  # / takes the rest again
    root = real.prepared.plan.partition_at("/")  # type: ignore[union-attr]
    assert root is not None and root.size == 3242196992
    assert mock.answers.layout.explicit[0].mode == "rest"


def test_swap_policy_drop_then_size(real: Controller) -> None:
    s, mock, _nav = shown(real)
    press(s.frame, "down", "down", "down", "down")  # the swap choice row
    press(s.frame, "right", "right", "enter")  # auto, keep, [drop]
    assert mock.answers.layout.swap == "drop"
    assert all(p.role != "swap" for p in real.prepared.plan.partitions)  # type: ignore[union-attr]
    press(s.frame, "right", "enter")  # size: asks for it
    assert "Size of each swap partition" in screen(s.frame)
    press(s.frame, "5", "1", "2", "M", "enter")
    assert mock.answers.layout.swap == 512 * MiB
    swap = [p for p in real.prepared.plan.partitions if p.role == "swap"]  # type: ignore[union-attr]
    assert [p.size for p in swap] == [512 * MiB]
    assert "size 512 MiB" in screen(s.frame)


def test_move_to_the_second_disk(real2: Controller) -> None:
    s, mock, _nav = shown(real2)
    text = screen(s.frame)
    assert "/dev/vdb  8.00 GiB" in text
    press(s.frame, "down", "down", "m")  # /home to /dev/vdb
    home = next(r for r in mock.answers.layout.explicit if r.mountpoint == "/home")
    assert home.disk == 1
    assert real2.prepared.plan.partition_at("/home").disk_index == 1  # type: ignore[union-attr]
    row = next(line for line in render(s.frame) if line.strip().startswith("/home") and "ext4" in line)
    assert row.rstrip().endswith("/dev/vdb")


def test_automatic_layout_again(real: Controller) -> None:
    s, mock, _nav = shown(real)
    press(s.frame, "-", "a")
    assert mock.answers.layout.explicit is None


def test_back(real: Controller) -> None:
    s, _mock, nav = shown(real)
    press(s.frame, "esc")
    assert nav.calls == ["back"]


def test_ascii_mode(real: Controller) -> None:
    s, _mock, _nav = shown(real, ascii=True)
    lines = render(s.frame)
    assert is_ascii(lines)
    assert "The data fits" in "\n".join(lines)


def test_the_screen_fits_80x24_and_is_kept_for_the_docs(real: Controller) -> None:
    s, _mock, _nav = shown(real)
    lines = render(s.frame)
    assert len(lines) == 24 and all(len(line) == 80 for line in lines)
    save_screen("layout", lines)
