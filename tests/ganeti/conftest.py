"""What the RAPI tests of this package share, per test module: the
p2v-target OS definition installed as an admin does, and the lab's
ganeti-rapi with a write and a read-only user."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.bootstrap.artifacts import bootstrap_artifacts
from tests.lab.ganeti import GanetiLab
from tests.lab.ganeti_rapi import RapiLab, rapi_service
from tests.lab.p2v_target import install_osdef, uninstall_osdef


@pytest.fixture(scope="module")
def osdef(ganeti_lab: GanetiLab) -> Iterator[GanetiLab]:
    """p2v-target installed as the admin does (the create's dry run runs its verify)."""
    install_osdef(ganeti_lab, bootstrap_artifacts().directory)
    yield ganeti_lab
    uninstall_osdef(ganeti_lab)


@pytest.fixture(scope="module")
def rapi(ganeti_lab: GanetiLab, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RapiLab]:
    with rapi_service(ganeti_lab, tmp_path_factory.mktemp("rapi") / "service") as service:
        yield service
