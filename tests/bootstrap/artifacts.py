"""The bootstrap OS artifacts (osdef/make-bootstrap-image), built once and
cached under /var/cache/p2v-tests keyed on a hash of everything that goes
into them: the build script, the module pruner and the ramboot initrd
sources. A lock file serialises concurrent test runs."""

from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
BUILD = REPO / "osdef" / "make-bootstrap-image"
INPUTS = (
    BUILD,
    REPO / "osdef" / "bootstrap_modules.py",
    REPO / "initrd" / "make-ramboot-initrd",
    REPO / "initrd" / "hooks" / "p2v-ramboot",
    REPO / "initrd" / "scripts" / "local-bottom" / "p2v-ramboot",
)
CACHE = Path(os.environ.get("P2V_TEST_CACHE", "/var/cache/p2v-tests"))
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


def inputs_key() -> str:
    digest = hashlib.sha256()
    for path in INPUTS:
        digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


def bootstrap_artifacts() -> Artifacts:
    """The four built files; skips the calling test when they cannot be
    built here (not root, no mmdebstrap)."""
    if os.geteuid() != 0:
        pytest.skip("needs root: mmdebstrap builds the bootstrap OS in root mode")
    missing = [t for t in ("mmdebstrap", "zstd", "tar") if shutil.which(t) is None]
    if missing:
        pytest.skip(f"needs {', '.join(missing)} to build the bootstrap OS")
    CACHE.mkdir(parents=True, exist_ok=True)
    out = CACHE / f"p2v-bootstrap-{inputs_key()}"
    with open(CACHE / "p2v-bootstrap.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if (out / MANIFEST).exists():
            return Artifacts(out)
        partial = out.with_name(out.name + ".partial")
        shutil.rmtree(partial, ignore_errors=True)
        proc = subprocess.run([str(BUILD), str(partial)], capture_output=True, text=True, timeout=1800)
        if proc.returncode != 0:
            shutil.rmtree(partial, ignore_errors=True)
            pytest.fail(f"make-bootstrap-image failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-4000:]}")
        partial.rename(out)
    return Artifacts(out)
