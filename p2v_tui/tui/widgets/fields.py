"""Labelled input fields that say what is wrong with what was typed, right
under it, while it is typed.

A validator takes the text and returns the error to show or None. Errors are
shown once a field has been edited (or ``check()`` is called, e.g. when the
person tries to continue), so an empty form does not start out red.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import urwid

from ...model.units import GiB, KiB, MiB, SizeError, TiB, format_size, parse_size
from .theme import Glyphs

Validator = Callable[[str], str | None]
ChangeCallback = Callable[[], None]

LABEL_WIDTH = 16


class _DigitsEdit(urwid.Edit):  # type: ignore[misc]
    """An Edit that takes digits only: a port cannot be mistyped as text."""

    def valid_char(self, ch: str) -> bool:
        return len(ch) == 1 and ch.isdigit()


class TextField(urwid.WidgetWrap):  # type: ignore[misc]
    """``label  [text        ]`` with the error line below when invalid."""

    def __init__(
        self,
        label: str,
        value: str = "",
        *,
        glyphs: Glyphs,
        validate: Validator | None = None,
        on_change: ChangeCallback | None = None,
        label_width: int = LABEL_WIDTH,
        mask: str | None = None,
        edit: Any = None,
    ) -> None:
        self.glyphs = glyphs
        self._validate = validate
        self._on_change = on_change
        self._touched = False
        self._error: str | None = None
        self._edit = edit if edit is not None else urwid.Edit("", value, mask=mask)
        if edit is not None:
            self._edit.set_edit_text(value)
        self._edit.set_edit_pos(len(value))  # typing appends, backspace erases
        self._label_width = label_width
        row = urwid.Columns(
            [
                ("fixed", label_width, urwid.Text(label, align="right", wrap="clip")),
                urwid.AttrMap(self._edit, "field", "field.focus"),
            ],
            dividechars=1,
        )
        self._error_text = urwid.Text("")
        self._pile = urwid.Pile([row])
        urwid.connect_signal(self._edit, "postchange", self._changed)
        super().__init__(self._pile)
        self._error = self._run_validator()

    @property
    def text(self) -> str:
        result: str = self._edit.edit_text
        return result

    def move_cursor_to_coords(self, size: tuple[int], col: object, row: int) -> bool:
        """Arriving in the field from above or below (a list moving its
        focus), the cursor goes to the end: typing adds to what is there
        instead of landing in front of it at the column the cursor came from."""
        self._edit.set_edit_pos(len(self.text))
        return True

    def set_text(self, text: str) -> None:
        self._edit.set_edit_text(text)
        self._edit.set_edit_pos(len(text))

    @property
    def error(self) -> str | None:
        """The current validation result, shown or not yet."""
        return self._error

    @property
    def valid(self) -> bool:
        return self._error is None

    def check(self) -> str | None:
        """Validate and show the result now (the person wants to move on)."""
        self._touched = True
        self._error = self._run_validator()
        self._show()
        return self._error

    def _run_validator(self) -> str | None:
        return self._validate(self.text) if self._validate is not None else None

    def _changed(self, _edit: Any, _old: str) -> None:
        self._touched = True
        self._error = self._run_validator()
        self._show()
        if self._on_change is not None:
            self._on_change()

    def _show(self) -> None:
        shown = self._touched and self._error is not None
        if shown:
            self._error_text.set_text(("field.error", f"{self.glyphs.cross} {self._error}"))
            line = urwid.Padding(self._error_text, left=self._label_width + 1)
            if len(self._pile.contents) == 1:
                self._pile.contents.append((line, self._pile.options()))
        elif len(self._pile.contents) == 2:
            del self._pile.contents[1]


def _port_error(text: str) -> str | None:
    if not text:
        return "a port number is needed"
    port = int(text)
    if not 1 <= port <= 65535:
        return "a port is between 1 and 65535"
    return None


class PortField(TextField):
    """A TCP port: digits only, 1-65535."""

    def __init__(
        self,
        label: str,
        value: int | None = 22,
        *,
        glyphs: Glyphs,
        on_change: ChangeCallback | None = None,
        label_width: int = LABEL_WIDTH,
    ) -> None:
        super().__init__(
            label,
            "" if value is None else str(value),
            glyphs=glyphs,
            validate=_port_error,
            on_change=on_change,
            label_width=label_width,
            edit=_DigitsEdit(""),
        )

    @property
    def port(self) -> int | None:
        return int(self.text) if self.valid else None


def size_text(n: int) -> str:
    """The shortest spelling ``parse_size`` reads back: ``20G``, ``512M``;
    sizes that are not whole units get one decimal (``19.5G``)."""
    for unit, factor in (("T", TiB), ("G", GiB), ("M", MiB), ("K", KiB)):
        if n >= factor:
            if n % factor == 0:
                return f"{n // factor}{unit}"
            return f"{n / factor:.1f}".rstrip("0").rstrip(".") + unit
    return str(n)


class SizeField(TextField):
    """A size typed as ``20G``, ``512M``, ``1.5T`` or bytes, with bounds.

    The initial value is kept exactly until the text is edited: showing
    ``19.5G`` must not round the size the planner chose.
    """

    def __init__(
        self,
        label: str,
        value: int | None = None,
        *,
        glyphs: Glyphs,
        minimum: int | None = None,
        maximum: int | None = None,
        validate: Callable[[int], str | None] | None = None,
        on_change: ChangeCallback | None = None,
        label_width: int = LABEL_WIDTH,
    ) -> None:
        self._initial = value
        self._initial_text = "" if value is None else size_text(value)
        self._minimum = minimum
        self._maximum = maximum
        self._check_size = validate
        super().__init__(
            label,
            self._initial_text,
            glyphs=glyphs,
            validate=self._size_error,
            on_change=on_change,
            label_width=label_width,
        )

    def _parse(self, text: str) -> int:
        if text == self._initial_text and self._initial is not None:
            return self._initial
        return parse_size(text)

    def _size_error(self, text: str) -> str | None:
        try:
            n = self._parse(text)
        except SizeError:
            return "type a size such as 20G, 512M or 1.5T"
        if self._minimum is not None and n < self._minimum:
            return f"at least {format_size(self._minimum)}"
        if self._maximum is not None and n > self._maximum:
            return f"at most {format_size(self._maximum)}"
        return self._check_size(n) if self._check_size is not None else None

    @property
    def size(self) -> int | None:
        return self._parse(self.text) if self.valid else None

    def set_size(self, n: int) -> None:
        self._initial = n
        self._initial_text = size_text(n)
        self.set_text(self._initial_text)


class CheckboxList(urwid.WidgetWrap):  # type: ignore[misc]
    """Several independent choices, e.g. which filesystems to migrate."""

    def __init__(
        self,
        items: Sequence[tuple[str, str, bool]],
        on_change: ChangeCallback | None = None,
    ) -> None:
        self._on_change = on_change
        self._boxes: dict[str, Any] = {}
        rows = []
        for key, label, checked in items:
            box = urwid.CheckBox(label, checked)
            urwid.connect_signal(box, "postchange", self._changed)
            self._boxes[key] = box
            rows.append(urwid.AttrMap(box, None, "field.focus"))
        super().__init__(urwid.Pile(rows))

    @property
    def selected(self) -> list[str]:
        return [key for key, box in self._boxes.items() if box.get_state()]

    def set_checked(self, key: str, checked: bool) -> None:
        self._boxes[key].set_state(checked)

    def _changed(self, _box: Any, _old: bool) -> None:
        if self._on_change is not None:
            self._on_change()


class RadioGroup(urwid.WidgetWrap):  # type: ignore[misc]
    """One choice among a few, e.g. the boot mode."""

    def __init__(
        self,
        options: Sequence[tuple[str, str]],
        selected: str,
        on_change: ChangeCallback | None = None,
    ) -> None:
        self._on_change = on_change
        self._value = selected
        self._group: list[Any] = []
        self._buttons: dict[str, Any] = {}
        rows = []
        for key, label in options:
            button = urwid.RadioButton(self._group, label, key == selected)
            self._buttons[key] = button
            rows.append(urwid.AttrMap(button, None, "field.focus"))
        for button in self._group:
            urwid.connect_signal(button, "postchange", self._changed)
        pile = urwid.Pile(rows)
        keys = list(self._buttons)
        if selected in keys:
            pile.focus_position = keys.index(selected)
        super().__init__(pile)

    @property
    def value(self) -> str:
        return self._value

    def set_value(self, key: str) -> None:
        self._buttons[key].set_state(True)

    def _changed(self, button: Any, _old: bool) -> None:
        # Every button of the group fires, the new one before the old one is
        # cleared: remember the new choice and report once.
        if not button.get_state():
            return
        self._value = next(k for k, b in self._buttons.items() if b is button)
        if self._on_change is not None:
            self._on_change()
