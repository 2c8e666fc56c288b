"""A unified diff to read before it is applied: coloured, scrollable with
the keys a serial console has, and honest about how much there is.

The diff's own ``+``/``-``/``@@`` markers are always kept, so a monochrome
terminal (where the palette only makes them bold or reversed) still shows
what is added and what is removed.
"""

from __future__ import annotations

from typing import Any

import urwid

from .common import FitLine, Markup, last_page_top, truncate_end
from .theme import Glyphs


def diff_attr(line: str) -> str:
    """Palette name for one line of a unified diff."""
    if line.startswith(("+++", "---")):
        return "diff.meta"
    if line.startswith("@@"):
        return "diff.hunk"
    if line.startswith("+"):
        return "diff.add"
    if line.startswith("-"):
        return "diff.del"
    return "body"


class DiffView(urwid.WidgetWrap):  # type: ignore[misc]
    """Title ``path (n/m)`` with the visible line range, then the diff.

    Keys: Up/Down, PgUp/PgDn, Home/End. Nothing here waits on anything: the
    diff is text the fixups already computed.
    """

    def __init__(
        self,
        diff_text: str,
        glyphs: Glyphs,
        *,
        path: str = "",
        index: int | None = None,
        count: int | None = None,
    ) -> None:
        self.glyphs = glyphs
        self._path = path
        self._index = index
        self._count = count
        self._lines = diff_text.splitlines()
        shown = self._lines or ["(no changes)"]
        self._texts = [urwid.Text((diff_attr(line), line.expandtabs(8)), wrap="any") for line in shown]
        self._listbox = urwid.ListBox(urwid.SimpleListWalker(self._texts))
        self._top = 0
        self._cols = 80
        self._body_rows = 0
        self._title = FitLine(self._title_markup)
        super().__init__(urwid.Frame(self._listbox, header=urwid.AttrMap(self._title, "title")))

    @property
    def line_count(self) -> int:
        return len(self._lines)

    @property
    def top_line(self) -> int:
        """Index of the first line on screen."""
        return self._top

    def _last_top(self, cols: int, rows: int) -> int:
        return last_page_top(self._texts, cols, rows)

    def _shown(self, cols: int, rows: int) -> int:
        """How many lines fit from the top line (wrapped lines take more)."""
        used = 0
        n = 0
        for text in self._texts[self._top :]:
            used += text.rows((cols,))
            if used > rows:
                break
            n += 1
        return max(1, n)

    def _title_markup(self, width: int) -> Markup:
        where = f" ({self._index}/{self._count})" if self._index is not None and self._count else ""
        first = self._top + 1
        last = min(self.line_count, self._top + self._shown(self._cols, self._body_rows))
        lines = f"  lines {first}-{last} of {self.line_count} " if self._lines else "  no changes "
        name = truncate_end(f" {self._path}{where}", max(0, width - len(lines)), self.glyphs.ellipsis)
        return [name, " " * max(0, width - len(name) - len(lines)), lines]

    def render(self, size: tuple[int, int], focus: bool = False) -> Any:
        cols, rows = size
        self._cols = cols
        self._body_rows = max(0, rows - 1)
        self._top = max(0, min(self._top, self._last_top(cols, self._body_rows)))
        self._listbox.set_focus(self._top)
        self._listbox.set_focus_valign("top")
        self._title.invalidate()
        return super().render(size, focus)

    def selectable(self) -> bool:
        return True

    def keypress(self, size: tuple[int, int], key: str) -> str | None:
        cols, rows = size
        body = max(1, rows - 1)
        page = max(1, body - 1)  # keep one line of context across pages
        moves = {
            "up": self._top - 1,
            "down": self._top + 1,
            "page up": self._top - page,
            "page down": self._top + page,
            "home": 0,
            "end": len(self._texts),
        }
        if key not in moves:
            return key
        self._top = max(0, min(moves[key], self._last_top(cols, body)))
        self._invalidate()
        return None
