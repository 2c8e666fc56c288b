from __future__ import annotations

from collections.abc import Callable

import urwid

from p2v_tui.tui.widgets.common import markup_text
from p2v_tui.tui.widgets.frame import WizardFrame, keys_markup, steps_markup
from p2v_tui.tui.widgets.theme import ASCII_GLYPHS, UTF8_GLYPHS, Glyphs

from .render import is_ascii, press, render, screen

STEPS = ["Welcome", "Target", "Source", "Layout", "Fixups", "Confirm", "Transfer", "Done"]
KEYS = [("Enter", "continue"), ("Esc", "back"), ("F1", "help")]


class Calls:
    def __init__(self) -> None:
        self.log: list[str] = []

    def __call__(self, name: str) -> Callable[[], None]:
        return lambda: self.log.append(name)


def make(
    title: str = "Target",
    glyphs: Glyphs = UTF8_GLYPHS,
    fields: int = 2,
    calls: Calls | None = None,
    current: int = 1,
) -> tuple[WizardFrame, list[urwid.Edit]]:
    edits = [urwid.Edit(f"Field {i}: ") for i in range(fields)]
    body = urwid.ListBox(urwid.SimpleFocusListWalker(edits or [urwid.Text("Nothing to choose here.")]))
    calls = calls or Calls()
    frame = WizardFrame(
        STEPS,
        current,
        title,
        body,
        KEYS,
        glyphs=glyphs,
        on_back=calls("back"),
        on_continue=calls("continue"),
        on_help=calls("help"),
    )
    return frame, edits


def test_layout_at_80x24() -> None:
    frame, _ = make()
    lines = render(frame)
    assert len(lines) == 24 and all(len(line) == 80 for line in lines)
    assert lines[0].split() == [
        "✓Welcome",
        "▶Target",
        "Source",
        "Layout",
        "Fixups",
        "Confirm",
        "Transfer",
        "Done",
    ]
    assert lines[1].strip() == "Target"
    assert lines[3].startswith("Field 0:")
    assert lines[21].startswith("[ Back ]") and lines[21].endswith("[ Continue ]")
    assert lines[23].strip() == "Enter continue  Esc back  F1 help"


def test_long_title_is_cut_never_wrapped_into_the_body() -> None:
    frame, _ = make(title="Connect to the target cluster node and check its host key fingerprint " * 3)
    lines = render(frame)
    assert lines[1].rstrip().endswith("…")
    assert lines[2] == "─" * 80
    assert lines[3].startswith("Field 0:")


def test_ascii_mode_draws_only_ascii() -> None:
    frame, _ = make(
        glyphs=ASCII_GLYPHS, title="A title that is much too long to fit on one line of the screen " * 2
    )
    frame.set_continue(False, "the data does not fit")
    frame.set_error("the target is 2.00 GiB too small")
    lines = render(frame)
    assert is_ascii(lines)
    assert lines[0].split()[:2] == ["+Welcome", ">Target"]
    assert lines[1].rstrip().endswith("...")


def test_steps_fall_back_to_numbers_then_to_one_name() -> None:
    full = steps_markup(STEPS, 3, ASCII_GLYPHS, 80)
    compact = steps_markup(STEPS, 3, ASCII_GLYPHS, 40)
    tiny = steps_markup(STEPS, 3, ASCII_GLYPHS, 20)
    assert "Welcome" in markup_text(full)
    assert markup_text(compact).split() == ["+1", "+2", "+3", ">4", "Layout", "5", "6", "7", "8"]
    assert markup_text(tiny) == " Step 4/8: Layout"


def test_key_hints_drop_what_does_not_fit() -> None:
    assert markup_text(keys_markup(KEYS, 80)) == " Enter continue  Esc back  F1 help"
    assert markup_text(keys_markup(KEYS, 26)) == " Enter continue  Esc back"


def test_tab_and_shift_tab_cycle_through_fields_and_buttons() -> None:
    frame, edits = make()
    press(frame, "a")
    assert edits[0].edit_text == "a"
    press(frame, "tab", "b")
    assert edits[1].edit_text == "b"
    # Past the last field: the buttons, Back then Continue, then around.
    press(frame, "tab", "tab", "tab", "c")
    assert edits[0].edit_text == "ac"
    press(frame, "shift tab", "shift tab", "shift tab", "d")
    assert edits[1].edit_text == "bd"


