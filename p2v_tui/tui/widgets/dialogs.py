"""Questions that must be answered on purpose before something is erased
or stopped.

The focus starts on the safe answer, Esc means the safe answer, and no
single key says yes: a stray Enter or a key held down on a serial console
cannot start a destructive step.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

import urwid

from .common import PlainButton, boxed, styled_button
from .fields import TextField
from .theme import Glyphs

Answer = Callable[[bool], None]

DIALOG_WIDTH = 60
"""Columns of a dialog: inside 80 with the frame visible around it."""


class ModalHost(Protocol):
    """What a dialog opens over (``WizardFrame`` is one)."""

    @property
    def glyphs(self) -> Glyphs: ...

    def open_modal(self, widget: Any, width: int, height: int | str) -> None: ...

    def close_modal(self) -> None: ...


def _button_row(buttons: list[PlainButton], focus: int) -> Any:
    cols = urwid.Columns(
        [("fixed", b.width, styled_button(b)) for b in buttons], dividechars=2, focus_column=focus
    )
    return urwid.Padding(cols, align="center", width=sum(b.width for b in buttons) + 2 * (len(buttons) - 1))


class _AnswerOnce:
    """A dialog's answer goes out once: a repeated Enter or a late click on
    the other button changes nothing."""

    def __init__(self, on_answer: Answer) -> None:
        self._on_answer = on_answer
        self._answered = False

    def answer(self, yes: bool) -> None:
        if not self._answered:
            self._answered = True
            self._on_answer(yes)


class ConfirmDialog(_AnswerOnce, urwid.WidgetWrap):  # type: ignore[misc]
    """A question with two buttons; the focus starts on ``no_label``."""

    def __init__(
        self,
        question: str,
        on_answer: Answer,
        glyphs: Glyphs,
        *,
        yes_label: str = "Yes",
        no_label: str = "No",
        title: str = "",
        danger: bool = False,
    ) -> None:
        _AnswerOnce.__init__(self, on_answer)
        yes = PlainButton(yes_label, lambda _b: self.answer(True))
        no = PlainButton(no_label, lambda _b: self.answer(False))
        row = _button_row([yes, no], focus=1)
        self._buttons = row.original_widget
        body = urwid.Pile([urwid.Text(question), urwid.Divider(), row])
        body.focus_position = 2
        attr = "dialog.danger" if danger else "dialog"
        urwid.WidgetWrap.__init__(
            self, urwid.AttrMap(boxed(urwid.Padding(body, left=1, right=1), glyphs, title), attr)
        )

    def keypress(self, size: tuple[int], key: str) -> str | None:
        if key == "esc":
            self.answer(False)
            return None
        if key in ("tab", "shift tab"):  # two buttons: either way is the other one
            self._buttons.focus_position = 1 - self._buttons.focus_position
            return None
        super().keypress(size, key)
        # A modal keeps every key: nothing behind it may react.
        return None


def ask(
    parent: ModalHost,
    question: str,
    yes_label: str = "Yes",
    no_label: str = "No",
    on_answer: Answer | None = None,
    *,
    title: str = "",
    danger: bool = False,
) -> ConfirmDialog:
    """Show ``question`` over ``parent``; close it and call ``on_answer``
    with True only when ``yes_label`` was pressed."""

    def answered(yes: bool) -> None:
        parent.close_modal()
        if on_answer is not None:
            on_answer(yes)

    dialog = ConfirmDialog(
        question, answered, parent.glyphs, yes_label=yes_label, no_label=no_label, title=title, danger=danger
    )
    parent.open_modal(dialog, DIALOG_WIDTH, "pack")
    return dialog


class TypedConfirm(urwid.WidgetWrap):  # type: ignore[misc]
    """ "Type vda to confirm": the person reads the name of what will be
    erased by typing it. ``on_change(confirmed)`` follows each keystroke."""

    def __init__(
        self,
        target_name: str,
        glyphs: Glyphs,
        *,
        prompt: str = "",
        on_change: Callable[[bool], None] | None = None,
    ) -> None:
        self.target_name = target_name
        self._on_change = on_change
        self._field = TextField(
            "Type to confirm",
            glyphs=glyphs,
            validate=self._mismatch,
            on_change=self._changed,
        )
        text = prompt or f"Type {target_name} to confirm."
        super().__init__(urwid.Pile([urwid.Text(text), self._field]))

    def _mismatch(self, text: str) -> str | None:
        """Complain only once the typing went wrong, not halfway through."""
        if self.target_name.startswith(text.strip()):
            return None
        return f"does not match {self.target_name}"

    @property
    def confirmed(self) -> bool:
        return self._field.text.strip() == self.target_name

    def _changed(self) -> None:
        if self._on_change is not None:
            self._on_change(self.confirmed)


class TypedConfirmDialog(_AnswerOnce, urwid.WidgetWrap):  # type: ignore[misc]
    """A modal ``TypedConfirm`` with Cancel and an action button that does
    nothing until the name was typed."""

    def __init__(
        self, question: str, target_name: str, action_label: str, on_answer: Answer, glyphs: Glyphs
    ) -> None:
        _AnswerOnce.__init__(self, on_answer)
        self.typed = TypedConfirm(target_name, glyphs, prompt=f"{question}\nType {target_name} to confirm.")
        action = PlainButton(action_label, lambda _b: self._act())
        cancel = PlainButton("Cancel", lambda _b: self.answer(False))
        self._body = urwid.Pile([self.typed, urwid.Divider(), _button_row([action, cancel], focus=1)])
        inner = urwid.Padding(self._body, left=1, right=1)
        urwid.WidgetWrap.__init__(self, urwid.AttrMap(boxed(inner, glyphs), "dialog.danger"))

    def _act(self) -> None:
        if self.typed.confirmed:
            self.answer(True)

    def keypress(self, size: tuple[int], key: str) -> str | None:
        if key == "esc":
            self.answer(False)
            return None
        if key in ("tab", "shift tab"):
            on_buttons = self._body.focus_position == 2
            buttons = self._body.contents[2][0].original_widget
            forward = key == "tab"
            if not on_buttons:
                self._body.focus_position = 2
                buttons.focus_position = 0 if forward else 1
            elif (buttons.focus_position == 1) == forward:
                self._body.focus_position = 0
            else:
                buttons.focus_position = 1 if forward else 0
            return None
        super().keypress(size, key)
        return None


def ask_typed(
    parent: ModalHost,
    question: str,
    target_name: str,
    action_label: str,
    on_answer: Answer | None = None,
) -> TypedConfirmDialog:
    """Like ``ask`` for destructive steps: yes needs ``target_name`` typed."""

    def answered(yes: bool) -> None:
        parent.close_modal()
        if on_answer is not None:
            on_answer(yes)

    dialog = TypedConfirmDialog(question, target_name, action_label, answered, parent.glyphs)
    parent.open_modal(dialog, DIALOG_WIDTH, "pack")
    return dialog
