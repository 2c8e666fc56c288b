"""What of the source migrates, and how many bytes each filesystem brings.

Exclusions and swap files are charged to the filesystem that holds them: the
one with the deepest mount point containing the path, as the source system
sees its tree (btrfs subvolume mount points count for their filesystem).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType

from .machine import Filesystem, Machine, SwapArea
from .plan import LayoutChoices, LayoutError
from .units import format_size

ESP_MOUNTPOINTS = ("/boot/efi", "/efi")
"""Where an EFI system partition is mounted (the second by systemd-boot)."""


def is_under(path: str, mountpoint: str) -> bool:
    """``path`` is ``mountpoint`` or inside it."""
    return mountpoint in ("/", path) or path.startswith(mountpoint + "/")


def mount_order(mountpoint: str) -> tuple[int, str]:
    """Sort key: ``/`` first, then shallower before deeper, then
    alphabetical. Parents therefore come before their children."""
    depth = 0 if mountpoint == "/" else mountpoint.count("/")
    return depth, mountpoint


def mountpoints_of(fs: Filesystem) -> list[str]:
    """Every place the source's fstab mounts (part of) ``fs``."""
    mps = [fs.mountpoint] if fs.mountpoint else []
    mps += [s.mountpoint for s in fs.subvolumes if s.mountpoint and s.mountpoint not in mps]
    return mps


def holder(path: str, filesystems: Iterable[Filesystem]) -> tuple[Filesystem, str] | None:
    """The filesystem holding ``path`` and the mount point it is reached by."""
    best: tuple[Filesystem, str] | None = None
    for fs in filesystems:
        for mp in mountpoints_of(fs):
            if is_under(path, mp) and (best is None or mount_order(mp) > mount_order(best[1])):
                best = (fs, mp)
    return best


def normalize_path(path: str) -> str:
    if not path.startswith("/"):
        raise LayoutError(f"excluded path {path!r} is not absolute")
    stripped = path.rstrip("/")
    if not stripped:
        raise LayoutError("excluding / would copy nothing")
    return stripped


def _frozen(d: Mapping[str, int]) -> Mapping[str, int]:
    return MappingProxyType(dict(d))


@dataclass(frozen=True)
class Sources:
    filesystems: tuple[Filesystem, ...]
    """Filesystems that migrate (the ESP included when it does), source order."""
    esp: Filesystem | None
    swap_partitions: tuple[SwapArea, ...]
    """Swap partitions not dropped by name (the swap policy is applied later)."""
    swap_files: tuple[tuple[SwapArea, Filesystem], ...]
    """Swap files on migrating filesystems, with the filesystem holding each."""
    used: Mapping[str, int]
    """Source device -> bytes to copy (used minus exclusions and swap files)."""
    not_copied: Mapping[str, tuple[str, ...]]
    """Source device -> absolute paths the copy skips (exclusions, swap files)."""
    exclusions: frozenset[str]
    """The user's exclusions among ``not_copied`` (the rest are swap files)."""
    dropped: tuple[str, ...]
    notes: tuple[str, ...]


def _check_names(machine: Machine, choices: LayoutChoices, mounted: Sequence[Filesystem]) -> None:
    seen: dict[str, Filesystem] = {}
    for fs in mounted:
        assert fs.mountpoint is not None
        if fs.mountpoint in seen:
            raise LayoutError(
                f"two source filesystems are mounted at {fs.mountpoint}: "
                f"{seen[fs.mountpoint].device} and {fs.device}"
            )
        seen[fs.mountpoint] = fs
    if "/" not in seen:
        raise LayoutError("the source's fstab mounts no root filesystem (/)")
    for name in choices.drop:
        if name == "/":
            raise LayoutError("/ cannot be dropped: it is the system being migrated")