def test_tab_past_the_buttons_reaches_the_first_field_of_a_wrapped_list() -> None:
    """A screen whose list sits in a placeholder (Fixups: a diff can cover
    it): Tab from the last button goes round to the first field, not back
    to the field the list last had."""
    edits = [urwid.Edit(f"Field {i}: ") for i in range(3)]
    listbox = urwid.ListBox(urwid.SimpleFocusListWalker(edits))
    frame = WizardFrame(STEPS, 1, "Fixups", urwid.WidgetPlaceholder(listbox), KEYS, glyphs=UTF8_GLYPHS,
                        on_back=lambda: None, on_continue=lambda: None)  # fmt: skip
    press(frame, "tab", "tab", "z")  # the last field
    assert edits[2].edit_text == "z"
    press(frame, "tab", "tab", "tab", "a")  # Back, Continue, around
    assert edits[0].edit_text == "a"
    press(frame, "shift tab", "shift tab", "shift tab", "y")  # Continue, Back, around backwards
    assert edits[2].edit_text == "zy"


def test_keys_call_back_continue_and_help() -> None:
    calls = Calls()
    frame, _ = make(calls=calls)
    assert press(frame, "esc", "f1", "enter", "f9") == ["f9"]
    assert calls.log == ["back", "help", "continue"]
    # Enter on the focused Back button goes back (fields, Back, Continue).
    press(frame, "tab", "tab", "tab", "shift tab", "enter")
    assert calls.log[-1] == "back"
    # Enter in a field, with nothing else wanting it, continues.
    press(frame, "shift tab", "enter")
    assert calls.log[-1] == "continue"


def test_f2_continues_from_inside_a_field_only_when_allowed() -> None:
    calls = Calls()
    frame, edits = make(calls=calls)
    press(frame, "x", "f2")
    assert edits[0].edit_text == "x" and calls.log == ["continue"]
    frame.set_continue(False, "connect first")
    assert press(frame, "f2") == ["f2"]
    assert calls.log == ["continue"]


def test_disabled_continue_shows_why_and_does_nothing() -> None:
    calls = Calls()
    frame, _ = make(calls=calls)
    frame.set_continue(False, "the data does not fit")
    row = render(frame)[21]
    assert "✗ the data does not fit [ Continue ]" in row
    press(frame, "enter", "tab", "tab", "tab", "enter")
    assert calls.log == []
    frame.set_continue(True)
    assert "does not fit" not in screen(frame)
    press(frame, "enter")
    assert calls.log == ["continue"]


def test_body_without_fields_focuses_the_buttons() -> None:
    calls = Calls()
    frame, _ = make(fields=0, calls=calls)
    press(frame, "enter")
    assert calls.log == ["continue"]
    press(frame, "shift tab", "enter")
    assert calls.log == ["continue", "back"]


def test_error_and_status_line() -> None:
    frame, _ = make()
    frame.set_status("Connecting to 192.0.2.10:22")
    assert render(frame)[22].strip() == "Connecting to 192.0.2.10:22"
    message = (
        "Connection refused by 192.0.2.10 port 22: check that the bootstrap OS is running and sshd listens"
    )
    frame.set_error(message)
    lines = render(frame)
    assert len(lines) == 24
    text = " ".join(line.strip() for line in lines[-4:-1])
    assert "✗ Connection refused" in text and "sshd listens" in text
    assert frame.message.endswith("sshd listens")
    frame.set_error(None)
    assert "Connection refused" not in screen(frame)
    assert frame.message == ""


def test_first_screen_without_back() -> None:
    body = urwid.ListBox(urwid.SimpleFocusListWalker([urwid.Text("Welcome")]))
    frame = WizardFrame(STEPS, 0, "Welcome", body, KEYS, glyphs=UTF8_GLYPHS, back_label=None)
    row = render(frame)[21]
    assert "Back" not in row and row.endswith("[ Continue ]")
    assert press(frame, "esc") == ["esc"]


def test_title_and_keys_can_change() -> None:
    frame, _ = make()
    frame.set_title("Target: connected")
    frame.set_keys([("F2", "fingerprint")])
    lines = render(frame)
    assert lines[1].strip() == "Target: connected"
    assert lines[23].strip() == "F2 fingerprint"
