"""Drive widgets without a terminal: render to text, type keys."""

from __future__ import annotations

from typing import Any


def _size(widget: Any, cols: int, rows: int) -> tuple[int, ...]:
    """Flow when the widget can flow (a Pile of fields), else a box."""
    return (cols,) if "flow" in widget.sizing() else (cols, rows)


def render(widget: Any, cols: int = 80, rows: int = 24) -> list[str]:
    """The text of the canvas, one string per row (box widgets fill
    ``rows``; flow widgets take the rows they need)."""
    canvas = widget.render(_size(widget, cols, rows), focus=True)
    return [line.decode("utf-8") for line in canvas.text]


def screen(widget: Any, cols: int = 80, rows: int = 24) -> str:
    """The rendered text as one string, lines joined with newlines."""
    return "\n".join(render(widget, cols, rows))


def press(widget: Any, *keys: str, size: tuple[int, int] = (80, 24)) -> list[str]:
    """Type ``keys``; returns those no widget handled."""
    real = _size(widget, *size)
    unhandled = []
    for key in keys:
        rest = widget.keypress(real, key)
        if rest is not None:
            unhandled.append(rest)
    return unhandled


def is_ascii(lines: list[str]) -> bool:
    return all(ch.isascii() for line in lines for ch in line)
