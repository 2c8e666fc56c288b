"""urwid measures and encodes text by a global byte encoding it detects
from the locale; the tests pin it to UTF-8 so a C locale in CI renders the
same canvases (ASCII mode is checked on the decoded text)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import urwid


@pytest.fixture(autouse=True, scope="session")
def _utf8_canvases() -> Iterator[None]:
    urwid.set_encoding("utf-8")
    yield
