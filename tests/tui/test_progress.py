from __future__ import annotations

import pytest

from p2v_tui.model.events import Log, Progress, StepFinished, StepStarted
from p2v_tui.model.units import GiB, MiB
from p2v_tui.tui.widgets.progress import (
    LogPane,
    StepChecklist,
    TransferProgress,
    bar_text,
    format_eta,
    percent,
)
from p2v_tui.tui.widgets.theme import ASCII_GLYPHS, UTF8_GLYPHS

from .render import is_ascii, press, render


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (None, "--"),
        (0, "0:00:00"),
        (59.4, "0:00:59"),
        (59.6, "0:01:00"),
        (3725, "1:02:05"),
        (36000 * 3, "30:00:00"),
        (-1, "--"),
        (float("nan"), "--"),
        (float("inf"), "--"),
    ],
)
def test_format_eta(seconds: float | None, text: str) -> None:
    assert format_eta(seconds) == text


@pytest.mark.parametrize(
    ("done", "total", "pct"),
    [
        (0, 0, 0),
        (0, 100, 0),
        (50, 100, 50),
        (999, 1000, 99),
        (1000, 1000, 100),
        (1200, 1000, 100),
        (5, -1, 0),
    ],
)
def test_percent(done: int, total: int, pct: int) -> None:
    assert percent(done, total) == pct


def test_bar_text() -> None:
    assert bar_text(1, 4, 8, ASCII_GLYPHS) == ("##", "......")
    assert bar_text(0, 0, 4, ASCII_GLYPHS) == ("", "....")
    assert bar_text(9, 4, 4, ASCII_GLYPHS) == ("####", "")


def event(done: int, total: int, rate: float, eta: float | None, current: str = "") -> Progress:
    return Progress("copy", done, total, rate, eta, current)


def test_transfer_progress_at_80_columns() -> None:
    widget = TransferProgress(UTF8_GLYPHS)
    assert render(widget)[0].strip() == "Waiting for the copy to start"
    path = "/usr/share/locale/" + "de_DE" * 20 + "/LC_MESSAGES/libc.mo"
    widget.update(event(3 * GiB, 12 * GiB, 85 * MiB, 108.0), path)
    lines = render(widget)
    assert lines[0].strip() == "3.00 GiB of 12.0 GiB (25%)"
    bar = lines[1]
    assert len(bar) == 80 and bar.endswith(" 25%")
    assert bar.count("█") == 18 and bar.count("░") == 56
    assert lines[2].strip() == "Rate 85.0 MiB/s   ETA 0:01:48"
    assert len(lines[3]) == 80
    assert lines[3].startswith(" File /usr/share/locale/de_DE")
    assert lines[3].endswith("/LC_MESSAGES/libc.mo") and "…" in lines[3]


def test_transfer_progress_uses_the_event_file_and_ascii() -> None:
    widget = TransferProgress(ASCII_GLYPHS)
    widget.update(event(0, 10 * GiB, 0.0, None, "etc/passwd"))
    lines = render(widget)
    assert lines[2].strip() == "Rate --   ETA --"
    assert lines[3].strip() == "File etc/passwd"
    widget.update(event(10 * GiB, 10 * GiB, 1.0 * GiB, 0.0, "var/log/syslog"))
    lines = render(widget)
    assert lines[1].endswith(" 100%") and "." not in lines[1]
    assert is_ascii(lines)


STEPS = [("preflight", "Check the target"), ("partition", "Partition vda"), ("copy", "Copy files")]


def test_step_checklist_marks() -> None:
    checklist = StepChecklist(STEPS, UTF8_GLYPHS)
    assert [line.rstrip() for line in render(checklist)] == [
        " · Check the target",
        " · Partition vda",
        " · Copy files",
    ]
    checklist.start("preflight")
    assert render(checklist)[0].startswith(" ▶ Check the target")
    checklist.finish("preflight", ok=True)
    checklist.start("partition")
    checklist.finish("partition", ok=False, message="sfdisk: /dev/vda: device busy")
    checklist.finish("copy", ok=True, skipped=True)
    assert [line.rstrip() for line in render(checklist)] == [
        " ✓ Check the target",
        " ✗ Partition vda  sfdisk: /dev/vda: device busy",
        f" {UTF8_GLYPHS.skipped} Copy files",
    ]
    assert checklist.state("partition") == "failed"


def test_step_checklist_from_events_and_unknown_steps() -> None:
    checklist = StepChecklist(STEPS, ASCII_GLYPHS)
    checklist.handle(StepStarted("preflight", "Check the target (ssh)"))
    checklist.handle(StepFinished("preflight", ok=True))
    checklist.handle(StepStarted("bootloader", "Install GRUB"))
    lines = [line.rstrip() for line in render(checklist)]
    assert lines == [" + Check the target (ssh)", " . Partition vda", " . Copy files", " > Install GRUB"]
    assert is_ascii(lines)


def test_log_pane_keeps_the_last_lines_and_follows() -> None:
    pane = LogPane(max_lines=5)
    for i in range(8):
        pane.add(Log("info", f"line {i}"))
    pane.append("disk almost full", "warning")
    pane.append("rsync exited with 23", "error")
    assert pane.lines == [
        "line 5",
        "line 6",
        "line 7",
        "warning: disk almost full",
        "error: rsync exited with 23",
    ]
    assert [line.rstrip() for line in render(pane, rows=3)] == [
        "line 7",
        "warning: disk almost full",
        "error: rsync exited with 23",
    ]


def test_log_pane_stays_where_the_reader_scrolled() -> None:
    pane = LogPane(max_lines=100)
    for i in range(10):
        pane.append(f"line {i}")
    press(pane, "page up", size=(80, 3))
    shown = [line.rstrip() for line in render(pane, rows=3)]
    assert "line 9" not in shown
    pane.append("line 10")
    assert [line.rstrip() for line in render(pane, rows=3)] == shown
    press(pane, "end", size=(80, 3))
    pane.append("line 11")
    assert render(pane, rows=3)[-1].rstrip() == "line 11"
    press(pane, "home", size=(80, 3))
    assert render(pane, rows=3)[0].rstrip() == "line 0"


def test_log_pane_level_attributes() -> None:
    pane = LogPane()
    pane.append("x", "debug")
    pane.append("y", "error")
    rows = list(pane.render((80, 2), focus=False).content())
    assert [row[0][0] for row in rows] == ["log.debug", "log.error"]
