"""The lab's runs, shared by ``make lab`` (``python -m tests.e2e``) and the
test tier (tests/e2e/test_e2e.py): which sources migrate into which
instances, and how the pieces are brought up."""

from __future__ import annotations

import contextlib
import json
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from tests.bootstrap.artifacts import bootstrap_artifacts
from tests.e2e.lab import NODE_KERNELS, Clock, E2ELab, Migration, SourceMachine, deployment_network
from tests.e2e.oldserver import OldServer
from tests.e2e.source_lvm import BuiltSource
from tests.lab.ganeti import GanetiLab
from tests.lab.p2v_target import install_osdef, uninstall_osdef
from tests.livecd.artifacts import LiveImage, live_image

DOMAIN = "gntlab.test"
HEADLESS_OWN = Migration("headless-own-grub", f"web01.{DOMAIN}", 21, "2560M", boot="own")
"""The old server, headless from the stick, booting its own GRUB (4 GiB source, 2.5 GiB instance)."""
WIZARD_CLUSTER = Migration("wizard-cluster-kernel", f"web02.{DOMAIN}", 22, "2560M", boot="cluster")
"""The old server through the wizard on the serial console, booting the cluster's kernel."""
LVM_OWN = Migration("lvm-headless-own-grub", f"db01.{DOMAIN}", 23, "2560M", boot="own")
"""The LVM database server (GPT + bios_grub, xfs root on LVM, 3 GiB), headless, its own GRUB."""
RAPI_OWN = Migration("rapi-headless-own", f"web03.{DOMAIN}", 24, "", boot="own")
"""The old server, headless, into an instance p2v creates through RAPI
(tests/e2e/self_service.py): the lab creates nothing; the disk is the size
p2v chooses, so ``disk`` is unused."""


def old_server_source(server: OldServer) -> SourceMachine:
    facts = server.facts()
    return SourceMachine(
        image=server.image,
        root_key=server.root_key,
        host_key=server.host_key,
        hostname=str(facts["hostname"]),
        mac=str(facts["mac"]),
        checksums=server.checksums(),
    )


def lvm_server_source(server: BuiltSource) -> SourceMachine:
    return SourceMachine(
        image=server.image,
        root_key=server.root_key,
        host_key=(server.image.parent / "host_key.pub").read_text().split()[1],
        hostname=server.hostname,
        mac=server.mac,
        checksums=json.loads(server.checksums.read_text()),
    )


def cluster_kernel(lab: GanetiLab, server: OldServer) -> dict[str, str]:
    """The admin puts a kernel and initrd on the node (the server's own
    Debian kernel, whose modules the migrated system has) for kernel_path."""
    where = lab.host_path(NODE_KERNELS)
    where.mkdir(parents=True, exist_ok=True)
    for name in ("vmlinuz", "initrd.img"):
        shutil.copy(server.directory / "cluster-kernel" / name, where / name)
    return {"kernel_path": f"{NODE_KERNELS}/vmlinuz", "initrd_path": f"{NODE_KERNELS}/initrd.img"}


@dataclass(frozen=True)
class Images:
    """The project's own builds a migration needs."""

    live: LiveImage
    bootstrap: Path
    """The bootstrap OS, its kernel and the ramboot initrd (osdef/install --images)."""


def built_images() -> Images:
    """The live image and the bootstrap images (built, or from the cache)."""
    return Images(live_image(), bootstrap_artifacts().directory)


@contextlib.contextmanager
def e2e_lab(
    lab: GanetiLab, server: OldServer, work: Path, clock: Clock, images: Images | None = None
) -> Iterator[E2ELab]:
    """The built images (built here unless given), the OS definition installed
    as an admin does, a DHCP server on the cluster's bridge."""
    if images is None:
        with clock.phase("live image, bootstrap OS and ramboot initrd (built or cached)"):
            images = built_images()
    with clock.phase("osdef/install --cluster"):
        install_osdef(lab, images.bootstrap)
    try:
        with deployment_network(lab, work):
            yield E2ELab(lab, images.live, clock, work, cluster_kernel(lab, server))
    finally:
        uninstall_osdef(lab)
