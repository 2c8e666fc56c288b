"""A real Debian system for the tests that need one (bootloader, initramfs,
booting the migrated disk): built once with mmdebstrap from the machine's
apt sources, cached as a tarball keyed on its package list."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path

import pytest

from tests.lab.cache import CACHE

PACKAGES = (
    "linux-image-amd64",
    "grub-pc",
    "initramfs-tools",
    "systemd-sysv",
    "udev",
    "kmod",
    "ifupdown",
    "iproute2",
    "procps",
)
SUITE = "bookworm"


def rootfs_packages(extra: Sequence[str] = ()) -> tuple[str, ...]:
    """:data:`PACKAGES`, then the ``extra`` ones not already among them
    (sorted: the same set gives the same tarball)."""
    return PACKAGES + tuple(sorted(set(extra) - set(PACKAGES)))


def debian_rootfs(extra: Sequence[str] = ()) -> Path:
    """Tarball of a minimal bootable Debian (kernel, GRUB, initramfs-tools,
    systemd), with the ``extra`` packages (e.g. ``openssh-server``) too.
    Skips the calling test when it cannot be built here."""
    if shutil.which("mmdebstrap") is None:
        pytest.skip("needs mmdebstrap to build a Debian system")
    packages = rootfs_packages(extra)
    key = hashlib.sha256(f"{SUITE} {' '.join(packages)}".encode()).hexdigest()[:16]
    tarball = CACHE / f"debian-{SUITE}-{key}.tar"
    if tarball.exists():
        return tarball
    CACHE.mkdir(parents=True, exist_ok=True)
    partial = tarball.with_suffix(".partial.tar")
    # No mirror argument: mmdebstrap uses this machine's apt sources.
    argv = [
        "mmdebstrap",
        "--quiet",
        "--variant=minbase",
        f"--include={','.join(packages)}",
        SUITE,
        str(partial),
    ]
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=1200)
    if proc.returncode != 0:
        partial.unlink(missing_ok=True)
        pytest.fail(f"mmdebstrap failed:\n{proc.stderr[-3000:]}")
    partial.rename(tarball)
    return tarball


def untar_argv(tarball: Path, root: Path) -> list[str]:
    """Unpack the tarball into ``root`` as the system it is: owners by
    number, modes, xattrs (file capabilities) and ACLs."""
    return [
        "tar",
        "-C", str(root),
        "--xattrs",
        "--xattrs-include=*",  # security.capability and the like
        "--acls",
        "--numeric-owner",  # the system's own users, not this machine's names
        "-xpf", str(tarball),
    ]  # fmt: skip
