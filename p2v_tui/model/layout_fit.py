"""Does the data fit the target disks? Floors per disk, the swap policy,
and the error that says how much is missing."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Literal

from .layout_geometry import capacity
from .layout_sizes import SWAP_MIN, filesystem_floor
from .layout_sources import describe_floor
from .layout_targets import Want
from .machine import Filesystem, SwapArea, TableType
from .plan import LayoutError
from .target import TargetDisk
from .units import align_down, align_up, format_size

Policy = Literal["keep", "auto", "drop"] | int


@dataclass(frozen=True)
class Item:
    index: int
    """Position in the wants list."""
    want: Want
    floor: int
    need: int
    """Bytes it takes at least: its size when fixed, else its floor."""


@dataclass(frozen=True)
class Check:
    disk: TargetDisk
    items: tuple[Item, ...]
    capacity: int
    """Bytes the disk's partitions can share (see layout_geometry.capacity)."""
    missing: int
    """Bytes the disk lacks for every item's need."""
    short: tuple[Item, ...]
    """Filesystems given a fixed size below their floor."""

    @property
    def fits(self) -> bool:
        return self.missing == 0 and not self.short


@dataclass(frozen=True)
class Sizer:
    wants: tuple[Want, ...]
    disks: Mapping[int, TargetDisk]
    tables: Mapping[int, TableType]
    homes: Mapping[str, int]
    """Swap file path -> index of the want holding it."""
    headroom: float

    def floor(self, index: int, w: Want, swap_sizes: Mapping[str, int]) -> int:
        """Smallest size of ``w``; kept swap files count in their holder's."""
        if w.role == "bios_grub":
            return w.size
        if w.role == "swap":
            return w.floor_min if w.mode == "rest" else w.size
        extra = sum(swap_sizes.get(p, 0) for p, home in self.homes.items() if home == index)
        assert w.fstype is not None
        return max(w.floor_min, filesystem_floor(w.fstype, w.used, self.headroom, w.inodes_used, extra))

    def check(self, disk: int, swap_sizes: Mapping[str, int]) -> Check:
        """Floors of everything on ``disk`` with swap areas sized (0:
        dropped) by ``swap_sizes``."""
        items: list[Item] = []
        for i, w in enumerate(self.wants):
            if w.disk != disk:
                continue
            sized = w
            if w.swap is not None and w.swap.path in swap_sizes:
                if not swap_sizes[w.swap.path]:
                    continue
                sized = replace(w, size=swap_sizes[w.swap.path])
            floor = self.floor(i, sized, swap_sizes)
            items.append(Item(i, sized, floor, sized.size if sized.mode == "fixed" else floor))
        target = self.disks[disk]
        room = capacity(target.size, self.tables[disk], len(items))
        missing = max(0, sum(it.need for it in items) - room)
        short = tuple(it for it in items if it.want.role != "swap" and it.floor > it.need)
        return Check(target, tuple(items), room, missing, short)


def decide_swaps(
    sizer: Sizer, swap_files: Sequence[tuple[SwapArea, Filesystem]], policy: Policy, default_layout: bool
) -> tuple[dict[str, int], list[str]]:
    """Size of every swap area the policy governs (0: dropped): swap files,
    and swap partitions in the default layout (explicit ones are requested).

    Several swap areas on one disk are decided together: all kept, all
    shrunk by the same factor, or all dropped."""
    keep: dict[str, int] = {}
    disk_of: dict[str, int] = {}
    for w in sizer.wants:
        if default_layout and w.swap is not None:
            keep[w.swap.path] = w.size
            disk_of[w.swap.path] = w.disk
    for swap, _fs in swap_files:
        keep[swap.path] = swap.size
        disk_of[swap.path] = sizer.wants[sizer.homes[swap.path]].disk
    if policy == "drop":
        return dict.fromkeys(keep, 0), []
    if isinstance(policy, int):
        return {p: policy if p in sizer.homes else align_up(policy) for p in keep}, []
    if policy == "keep":
        return keep, []
    sizes: dict[str, int] = {}
    notes: list[str] = []
    for disk in sorted(set(disk_of.values())):
        group = {p: k for p, k in keep.items() if disk_of[p] == disk}
        chosen = _auto_swap(sizer, disk, group)
        sizes.update(chosen)
        where = sizer.disks[disk].path
        for p, size in chosen.items():
            if size == 0:
                notes.append(
                    f"swap {p} ({format_size(group[p])}) dropped: {where} has no room for it, "
                    f"not even {format_size(min(SWAP_MIN, group[p]))}"
                )
            elif size < group[p]:
                notes.append(
                    f"swap {p} shrunk from {format_size(group[p])} to {format_size(size)} "
                    f"to make room on {where}"
                )
    return sizes, notes


def _auto_swap(sizer: Sizer, disk: int, keep: Mapping[str, int]) -> dict[str, int]:
    """Keep; else the largest common scale t/65536 that fits, each swap
    area at least min(256 MiB, its size); else drop all."""
    if sizer.check(disk, keep).fits:
        return dict(keep)
    least = {p: min(SWAP_MIN, k) for p, k in keep.items()}
    if not sizer.check(disk, least).fits:
        return dict.fromkeys(keep, 0)

    def scaled(t: int) -> dict[str, int]:
        return {p: max(least[p], align_down(k * t >> 16)) for p, k in keep.items()}

    lo, hi = 0, 1 << 16  # scaled(lo) fits, scaled(hi) (= keep) does not
    while hi - lo > 1:
        mid = (lo + hi) // 2
        lo, hi = (mid, hi) if sizer.check(disk, scaled(mid)).fits else (lo, mid)
    return scaled(lo)


def _describe(it: Item) -> str:
    w = it.want
    if w.role == "filesystem" and w.mode != "fixed":
        return describe_floor(w.name, it.floor, w.used)
    if w.role == "filesystem":
        return f"{w.name} {format_size(it.need)} (requested)"
    return f"{w.name} {format_size(it.need)}"


def _shortage(c: Check) -> str:
    parts = [_describe(it) for it in c.items]
    parts.append(f"partition table and alignment {format_size(c.disk.size - c.capacity)}")
    return (
        f"the data needs {format_size(c.missing)} more than {c.disk.path} "
        f"({format_size(c.disk.size)}) offers: " + ", ".join(parts)
    )


def raise_if_short(checks: Sequence[Check]) -> None:
    """LayoutError when a requested size is below its floor, or when the
    floors do not fit a disk; ``missing`` sums what every disk lacks."""
    short = [it for c in checks for it in c.short]
    if short:
        raise LayoutError(
            "; ".join(
                f"{it.want.name} was given {format_size(it.need)} but needs at least "
                f"{format_size(it.floor)} ({format_size(it.want.used)} used + headroom): "
                f"{format_size(it.floor - it.need)} missing"
                for it in short
            ),
            missing=sum(it.floor - it.need for it in short),
        )
    lacking = [c for c in checks if c.missing]
    if lacking:
        raise LayoutError("; ".join(_shortage(c) for c in lacking), missing=sum(c.missing for c in lacking))
