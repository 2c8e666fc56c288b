"""What the running (live) system has mounted, to keep its own disks out.

Devices are compared by device number, not by name: /proc/self/mounts may
say ``/dev/disk/by-uuid/...`` or ``/dev/root`` for a device that /sys/block
calls ``sda1``.
"""

from __future__ import annotations

import logging
import os
import stat
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from ...model.parsers import MountEntry, parse_proc_mounts

log = logging.getLogger(__name__)

PROC_MOUNTS = "/proc/self/mounts"
PROC_SWAPS = "/proc/swaps"

#: Where live-boot (Debian) and older live systems mount the boot medium.
LIVE_MEDIUM_MOUNTS = ("/run/live/medium", "/lib/live/mount/medium", "/run/initramfs/live", "/cdrom")


@dataclass(frozen=True)
class HostUse:
    mountpoint: str
    fstype: str
    live_medium: bool


def read_host_mounts(path: str = PROC_MOUNTS) -> list[MountEntry]:
    try:
        with open(path, encoding="utf-8", errors="surrogateescape") as f:
            return parse_proc_mounts(f.read())
    except OSError as exc:
        log.warning("cannot read %s: %s", path, exc)
        return []


def read_active_swaps(path: str = PROC_SWAPS) -> list[str]:
    try:
        with open(path, encoding="utf-8", errors="surrogateescape") as f:
            lines = f.read().splitlines()[1:]
    except OSError:
        return []
    return [line.split()[0] for line in lines if line.split()]


def device_number(path: str) -> int | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_rdev if stat.S_ISBLK(st.st_mode) else None


#: p2v's own read-only mounts of the source (a probe or copy in progress).
OWN_MOUNTS = ("/run/p2v",)


def _under(path: str, directories: Iterable[str]) -> bool:
    return any(path == d or path.startswith(d.rstrip("/") + "/") for d in directories)


def host_device_uses(
    mounts: Iterable[MountEntry], swaps: Sequence[str] = (), *, ignore_under: Sequence[str] = OWN_MOUNTS
) -> dict[int, HostUse]:
    """Block devices (by ``st_rdev``) the running system uses, and how;
    mounts below ``ignore_under`` are p2v's own and do not count."""
    uses: dict[int, HostUse] = {}
    for m in mounts:
        if not m.source.startswith("/") or _under(m.target, ignore_under):
            continue
        rdev = device_number(m.source)
        if rdev is None:
            continue
        live = m.target in LIVE_MEDIUM_MOUNTS or m.fstype == "iso9660"
        if rdev not in uses or live:
            uses[rdev] = HostUse(m.target, m.fstype, live)
    for swap in swaps:
        rdev = device_number(swap)
        if rdev is not None and rdev not in uses:
            uses[rdev] = HostUse("[swap]", "swap", False)
    return uses


def exclusion_reason(
    devices: Sequence[str], uses: dict[int, HostUse], *, whole_disk_type: str = ""
) -> str | None:
    """Why a disk whose nodes (disk first, then partitions) are ``devices``
    is not a source by default, or None."""
    if whole_disk_type == "iso9660":
        return "holds the live system (iso9660 image)"
    found = [(dev, uses[rdev]) for dev in devices if (rdev := device_number(dev)) in uses]
    for dev, use in found:
        if use.live_medium:
            return f"holds the live system ({dev} is mounted at {use.mountpoint})"
    if found:
        dev, use = found[0]
        where = "used as swap" if use.fstype == "swap" else f"mounted at {use.mountpoint}"
        return f"in use by the running system ({dev} is {where})"
    return None
