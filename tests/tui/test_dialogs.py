from __future__ import annotations

import urwid

from p2v_tui.tui.widgets.dialogs import TypedConfirm, ask, ask_typed
from p2v_tui.tui.widgets.frame import WizardFrame
from p2v_tui.tui.widgets.theme import ASCII_GLYPHS, UTF8_GLYPHS, Glyphs

from .render import is_ascii, press, render, screen

STEPS = ["Welcome", "Target", "Source", "Layout", "Fixups", "Confirm", "Transfer", "Done"]


def frame(glyphs: Glyphs = UTF8_GLYPHS) -> tuple[WizardFrame, list[str]]:
    calls: list[str] = []
    body = urwid.ListBox(urwid.SimpleFocusListWalker([urwid.Text("vda (20.0 GiB) will be erased.")]))
    wizard = WizardFrame(
        STEPS,
        6,
        "Transfer",
        body,
        [("Esc", "cancel")],
        glyphs=glyphs,
        on_back=lambda: calls.append("back"),
        on_continue=lambda: calls.append("continue"),
    )
    return wizard, calls


def test_confirm_dialog_over_the_frame() -> None:
    wizard, calls = frame()
    answers: list[bool] = []
    ask(wizard, "Stop the copy? The target stays resumable.", "Stop", "Keep copying", answers.append)
    lines = render(wizard)
    assert len(lines) == 24
    text = screen(wizard)
    assert "│ Stop the copy? The target stays resumable." in text
    assert "[ Stop ]  [ Keep copying ]" in text
    assert lines[0].split()[0] == "✓Welcome"  # the frame stays visible around it
    # The focus starts on the safe answer; a stray Enter keeps copying.
    press(wizard, "enter")
    assert answers == [False]
    assert not wizard.modal_open
    assert "Stop the copy" not in screen(wizard)
    assert calls == []  # the frame behind saw nothing


def test_yes_needs_a_deliberate_move() -> None:
    wizard, calls = frame()
    answers: list[bool] = []
    ask(wizard, "Stop the copy?", "Stop", "Keep copying", answers.append)
    # Keys the frame would act on go to the dialog only.
    press(wizard, "f1", "y", "x")
    assert answers == [] and calls == [] and wizard.modal_open
    press(wizard, "left", "enter")
    assert answers == [True]
    assert not wizard.modal_open


def test_esc_means_no_and_tab_moves_between_buttons() -> None:
    wizard, _ = frame()
    answers: list[bool] = []
    ask(wizard, "Stop?", on_answer=answers.append)
    press(wizard, "esc")
    assert answers == [False]
    ask(wizard, "Stop?", on_answer=answers.append)
    press(wizard, "tab", "enter")
    assert answers == [False, True]


def test_dialog_in_ascii() -> None:
    wizard, _ = frame(ASCII_GLYPHS)
    ask(wizard, "Erase vda?", "Erase", "Cancel", danger=True, title="Confirm")
    lines = render(wizard)
    assert is_ascii(lines)
    assert any(line.strip().startswith("+") and "Confirm" in line for line in lines)


def test_typed_confirm_field() -> None:
    states: list[bool] = []
    typed = TypedConfirm("vda", UTF8_GLYPHS, on_change=states.append)
    assert render(typed)[0].strip() == "Type vda to confirm."
    press(typed, "v", "d")
    assert not typed.confirmed
    assert len(render(typed)) == 2  # a correct start is not an error
    press(typed, "b")
    assert "✗ does not match vda" in render(typed)[2]
    press(typed, "backspace", "a")
    assert typed.confirmed
    assert states == [False, False, False, False, True]


def test_typed_confirmation_dialog() -> None:
    wizard, _ = frame()
    answers: list[bool] = []
    ask_typed(wizard, "Erase disk vda of instance web1?", "vda", "Erase", answers.append)
    text = screen(wizard)
    assert "Erase disk vda of instance web1?" in text and "Type vda to confirm." in text
    # The action does nothing until the name is typed.
    press(wizard, "tab", "enter")
    assert answers == [] and wizard.modal_open
    press(wizard, "shift tab", *"vda", "tab", "enter")
    assert answers == [True]
    assert not wizard.modal_open


def test_typed_confirmation_cancel() -> None:
    wizard, _ = frame()
    answers: list[bool] = []
    ask_typed(wizard, "Erase vda?", "vda", "Erase", answers.append)
    press(wizard, *"vda", "tab", "tab", "enter")
    assert answers == [False]
    ask_typed(wizard, "Erase vda?", "vda", "Erase", answers.append)
    press(wizard, *"vda", "esc")
    assert answers == [False, False]
