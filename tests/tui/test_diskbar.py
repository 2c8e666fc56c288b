from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from p2v_tui.model.units import GiB, MiB
from p2v_tui.tui.widgets.diskbar import DiskBar, bar_cells, label_line
from p2v_tui.tui.widgets.theme import ASCII_GLYPHS, UTF8_GLYPHS

from .render import is_ascii, render


@pytest.mark.parametrize(
    ("sizes", "width", "cells"),
    [
        ([1, 1], 10, [5, 5]),
        ([1, 1, 1], 10, [4, 3, 3]),
        ([3, 1], 8, [6, 2]),
        ([1 * MiB, 2000 * GiB], 80, [1, 79]),
        ([10, 0, 10], 10, [5, 0, 5]),
        ([5, 0, 3], 1, [1, 0, 0]),
        ([1, 5, 3], 2, [0, 1, 1]),
        ([0, 0], 10, [0, 0]),
        ([], 10, []),
        ([7], 0, [0]),
    ],
)
def test_bar_cells(sizes: list[int], width: int, cells: list[int]) -> None:
    assert bar_cells(sizes, width) == cells


def test_bar_cells_rejects_negative_input() -> None:
    with pytest.raises(ValueError, match="negative"):
        bar_cells([1, -1], 10)
    with pytest.raises(ValueError, match="negative"):
        bar_cells([1], -1)


sizes_st = st.lists(st.integers(min_value=0, max_value=2**42), max_size=12)


@given(sizes_st, st.integers(min_value=0, max_value=200))
def test_bar_cells_fill_the_width(sizes: list[int], width: int) -> None:
    cells = bar_cells(sizes, width)
    assert len(cells) == len(sizes)
    assert sum(cells) == (width if sum(sizes) > 0 else 0)


@given(sizes_st, st.integers(min_value=0, max_value=200))
def test_every_partition_visible_when_width_allows(sizes: list[int], width: int) -> None:
    cells = bar_cells(sizes, width)
    nonzero = [c for s, c in zip(sizes, cells, strict=True) if s > 0]
    assert all(c == 0 for s, c in zip(sizes, cells, strict=True) if s == 0)
    if width >= len(nonzero):
        assert all(c >= 1 for c in nonzero)


@given(sizes_st, st.integers(min_value=0, max_value=200))
def test_larger_never_gets_fewer_cells(sizes: list[int], width: int) -> None:
    cells = bar_cells(sizes, width)
    for i, a in enumerate(sizes):
        for j, b in enumerate(sizes):
            if a < b:
                assert cells[i] <= cells[j]


@given(st.lists(st.integers(min_value=1, max_value=2**40), min_size=1, max_size=6), st.integers(10, 200))
def test_shares_stay_close_to_proportional(sizes: list[int], width: int) -> None:
    cells = bar_cells(sizes, width)
    total = sum(sizes)
    for s, c in zip(sizes, cells, strict=True):
        # The one-cell minimum and rounding move each share by at most a
        # cell per segment.
        assert abs(c - width * s / total) <= len(sizes)


def test_label_line() -> None:
    assert label_line([10, 5, 3], ["/ 20G", "swap x", "free"]) == "/ 20G     swap fr "
    assert label_line([1, 2], ["boot", "/"]) == " / "


LAYOUT = [
    ("bios", 1 * MiB, "bios_grub"),
    ("/", 20 * GiB, "filesystem"),
    ("/var", 8 * GiB, "filesystem"),
    ("swap", 2 * GiB, "swap"),
]


def test_disk_bar_at_80_columns() -> None:
    lines = render(DiskBar("vda", 40 * GiB, LAYOUT, UTF8_GLYPHS))
    assert lines[0].rstrip() == "vda  40.0 GiB  (10.0 GiB free)"
    bar = lines[1]
    assert len(bar) == 80
    assert bar[0] == "▚"  # the 1 MiB bios_grub partition keeps a cell
    assert bar.count("█") == 38 and bar.count("▓") == 16
    assert bar.count("▒") == 5 and bar.count("░") == 20
    assert lines[2].split() == ["/", "20.0", "GiB", "/var", "8.00", "GiB", "swap", "free", "10.0", "GiB"]
    assert lines[2].index("/var") == bar.index("▓")


def test_disk_bar_ascii() -> None:
    lines = render(DiskBar("vda", 40 * GiB, LAYOUT, ASCII_GLYPHS))
    assert is_ascii(lines)
    assert lines[1].startswith("+###") and "#=" in lines[1] and "=%" in lines[1] and lines[1].endswith(".")


def test_disk_bar_says_when_the_data_does_not_fit() -> None:
    bar = DiskBar("vdb", 10 * GiB, [("/home", 12 * GiB, "filesystem")], ASCII_GLYPHS)
    assert bar.overflow == 2 * GiB
    lines = render(bar)
    assert lines[0].rstrip() == "vdb  10.0 GiB  over by 2.00 GiB"
    assert lines[1] == "#" * 80
    bar.set_segments([("/home", 6 * GiB, "filesystem")])
    lines = render(bar)
    assert lines[0].rstrip() == "vdb  10.0 GiB  (4.00 GiB free)"
    assert lines[1] == "#" * 48 + "." * 32


def test_disk_bar_narrower_than_the_screen() -> None:
    lines = render(DiskBar("vda", 4 * GiB, [("/", 2 * GiB, "filesystem")], ASCII_GLYPHS, width=40))
    assert lines[1].rstrip() == "#" * 20 + "." * 20
