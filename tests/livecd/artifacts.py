"""The live image (livecd/make-live-image), built once and cached under
/var/cache/p2v-tests keyed on a hash of everything that goes into it: the
livecd/ files (build script, launcher, configuration) and p2v_tui's sources.
A lock file serialises concurrent test runs."""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.lab.cache import REPO, cached_build

BUILD = REPO / "livecd" / "make-live-image"
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


def live_image() -> LiveImage:
    """The built image; skips the calling test when it cannot be built here."""
    if os.geteuid() != 0:
        pytest.skip("needs root: mmdebstrap builds the live image in root mode")
    missing = [t for t in TOOLS if shutil.which(t) is None]
    if not Path("/usr/lib/grub/i386-pc").is_dir() or not Path("/usr/lib/grub/x86_64-efi").is_dir():
        missing.append("grub-pc-bin and grub-efi-amd64-bin")
    if missing:
        pytest.skip(f"needs {', '.join(missing)} to build the live image")
    return LiveImage(cached_build("p2v-live", input_files(), BUILD, complete=MANIFEST, timeout=3600))


def manifest_values(image: LiveImage, key: str) -> list[str]:
    prefix = key + ": "
    return [
        line.removeprefix(prefix)
        for line in image.manifest.read_text().splitlines()
        if line.startswith(prefix)
    ]


def record(image: LiveImage, name: str, values: dict[str, object]) -> None:
    """Figures of a test run, kept in ``measurements.json`` beside the image."""
    path = image.directory / "measurements.json"
    data = json.loads(path.read_text()) if path.exists() else {}
    data[name] = values
    path.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")
    print(f"\n{name}: {json.dumps(values, sort_keys=True)}")
