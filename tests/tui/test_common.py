from __future__ import annotations

import pytest

from p2v_tui.tui.widgets.common import FitLine, PlainButton, drop_empty, truncate_end, truncate_middle

from .render import render


@pytest.mark.parametrize(
    ("text", "width", "ellipsis", "expected"),
    [
        ("Target", 10, "...", "Target"),
        ("Target", 6, "...", "Target"),
        ("Target disk", 8, "...", "Targe..."),
        ("Target disk", 8, "…", "Target …"),
        ("Target", 2, "...", "Ta"),
        ("Target", 0, "...", ""),
    ],
)
def test_truncate_end(text: str, width: int, ellipsis: str, expected: str) -> None:
    assert truncate_end(text, width, ellipsis) == expected


@pytest.mark.parametrize(
    ("text", "width", "expected"),
    [
        ("/usr/bin/ls", 20, "/usr/bin/ls"),
        ("/usr/share/locale/de/LC_MESSAGES/libc.mo", 20, "/usr/sha...S/libc.mo"),
        ("abcdefghij", 7, "ab...ij"),
        ("abcdefghij", 3, "abc"),
        ("abcdefghij", -1, ""),
    ],
)
def test_truncate_middle(text: str, width: int, expected: str) -> None:
    out = truncate_middle(text, width, "...")
    assert out == expected
    assert len(out) <= max(0, width)


def test_fitline_shortens_for_the_width_it_gets() -> None:
    line = FitLine(lambda w: truncate_end("a long title that goes on", w, "..."))
    assert render(line, cols=12) == ["a long ti..."]
    assert render(line, cols=40) == ["a long title that goes on".ljust(40)]


def test_drop_empty_keeps_the_rest_of_the_line() -> None:
    line = FitLine(lambda w: [" ", ("a", ""), ("b", "...."), " 0%"])
    assert render(line, cols=10) == [" .... 0%  "]
    assert drop_empty([("a", "")]) == ""


def test_button_reads_as_a_button() -> None:
    button = PlainButton("Continue")
    assert render(button, cols=button.width) == ["[ Continue ]"]
