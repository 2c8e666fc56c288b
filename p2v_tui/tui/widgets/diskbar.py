"""A disk drawn as one line: each partition a share proportional to its
size, so a person sees at a glance where the space goes and what is free.

The layout (``bar_cells``) is a pure function with property tests; the
widget only draws its result.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import urwid

from ...model.units import format_size
from .common import Markup
from .theme import Glyphs

Segment = tuple[str, int, str]
"""(label, bytes, kind); kind is a PlannedPartition role (``filesystem``,
``swap``, ``bios_grub``, ``esp``) or ``free``."""


def bar_cells(sizes: Sequence[int], width: int) -> list[int]:
    """Split ``width`` cells among ``sizes``.

    1. Zero sizes get no cell.
    2. If there are fewer cells than nonzero sizes, the largest sizes get one
       cell each (earlier first among equals): a tiny partition may vanish,
       the width never overflows.
    3. Otherwise every nonzero size gets one cell, so a 1 MiB bios_grub
       partition stays visible next to a 2 TiB one, and the cells left are
       shared in proportion to size by largest remainder, larger sizes first
       among equal remainders.

    The cells sum to ``width`` whenever some size is nonzero, and a larger
    size never gets fewer cells than a smaller one.
    """
    if width < 0 or any(s < 0 for s in sizes):
        raise ValueError("sizes and width must not be negative")
    total = sum(sizes)
    cells = [0] * len(sizes)
    if total == 0 or width == 0:
        return cells
    nonzero = [i for i, s in enumerate(sizes) if s > 0]
    by_size = sorted(nonzero, key=lambda i: (-sizes[i], i))
    if width < len(nonzero):
        for i in by_size[:width]:
            cells[i] = 1
        return cells
    rest = width - len(nonzero)
    remainders = []
    for i in nonzero:
        share, remainder = divmod(rest * sizes[i], total)
        cells[i] = 1 + share
        remainders.append((remainder, sizes[i], -i))
    left = width - sum(cells)
    for _r, _s, neg_i in sorted(remainders, reverse=True)[:left]:
        cells[-neg_i] += 1
    return cells


def label_line(cells: Sequence[int], labels: Sequence[str]) -> str:
    """Labels under their segments, each cut to leave one blank column
    before the next; a segment too narrow for any of its label stays blank."""
    out = []
    for n, label in zip(cells, labels, strict=True):
        room = max(0, n - 1)
        out.append(label[:room].ljust(n))
    return "".join(out)


class DiskBar(urwid.WidgetWrap):  # type: ignore[misc]
    """``vda  20.0 GiB  (3.5 GiB free)`` over the bar and its labels.

    Segments that do not fit the disk are drawn over the whole bar in the
    ``bar.over`` attribute and the header says by how much: the layout
    screen keeps showing the plan while it is wrong.
    """

    def __init__(
        self,
        disk_name: str,
        size: int,
        segments: Sequence[Segment],
        glyphs: Glyphs,
        width: int | None = None,
    ) -> None:
        self.glyphs = glyphs
        self._name = disk_name
        self._size = size
        self._width = width
        self._segments: list[Segment] = []
        self._header = urwid.Text("", wrap="clip")
        self._bar = urwid.Text("", wrap="clip")
        self._labels = urwid.Text("", wrap="clip")
        self._cols = 0
        self.set_segments(segments)
        super().__init__(urwid.Pile([self._header, self._bar, self._labels]))

    def set_segments(self, segments: Sequence[Segment]) -> None:
        self._segments = list(segments)
        self._cols = 0  # relayout at the next render

    @property
    def used(self) -> int:
        return sum(s for _l, s, kind in self._segments if kind != "free")

    @property
    def overflow(self) -> int:
        return max(0, self.used - self._size)

    def _all_segments(self) -> list[Segment]:
        segments = [s for s in self._segments if s[2] != "free"]
        free = self._size - self.used
        if free > 0:
            segments.append(("free", free, "free"))
        return segments

    def _fill(self, kind: str, alternate: bool) -> tuple[str, str]:
        g = self.glyphs
        if self.overflow:
            return "bar.over", g.bar_fill_alt if alternate else g.bar_fill
        if kind == "free":
            return "bar.free", g.bar_empty
        if kind == "swap":
            return "bar.swap", g.bar_swap
        if kind in ("bios_grub", "esp"):
            return "bar.other", g.bar_other
        # Neighbouring filesystems alternate so their border shows in mono.
        return ("bar.fs2", g.bar_fill_alt) if alternate else ("bar.fs", g.bar_fill)

    def _layout(self, cols: int) -> None:
        width = min(cols, self._width) if self._width else cols
        segments = self._all_segments()
        cells = bar_cells([s for _l, s, _k in segments], width)
        bar: list[Markup] = []
        labels = []
        alternate = False
        for (label, size, kind), n in zip(segments, cells, strict=True):
            attr, ch = self._fill(kind, alternate)
            if kind not in ("free", "swap", "bios_grub", "esp"):
                alternate = not alternate
            if n:
                bar.append((attr, ch * n))
            with_size = f"{label} {format_size(size)}"
            labels.append(with_size if len(with_size) < n else label)
        self._bar.set_text(bar or "")
        self._labels.set_text(label_line(cells, labels))
        head = f"{self._name}  {format_size(self._size)}"
        if self.overflow:
            header: Markup = [head, "  ", ("bar.over", f"over by {format_size(self.overflow)}")]
        else:
            header = f"{head}  ({format_size(max(0, self._size - self.used))} free)"
        self._header.set_text(header)
        self._cols = cols

    def render(self, size: tuple[int], focus: bool = False) -> Any:
        if size[0] != self._cols:
            self._layout(size[0])
        return super().render(size, focus)

    def rows(self, size: tuple[int], focus: bool = False) -> int:
        return 3
