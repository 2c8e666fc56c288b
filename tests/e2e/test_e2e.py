"""End to end: the old server (tests/e2e/oldserver.py) and the LVM server
(tests/e2e/source_lvm.py) migrated by the live image into real Ganeti
instances that boot and work; the runs of ``make lab`` (tests/e2e/scenario.py).
Root, slow: TCG guests take about a quarter of an hour per migration on two
cores, so ``make test`` runs the headless one and the marker ``lab`` the
others, also the one where p2v creates the instance through RAPI."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from tests.e2e.lab import Clock, E2ELab, wizard
from tests.e2e.oldserver import OldServer, old_server
from tests.e2e.scenario import (
    HEADLESS_OWN,
    LVM_OWN,
    RAPI_OWN,
    WIZARD_CLUSTER,
    e2e_lab,
    lvm_server_source,
    old_server_source,
)
from tests.e2e.self_service import migrate_self_service
from tests.e2e.source_lvm import BuiltSource, lvm_source
from tests.lab.cache import CACHE
from tests.lab.disks import require
from tests.lab.ganeti import GanetiLab

pytestmark = [pytest.mark.root, pytest.mark.slow]


@pytest.fixture(scope="module")
def clock() -> Iterator[Clock]:
    clock = Clock()
    yield clock
    print("\nend-to-end phases:\n" + clock.table())
    (CACHE / "e2e-timings.json").write_text(json.dumps(clock.phases, indent=1) + "\n")


@pytest.fixture(scope="module")
def server(clock: Clock) -> OldServer:
    require("qemu-system-x86_64", "mmdebstrap", "patch")
    with clock.phase("old server disk (built and proof-booted, or cached)"):
        return old_server()


@pytest.fixture(scope="module")
def lvm_server(clock: Clock) -> BuiltSource:
    with clock.phase("LVM server disk (built in guests and proof-booted, or cached)"):
        return lvm_source()


@pytest.fixture(scope="module")
def e2e(
    ganeti_lab: GanetiLab, server: OldServer, clock: Clock, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[E2ELab]:
    with e2e_lab(ganeti_lab, server, tmp_path_factory.mktemp("e2e"), clock) as lab:
        yield lab


def test_old_server_headless_into_an_instance_booting_its_own_grub(e2e: E2ELab, server: OldServer) -> None:
    result = e2e.migrate(old_server_source(server), HEADLESS_OWN)
    print("\n" + "\n".join(result.checks))
    assert len(result.checks) == 5


@pytest.mark.lab
def test_old_server_through_the_wizard_on_the_serial_console_into_an_instance_booting_the_cluster_kernel(
    e2e: E2ELab, server: OldServer
) -> None:
    result = e2e.migrate(old_server_source(server), WIZARD_CLUSTER, wizard)
    print("\n" + "\n".join(result.checks))
    assert len(result.checks) == 5


@pytest.mark.lab
def test_lvm_server_headless_into_an_instance_booting_its_own_grub(
    e2e: E2ELab, lvm_server: BuiltSource
) -> None:
    result = e2e.migrate(lvm_server_source(lvm_server), LVM_OWN)
    print("\n" + "\n".join(result.checks))
    assert len(result.checks) == 5


@pytest.mark.lab
def test_old_server_headless_into_an_instance_p2v_creates_through_rapi(
    e2e: E2ELab, server: OldServer
) -> None:
    result = migrate_self_service(e2e, old_server_source(server), RAPI_OWN)
    print("\n" + "\n".join(result.checks))
    assert len(result.checks) == 8
