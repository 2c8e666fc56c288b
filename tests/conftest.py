"""The session's Ganeti lab: one real single-node cluster shared by tests/ganeti
and tests/e2e (each removes the instances it adds)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.lab import ganeti


@pytest.fixture(scope="session")
def ganeti_lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ganeti.GanetiLab]:
    """A running one-node cluster (root only). Tests remove the instances they add."""
    reason = ganeti.missing_requirements()
    if reason:
        pytest.skip(reason)
    with ganeti.ganeti_lab(tmp_path_factory.mktemp("ganeti") / "lab") as lab:
        yield lab
