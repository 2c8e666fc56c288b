"""Screens are thin: they get a controller and plain data, never system/."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import p2v_tui.tui.screens

SCREENS = sorted(Path(p2v_tui.tui.screens.__file__).parent.glob("*.py"))


def imported(path: Path) -> set[str]:
    """Every module ``path`` imports, relative imports resolved."""
    package = "p2v_tui.tui.screens"
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = package.split(".")[: len(package.split(".")) - node.level + 1] if node.level else []
            names.add(".".join([*base, *(node.module.split(".") if node.module else [])]))
    return names


@pytest.mark.parametrize("path", SCREENS, ids=lambda p: p.name)
def test_a_screen_does_not_import_system(path: Path) -> None:
    reaching = sorted(n for n in imported(path) if n == "p2v_tui.system" or n.startswith("p2v_tui.system."))
    assert reaching == [], f"{path.name} imports {reaching}"
