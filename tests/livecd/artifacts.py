"""The live image (livecd/make-live-image), built once and cached under
/var/cache/p2v-tests keyed on a hash of everything that goes into it: the
livecd/ files (build script, launcher, configuration) and p2v_tui's sources.
A lock file serialises concurrent test runs."""

from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
BUILD = REPO / "livecd" / "make-live-image"
CACHE = Path(os.environ.get("P2V_TEST_CACHE", "/var/cache/p2v-tests"))
MANIFEST = "p2v-live.manifest"
TOOLS = ("mmdebstrap", "mksquashfs", "grub-mkrescue", "xorriso", "mformat")


@dataclass(frozen=True)
class LiveImage:
    directory: Path

    @property
    def iso(self) -> Path:
        return self.directory / "p2v-live.iso"

    @property
    def vmlinuz(self) -> Path:
        return self.directory / "vmlinuz"

    @property
    def initrd(self) -> Path:
        return self.directory / "initrd.img"

    @property
    def squashfs(self) -> Path:
        return self.directory / "filesystem.squashfs"

    @property
    def manifest(self) -> Path:
        return self.directory / MANIFEST


def input_files() -> list[Path]:
    sources = [p for p in (REPO / "p2v_tui").rglob("*") if p.is_file() and "__pycache__" not in p.parts]
    livecd = [p for p in (REPO / "livecd").rglob("*") if p.is_file() and "__pycache__" not in p.parts]
    return sorted(livecd + sources + [REPO / "pyproject.toml"])


def inputs_key() -> str:
    digest = hashlib.sha256()
    for path in input_files():
        digest.update(str(path.relative_to(REPO)).encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


def live_image() -> LiveImage:
    """The built image; skips the calling test when it cannot be built here."""
    if os.geteuid() != 0:
        pytest.skip("needs root: mmdebstrap builds the live image in root mode")
    missing = [t for t in TOOLS if shutil.which(t) is None]
    if not Path("/usr/lib/grub/i386-pc").is_dir() or not Path("/usr/lib/grub/x86_64-efi").is_dir():
        missing.append("grub-pc-bin and grub-efi-amd64-bin")
    if missing:
        pytest.skip(f"needs {', '.join(missing)} to build the live image")
    CACHE.mkdir(parents=True, exist_ok=True)
    out = CACHE / f"p2v-live-{inputs_key()}"
    with open(CACHE / "p2v-live.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if (out / MANIFEST).exists():
            return LiveImage(out)
        partial = out.with_name(out.name + ".partial")
        shutil.rmtree(partial, ignore_errors=True)
        started = time.monotonic()
        proc = subprocess.run([str(BUILD), str(partial)], capture_output=True, text=True, timeout=3600)
        if proc.returncode != 0:
            shutil.rmtree(partial, ignore_errors=True)
            pytest.fail(f"make-live-image failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-4000:]}")
        (partial / "build-seconds").write_text(f"{time.monotonic() - started:.0f}\n")
        partial.rename(out)
    return LiveImage(out)


def manifest_values(image: LiveImage, key: str) -> list[str]:
    prefix = key + ": "
    return [
        line.removeprefix(prefix)
        for line in image.manifest.read_text().splitlines()
        if line.startswith(prefix)
    ]
