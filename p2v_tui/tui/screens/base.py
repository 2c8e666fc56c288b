"""What every wizard screen is, and what it may ask of the application.

A screen is thin: it builds widgets from the controller's data, calls the
controller when the person acts, and asks the :class:`Navigator` to move on.
It never touches system/ and never blocks: slow controller calls take a
callback, which the application runs on the urwid loop.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol

import urwid

from ..widgets.frame import WizardFrame
from ..widgets.theme import Glyphs

STEPS = ["Network", "Target", "Source", "Layout", "Fixups", "Confirm", "Transfer", "Done"]
"""The header's step list; a screen's ``index`` is its place here."""

NAV_KEYS = [("Tab", "move"), ("Enter", "select"), ("F2", "continue"), ("Esc", "back"), ("F10", "quit")]


class Navigator(Protocol):
    """The application, as a screen sees it."""

    @property
    def glyphs(self) -> Glyphs: ...

    def next(self) -> None:
        """Go to the following screen (the caller checked its choices)."""

    def back(self) -> None:
        """Go to the previous screen (choices made there are kept)."""

    def quit(self) -> None:
        """Leave the wizard (after asking, unless nothing was written)."""

    def redraw(self) -> None:
        """Draw now (after a change made outside a keypress, e.g. a timer)."""


class Screen(Protocol):
    index: int
    """Position in :data:`STEPS`."""
    frame: WizardFrame
    """The whole screen: header, body, buttons, messages."""

    def enter(self) -> None:
        """Called each time the screen is shown: refresh from the controller
        (a choice on an earlier screen may have changed what this one shows)."""


def list_frame(
    index: int,
    title: str,
    keys: Sequence[tuple[str, str]],
    nav: Navigator,
    on_continue: Callable[[], None],
) -> tuple[urwid.SimpleFocusListWalker, WizardFrame]:
    """A screen whose body is a scrolling list rebuilt from the controller's
    data (the walker), inside the wizard's frame."""
    walker = urwid.SimpleFocusListWalker([urwid.Text("")])
    frame = WizardFrame(
        STEPS,
        index,
        title,
        urwid.ListBox(walker),
        keys,
        glyphs=nav.glyphs,
        on_back=nav.back,
        on_continue=on_continue,
    )
    return walker, frame
