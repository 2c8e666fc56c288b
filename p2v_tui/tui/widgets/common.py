"""Small pieces every widget needs: fitting text to a width, buttons that
read as buttons on a serial console, boxes drawn with the chosen glyphs.

urwid ships untyped, so its classes are ``Any`` to mypy; subclassing them is
flagged by ``--strict`` (``disallow_subclassing_any``), hence the ignores on
the class lines.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import urwid

from .theme import Glyphs

Markup = Any
"""urwid text markup: a string, ``(attr, markup)`` or a list of those."""


def truncate_end(text: str, width: int, ellipsis: str) -> str:
    """``text`` cut to ``width`` columns, ending in ``ellipsis`` when cut.
    Titles and messages keep their start, which says what they are about."""
    if width <= 0:
        return ""
    if len(text) <= width:
        return text
    if width <= len(ellipsis):
        return text[:width]
    return text[: width - len(ellipsis)] + ellipsis


def truncate_middle(text: str, width: int, ellipsis: str) -> str:
    """``text`` cut in the middle: a path keeps its top directory and its
    file name, the two parts that tell where the copy is."""
    if width <= 0:
        return ""
    if len(text) <= width:
        return text
    if width <= len(ellipsis):
        return text[:width]
    room = width - len(ellipsis)
    head = room // 2
    tail = room - head
    return text[:head] + ellipsis + text[len(text) - tail :]


class FitLine(urwid.Widget):  # type: ignore[misc]
    """One line whose markup is computed for the width it gets, so long
    content is shortened on purpose instead of wrapping into what follows."""

    _sizing = frozenset(["flow"])

    def __init__(self, make: Callable[[int], Markup]) -> None:
        super().__init__()
        self._make = make

    def set_maker(self, make: Callable[[int], Markup]) -> None:
        self._make = make
        self._invalidate()

    def invalidate(self) -> None:
        """The maker's inputs changed; draw again."""
        self._invalidate()

    def rows(self, size: tuple[int], focus: bool = False) -> int:
        return 1

    def render(self, size: tuple[int], focus: bool = False) -> Any:
        (cols,) = size
        return urwid.Text(drop_empty(self._make(cols)), wrap="clip").render((cols,))


def drop_empty(markup: Markup) -> Markup:
    """``markup`` without empty ``(attr, "")`` parts: urwid 2.1.2 stops
    drawing a line at the first one."""
    if isinstance(markup, list):
        kept = [drop_empty(m) for m in markup]
        return [m for m in kept if m != "" and not (isinstance(m, tuple) and m[1] == "")] or ""
    if isinstance(markup, tuple) and isinstance(markup[1], list):
        return (markup[0], drop_empty(markup[1]))
    return markup


def last_page_top(texts: Sequence[Any], cols: int, rows: int) -> int:
    """Index of the first of ``texts`` on the page that ends with the last
    one: the furthest a viewer scrolls (wrapped lines take several rows)."""
    used = 0
    for i in range(len(texts) - 1, -1, -1):
        used += texts[i].rows((cols,))
        if used > rows:
            return i + 1
    return 0


def markup_text(markup: Markup) -> str:
    """The plain text of a markup, to measure it."""
    if isinstance(markup, str):
        return markup
    if isinstance(markup, tuple):
        return markup_text(markup[1])
    if isinstance(markup, list):
        return "".join(markup_text(m) for m in markup)
    return str(markup)


class PlainButton(urwid.Button):  # type: ignore[misc]
    """``[ Label ]``: reads as a button without colour, as in subiquity."""

    button_left = urwid.Text("[")
    button_right = urwid.Text("]")

    def __init__(self, label: str, on_press: Callable[[Any], None] | None = None) -> None:
        super().__init__(label, on_press)

    @property
    def width(self) -> int:
        """Columns the button needs, for a fixed-width place in a row
        (urwid puts one space between the brackets and the label)."""
        return len(self.label) + 4


def styled_button(button: PlainButton) -> Any:
    return urwid.AttrMap(button, "button", "button.focus")


def hline(glyphs: Glyphs) -> Any:
    return urwid.Divider(glyphs.hline)


def boxed(widget: Any, glyphs: Glyphs, title: str = "") -> Any:
    """A LineBox drawn with ``glyphs`` (urwid's default is always Unicode)."""
    return urwid.LineBox(
        widget,
        title=title,
        tlcorner=glyphs.tl,
        tline=glyphs.hline,
        lline=glyphs.vline,
        trcorner=glyphs.tr,
        blcorner=glyphs.bl,
        rline=glyphs.vline,
        bline=glyphs.hline,
        brcorner=glyphs.br,
    )
