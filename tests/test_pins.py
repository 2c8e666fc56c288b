"""The tests run with exactly the library versions pyproject.toml pins
(Debian bookworm's, which the live image ships)."""

from __future__ import annotations

import tomllib
from importlib import metadata
from pathlib import Path

import pytest

PYPROJECT = Path(__file__).resolve().parent.parent / "pyproject.toml"
PINS = [d.split("==") for d in tomllib.loads(PYPROJECT.read_text())["project"]["dependencies"]]


@pytest.mark.parametrize(("name", "version"), PINS, ids=[p[0] for p in PINS])
def test_installed_version_is_the_pinned_one(name: str, version: str) -> None:
    assert metadata.version(name) == version
