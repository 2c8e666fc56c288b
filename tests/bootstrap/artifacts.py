"""The bootstrap OS artifacts (osdef/make-bootstrap-image), built once and
cached under /var/cache/p2v-tests keyed on a hash of everything that goes
into them: the build script, the module pruner and the ramboot initrd
sources. A lock file serialises concurrent test runs."""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.lab.cache import REPO, cached_build

BUILD = REPO / "osdef" / "make-bootstrap-image"
INPUTS = (
    BUILD,
    REPO / "osdef" / "bootstrap_modules.py",
    REPO / "initrd" / "make-ramboot-initrd",
    REPO / "initrd" / "hooks" / "p2v-ramboot",
    REPO / "initrd" / "scripts" / "local-bottom" / "p2v-ramboot",
)
ROOTFS = "p2v-bootstrap-rootfs.tar.zst"
VMLINUZ = "p2v-bootstrap-vmlinuz"
INITRD = "p2v-bootstrap-initrd.img"
MANIFEST = "p2v-bootstrap.manifest"


@dataclass(frozen=True)
class Artifacts:
    directory: Path

    @property
    def rootfs(self) -> Path:
        return self.directory / ROOTFS

    @property
    def vmlinuz(self) -> Path:
        return self.directory / VMLINUZ

    @property
    def initrd(self) -> Path:
        return self.directory / INITRD

    @property
    def manifest(self) -> Path:
        return self.directory / MANIFEST


def bootstrap_artifacts() -> Artifacts:
    """The four built files; skips the calling test when they cannot be
    built here (not root, no mmdebstrap)."""
    if os.geteuid() != 0:
        pytest.skip("needs root: mmdebstrap builds the bootstrap OS in root mode")
    missing = [t for t in ("mmdebstrap", "zstd", "tar") if shutil.which(t) is None]
    if missing:
        pytest.skip(f"needs {', '.join(missing)} to build the bootstrap OS")
    return Artifacts(cached_build("p2v-bootstrap", INPUTS, BUILD, complete=MANIFEST, timeout=1800))
