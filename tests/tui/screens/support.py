"""What the screen tests share: a navigator that records, and the text
captures kept for the documentation."""

from __future__ import annotations

import os
from pathlib import Path

from p2v_tui.tui.widgets.theme import UTF8_GLYPHS, Glyphs

SCREENS = Path(__file__).resolve().parents[3] / "docs" / "screens"


def save_screen(name: str, lines: list[str]) -> None:
    """docs/screens/NAME.txt, only when asked (P2V_WRITE_SCREENS=1)."""
    if os.environ.get("P2V_WRITE_SCREENS") == "1":
        SCREENS.mkdir(parents=True, exist_ok=True)
        (SCREENS / f"{name}.txt").write_text("\n".join(line.rstrip() for line in lines) + "\n")


class FakeNav:
    """The application as a screen sees it; records what the screen asked."""

    def __init__(self, glyphs: Glyphs = UTF8_GLYPHS) -> None:
        self.glyphs = glyphs
        self.calls: list[str] = []
        """next, back, quit: where the screen sent the person."""
        self.redraws = 0

    def next(self) -> None:
        self.calls.append("next")

    def back(self) -> None:
        self.calls.append("back")

    def quit(self) -> None:
        self.calls.append("quit")

    def redraw(self) -> None:
        self.redraws += 1