def _unknown_drops(machine: Machine, choices: LayoutChoices, mounted: Sequence[Filesystem]) -> list[str]:
    """A name in ``drop`` that this machine does not have is not an error
    (one answers file serves many machines), but it is said."""
    known = {fs.mountpoint for fs in mounted} | {s.path for s in machine.swaps}
    return [
        f"nothing to drop at {name}: no source filesystem or swap area has that name"
        for name in choices.drop
        if name not in known
    ]


def select_sources(machine: Machine, choices: LayoutChoices) -> Sources:
    """Pick the filesystems and swap areas that migrate, and charge
    exclusions and swap files to the filesystems holding them."""
    mounted = [fs for fs in machine.filesystems if fs.mountpoint]
    _check_names(machine, choices, mounted)
    dropped: list[str] = []
    notes: list[str] = _unknown_drops(machine, choices, mounted)
    migrate: list[Filesystem] = []
    esp: Filesystem | None = None
    for fs in mounted:
        mp = fs.mountpoint
        assert mp is not None
        if mp in choices.drop:
            dropped.append(mp)
            continue
        if mp in ESP_MOUNTPOINTS:
            if choices.firmware == "bios" or choices.boot == "cluster":
                why = "target boots by BIOS" if choices.firmware == "bios" else "the cluster boots the kernel"
                dropped.append(mp)
                notes.append(f"{why}; EFI system partition {mp} ({fs.device}) not recreated")
                continue
            esp = fs
        migrate.append(fs)
    unmeasured = [fs for fs in migrate if fs.used is None]
    if unmeasured:
        names = ", ".join(f"{fs.mountpoint} ({fs.device}, {fs.fstype})" for fs in unmeasured)
        raise LayoutError(
            f"cannot size {names}: could not be mounted here to measure its usage; "
            "drop it to migrate the rest"
        )

    charged: dict[str, int] = {fs.device: 0 for fs in migrate}
    skipped: dict[str, list[str]] = {fs.device: [] for fs in migrate}
    excluded = _outermost(normalize_path(p) for p in choices.exclude)
    sizes = {normalize_path(k): v for k, v in choices.exclude_sizes.items()}
    for path in excluded:
        found = holder(path, mounted)
        if found is not None and found[0].device in charged:
            charged[found[0].device] += sizes.get(path, 0)
            skipped[found[0].device].append(path)

    swap_parts: list[SwapArea] = []
    swap_files: list[tuple[SwapArea, Filesystem]] = []
    for swap in machine.swaps:
        if swap.path in choices.drop:
            dropped.append(swap.path)
        elif swap.kind == "partition":
            swap_parts.append(swap)
        else:
            found = holder(swap.path, mounted)
            if found is None or found[0].device not in charged:
                dropped.append(swap.path)
                notes.append(f"swap file {swap.path} is on no migrated filesystem; not recreated")
                continue
            fs = found[0]
            if not any(is_under(swap.path, p) for p in excluded):
                charged[fs.device] += swap.size
                skipped[fs.device].append(swap.path)
            swap_files.append((swap, fs))

    used = {fs.device: max(0, (fs.used or 0) - charged[fs.device]) for fs in migrate}
    return Sources(
        filesystems=tuple(migrate),
        esp=esp,
        swap_partitions=tuple(swap_parts),
        swap_files=tuple(swap_files),
        used=_frozen(used),
        not_copied=MappingProxyType({d: tuple(p) for d, p in skipped.items()}),
        exclusions=frozenset(excluded),
        dropped=tuple(dropped),
        notes=tuple(notes),
    )


def _outermost(paths: Iterable[str]) -> list[str]:
    """Excluded paths without those inside another one (counted once)."""
    unique = sorted(set(paths), key=mount_order)
    kept: list[str] = []
    for p in unique:
        if not any(is_under(p, k) for k in kept):
            kept.append(p)
    return kept


def describe_floor(mountpoint: str, floor: int, used: int) -> str:
    return f"{mountpoint} needs at least {format_size(floor)} ({format_size(used)} used + headroom)"
