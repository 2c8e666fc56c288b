"""The widgets put together as the screens will: everything fits 80x24,
and ASCII mode draws nothing else."""

from __future__ import annotations

import pytest
import urwid
import urwid.raw_display

from p2v_tui.model.events import Progress
from p2v_tui.model.units import GiB, MiB
from p2v_tui.tui.widgets.diskbar import DiskBar
from p2v_tui.tui.widgets.fields import RadioGroup, SizeField
from p2v_tui.tui.widgets.frame import WizardFrame
from p2v_tui.tui.widgets.progress import LogPane, StepChecklist, TransferProgress
from p2v_tui.tui.widgets.theme import ASCII_GLYPHS, COLOR, MONO, UTF8_GLYPHS, Glyphs, Theme

from .render import is_ascii, press, render

STEPS = ["Welcome", "Target", "Source", "Layout", "Fixups", "Confirm", "Transfer", "Done"]


@pytest.mark.parametrize("theme", [COLOR, MONO])
def test_palettes_are_valid_for_urwid(theme: Theme) -> None:
    screen = urwid.raw_display.Screen()
    screen.set_terminal_properties(colors=theme.colors)
    screen.register_palette(list(theme.palette))
    for name, fg, bg, _mono in theme.palette:
        urwid.AttrSpec(fg, bg, colors=16)  # raises on a name urwid does not know
        assert name in screen._palette


def transfer_screen(glyphs: Glyphs) -> tuple[WizardFrame, TransferProgress, StepChecklist, LogPane]:
    progress = TransferProgress(glyphs)
    checklist = StepChecklist(
        [
            ("preflight", "Check the target"),
            ("partition", "Partition"),
            ("copy", "Copy"),
            ("fixups", "Fixups"),
        ],
        glyphs,
    )
    log = LogPane(200)
    body = urwid.Pile([("pack", checklist), ("pack", urwid.Divider()), ("pack", progress), log])
    wizard = WizardFrame(STEPS, 6, "Copying web1 to the target", body, [("Esc", "cancel")], glyphs=glyphs)
    return wizard, progress, checklist, log


@pytest.mark.parametrize("glyphs", [UTF8_GLYPHS, ASCII_GLYPHS])
def test_transfer_screen_at_80x24(glyphs: Glyphs) -> None:
    wizard, progress, checklist, log = transfer_screen(glyphs)
    checklist.start("preflight")
    checklist.finish("preflight", ok=True)
    checklist.start("copy")
    progress.update(Progress("copy", 2 * GiB, 8 * GiB, 50 * MiB, 123.0, "var/lib/dpkg/info/libc6.list"))
    for i in range(40):
        log.append(f"copied {i} files", "info")
    lines = render(wizard)
    assert len(lines) == 24 and all(len(line) == 80 for line in lines)
    text = "\n".join(lines)
    assert "2.00 GiB of 8.00 GiB (25%)" in text
    assert "ETA 0:02:03" in text
    assert "copied 39 files" in text  # the log follows its end
    assert lines[20].startswith(glyphs.hline * 10)
    if glyphs.ascii:
        assert is_ascii(lines)


def test_layout_screen_at_80x24_in_ascii() -> None:
    bar = DiskBar("vda", 20 * GiB, [("/", 12 * GiB, "filesystem"), ("swap", 1 * GiB, "swap")], ASCII_GLYPHS)
    size = SizeField("Size of /", 12 * GiB, glyphs=ASCII_GLYPHS, minimum=4 * GiB)
    swap = RadioGroup([("keep", "Keep swap"), ("drop", "No swap")], "keep")
    body = urwid.ListBox(urwid.SimpleFocusListWalker([bar, urwid.Divider(), size, swap]))

    def resized() -> None:
        new = size.size
        if new is None:
            wizard.set_continue(False, size.error or "")
            return
        bar.set_segments([("/", new, "filesystem"), ("swap", 1 * GiB, "swap")])
        fits = bar.overflow == 0
        wizard.set_continue(fits, "" if fits else "the data does not fit")

    urwid.connect_signal(size._edit, "postchange", lambda *_: resized())
    wizard = WizardFrame(
        STEPS, 3, "Layout of the target disk", body, [("Enter", "continue")], glyphs=ASCII_GLYPHS
    )
    press(wizard, *["backspace"] * 3, "2", "5", "G")
    lines = render(wizard)
    assert is_ascii(lines)
    assert "over by 6.00 GiB" in "\n".join(lines)
    assert "! the data does not fit [ Continue ]" in lines[21]
    press(wizard, "backspace", "backspace", "backspace", "1", "5", "G")
    lines = render(wizard)
    assert "(4.00 GiB free)" in "\n".join(lines)
    assert lines[21].rstrip().endswith("[ Continue ]") and "does not fit" not in lines[21]
