"""The frame every wizard screen sits in: where am I (steps, title), what
can I do (buttons, key hints), what went wrong (error/status line).

Screens give only their body; the frame keeps the same rows in the same
places on every screen, so a person on a serial console always knows where
to look. It fits 80x24 whatever the title: header and footer lines are cut,
never wrapped into the body.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import urwid

from .common import FitLine, Markup, PlainButton, hline, markup_text, styled_button, truncate_end
from .theme import Glyphs

Callback = Callable[[], None]


def steps_markup(steps: Sequence[str], current: int, glyphs: Glyphs, width: int) -> Markup:
    """The step list for ``width`` columns: every name when it fits, else
    numbers with the current name, else "Step n/m: name"; done steps carry
    the check mark, the current one the arrow (readable without colour)."""
    full: list[Markup] = [" "]
    compact: list[Markup] = [" "]
    for i, name in enumerate(steps):
        if i < current:
            full += [("step.done", f"{glyphs.check}{name}"), "  "]
            compact += [("step.done", f"{glyphs.check}{i + 1}"), " "]
        elif i == current:
            full += [("step.current", f"{glyphs.arrow}{name}"), "  "]
            compact += [("step.current", f"{glyphs.arrow}{i + 1} {name}"), " "]
        else:
            full += [("step.todo", f" {name}"), "  "]
            compact += [("step.todo", f" {i + 1}"), " "]
    for markup in (full, compact):
        if len(markup_text(markup).rstrip()) <= width:
            return markup
    name = steps[current] if 0 <= current < len(steps) else ""
    return ("step.current", truncate_end(f" Step {current + 1}/{len(steps)}: {name}", width, glyphs.ellipsis))


def keys_markup(keys: Sequence[tuple[str, str]], width: int) -> Markup:
    """Key hints, dropping the last ones when they do not fit: a cut hint
    would tell the wrong key."""
    out: list[Markup] = []
    used = 0
    for key, what in keys:
        item_len = len(key) + 1 + len(what) + 2
        if used + item_len - 2 > width - 1:
            break
        out += [" " if not out else "  ", ("key", key), f" {what}"]
        used += item_len
    return out or ""


def inner_list(body: Any) -> Any:
    """The widget a screen's body shows, through placeholders and
    decorations that wrap it (a screen that swaps a diff over its list)."""
    while isinstance(body, (urwid.WidgetPlaceholder, urwid.WidgetDecoration)):
        body = body.original_widget
    return body


def body_has_fields(body: Any) -> bool:
    """Whether anything in ``body`` takes focus: a ListBox says it is
    selectable even when it only holds text."""
    body = inner_list(body)
    if isinstance(body, urwid.ListBox):
        try:
            return any(w.selectable() for w in body.body)
        except TypeError:  # a walker that cannot be iterated
            return bool(body.selectable())
    return bool(body.selectable())


class WizardFrame(urwid.WidgetWrap):  # type: ignore[misc]
    """Header (steps, title), body, buttons (Back, Continue), status/error
    line and key hints. Tab/Shift-Tab cycle focus; Esc goes back; F1 asks
    for help; Enter that nothing else wants continues (when allowed).

    ``open_modal``/``close_modal`` put a dialog over the whole frame (see
    ``dialogs.ask``); while it is open it receives every key.
    """

    def __init__(
        self,
        steps: Sequence[str],
        current: int,
        title: str,
        body: Any,
        keys: Sequence[tuple[str, str]],
        *,
        glyphs: Glyphs,
        on_back: Callback | None = None,
        on_continue: Callback | None = None,
        on_help: Callback | None = None,
        back_label: str | None = "Back",
        continue_label: str = "Continue",
    ) -> None:
        self.glyphs = glyphs
        self._steps = list(steps)
        self._current = current
        self._title = title
        self._keys = list(keys)
        self._on_back = on_back
        self._on_continue = on_continue
        self._on_help = on_help
        self._message: Markup = ""

        self._steps_line = FitLine(lambda w: steps_markup(self._steps, self._current, glyphs, w))
        self._title_line = FitLine(lambda w: ("title", truncate_end(f" {self._title}", w, glyphs.ellipsis)))
        header = urwid.AttrMap(
            urwid.Pile([urwid.AttrMap(self._steps_line, "header"), self._title_line, hline(glyphs)]),
            "body",
        )

        self._back = PlainButton(back_label, lambda _b: self._back_pressed()) if back_label else None
        self._continue = PlainButton(continue_label, lambda _b: self._continue_pressed())
        self._continue_enabled = True
        self._reason = urwid.Text("", align="right", wrap="clip")
        self._button_cols = urwid.Columns([], dividechars=1)
        self._build_buttons()

        self._body = body if "box" in body.sizing() else urwid.Filler(body, valign="top")
        self._inner = urwid.Pile(
            [("weight", 1, self._body), ("pack", hline(glyphs)), ("pack", self._button_cols)]
        )
        if not body_has_fields(self._body):
            self._inner.focus_position = 2

        self._status = urwid.Text("")
        self._keys_line = FitLine(lambda w: keys_markup(self._keys, w))
        footer = urwid.Pile([self._status, urwid.AttrMap(self._keys_line, "footer")])
        self._frame = urwid.Frame(self._inner, header=header, footer=footer)
        super().__init__(self._frame)

    # -- what screens change -------------------------------------------------

    @property
    def body(self) -> Any:
        return self._body

    def set_title(self, title: str) -> None:
        self._title = title
        self._title_line.invalidate()

    def set_keys(self, keys: Sequence[tuple[str, str]]) -> None:
        self._keys = list(keys)
        self._keys_line.invalidate()

    def set_error(self, text: str | None) -> None:
        """Show what went wrong (wrapped, so all of it is readable); None or
        "" clears it."""
        self._message = ("error", f"{self.glyphs.cross} {text}") if text else ""
        self._status.set_text(self._message)

    def set_status(self, text: str | None) -> None:
        self._message = ("status", text) if text else ""
        self._status.set_text(self._message)

    @property
    def message(self) -> str:
        return markup_text(self._message)

    def set_back_label(self, label: str) -> None:
        """Name the Back button after what it does now (it keeps its callback)."""
        if self._back is not None:
            self._back.set_label(label)
            self._build_buttons()

    def set_continue(self, enabled: bool, reason: str = "") -> None:
        """Allow or forbid continuing; the reason is shown beside the
        button so nobody wonders why it does nothing."""
        was_focused = self._inner.focus_position == 2
        self._continue_enabled = enabled
        self._reason.set_text(("reason", f"{self.glyphs.cross} {reason}") if reason and not enabled else "")
        self._build_buttons()
        if was_focused and not self._button_cols.selectable() and body_has_fields(self._body):
            self._inner.focus_position = 0

    @property
    def continue_enabled(self) -> bool:
        return self._continue_enabled

    def focus_buttons(self) -> None:
        self._inner.focus_position = 2

    def focus_back(self) -> None:
        """Focus the Back button (where it does what comes next, e.g. Retry)."""
        if self._back is not None:
            self._focus_button(first=True)

    def focus_body(self) -> None:
        if body_has_fields(self._body):
            self._inner.focus_position = 0

    def open_modal(self, widget: Any, width: int, height: int | str) -> None:
        self._w = urwid.Overlay(
            widget, self._frame, "center", ("relative", 100) if width <= 0 else width, "middle", height
        )

    def close_modal(self) -> None:
        self._w = self._frame

    @property
    def modal_open(self) -> bool:
        return self._w is not self._frame

    # -- internals -----------------------------------------------------------

    def _build_buttons(self) -> None:
        items: list[tuple[Any, ...]] = []
        if self._back is not None:
            items.append(("given", self._back.width, styled_button(self._back)))
        items.append(("weight", 1, self._reason))
        if self._continue_enabled:
            cont: Any = styled_button(self._continue)
        else:
            cont = urwid.AttrMap(urwid.Text(f"[ {self._continue.label} ]"), "button.disabled")
        items.append(("given", self._continue.width, cont))
        opts = self._button_cols.options
        self._button_cols.contents = [(w, opts(kind, n)) for kind, n, w in items]
        # Continue when it can be pressed, else Back.
        selectable = self._selectable_buttons()
        if selectable:
            self._button_cols.focus_position = selectable[-1]

    def _back_pressed(self) -> None:
        if self._on_back is not None:
            self._on_back()

    def _continue_pressed(self) -> None:
        if self._continue_enabled and self._on_continue is not None:
            self._on_continue()

    def _selectable_buttons(self) -> list[int]:
        return [i for i, (w, _o) in enumerate(self._button_cols.contents) if w.selectable()]

    def _focus_button(self, first: bool) -> bool:
        buttons = self._selectable_buttons()
        if not buttons:
            return False
        self._inner.focus_position = 2
        self._button_cols.focus_position = buttons[0] if first else buttons[-1]
        return True

    def _focus_body_edge(self, first: bool) -> bool:
        """Focus the first (or last) field of the body, if it has one."""
        if not body_has_fields(self._body):
            return False
        self._inner.focus_position = 0
        shown = inner_list(self._body)
        if isinstance(shown, urwid.ListBox):
            positions = [i for i, w in enumerate(shown.body) if w.selectable()]
            shown.set_focus(positions[0] if first else positions[-1])
        return True

    def _cycle(self, size: tuple[int, int], forward: bool) -> None:
        """Tab order: the body's fields, Back, Continue, and around."""
        if self._inner.focus_position == 2:
            buttons = self._selectable_buttons()
            i = buttons.index(self._button_cols.focus_position) + (1 if forward else -1)
            if 0 <= i < len(buttons):
                self._button_cols.focus_position = buttons[i]
            elif not self._focus_body_edge(first=forward):
                self._focus_button(first=forward)
            return
        rest = self._frame.keypress(size, "down" if forward else "up")
        if rest is None and self._inner.focus_position == 0:
            return  # moved inside the body
        if not self._focus_button(first=forward):
            self._focus_body_edge(first=forward)

    def keypress(self, size: tuple[int, int], key: str) -> str | None:
        if self.modal_open:
            result: str | None = self._w.keypress(size, key)
            return result
        if key in ("tab", "shift tab"):
            self._cycle(size, key == "tab")
            return None
        rest: str | None = self._frame.keypress(size, key)
        if rest is None:
            return None
        if rest == "esc" and self._back is not None:
            self._back_pressed()
            return None
        if rest == "f1" and self._on_help is not None:
            self._on_help()
            return None
        # Enter nothing else wants, or F2 from anywhere (a field, a list)
        if rest in ("enter", "f2") and self._continue_enabled and self._on_continue is not None:
            self._on_continue()
            return None
        return rest
