"""The layout planner: which partitions the target disks get, how big, and
where; which mounts and copies fill them.

Pure: a function of the probed :class:`Machine`, the target disks and the
user's :class:`LayoutChoices`. When the data cannot fit it raises
:class:`LayoutError` (with the bytes missing) before anything is written.
The steps live in layout_sources (what migrates), layout_targets (which
partitions), layout_sizes and layout_fit (how big), layout_geometry (where)
and layout_copy (mounts and copies); this module puts them together.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import replace
from types import MappingProxyType

from .layout_copy import Placed, default_subvolume_path, kept_subvolumes, plan_copies, plan_mounts
from .layout_fit import Check, Item, Policy, Sizer, decide_swaps, raise_if_short
from .layout_geometry import Slot, partition_device, partition_numbers, place
from .layout_sizes import filesystem_floor, inodes_to_request, keep_small_whole, share_space
from .layout_sources import mount_order, select_sources
from .layout_targets import (
    boot_disk,
    boot_wants,
    choose_tables,
    default_wants,
    explicit_wants,
    root_slot,
)
from .machine import Filesystem, Machine, SwapArea, TableType
from .plan import DiskPlan, LayoutChoices, LayoutError, Plan, PlannedPartition, SwapFilePlan
from .target import TargetDisk
from .units import MiB, format_size

log = logging.getLogger(__name__)

__all__ = ["filesystem_floor", "partition_device", "plan_layout"]

_LABEL_MAX = {"ext2": 16, "ext3": 16, "ext4": 16, "xfs": 12, "vfat": 11, "swap": 16}
"""Longest label each mkfs accepts, for a filesystem whose type changes."""


def plan_layout(machine: Machine, disks: Sequence[TargetDisk], choices: LayoutChoices) -> Plan:
    """Plan the target's partitions, mounts and copies.

    1. Check the inputs (disks, headroom, swap policy, cluster root_path).
    2. Pick what migrates (layout_sources): filesystems the source's fstab
       mounts, minus drops; the ESP only for an EFI target with its own
       bootloader. Exclusions and swap files are subtracted from the used
       bytes of the filesystem holding them.
    3. Decide the partitions (layout_targets). Default: one per filesystem
       (a btrfs with all its subvolumes is one) and swap partition, files of
       the k-th source disk on the k-th target disk when there are enough,
       else all on the first. Explicit: one per request; unlisted
       filesystems are merged into the nearest listed parent.
    4. Choose each disk's table; add bios_grub (BIOS, gpt) or an ESP (EFI)
       on the disk holding /boot, else /.
    5. Swap: keep, an int, drop, or auto: per disk, keep if everything fits,
       else shrink all by the same factor (each to at least 256 MiB), else
       drop them.
    6. Floors (layout_sizes.filesystem_floor); when they do not fit a disk,
       LayoutError naming every floor and the bytes missing. Otherwise share
       the free space (layout_sizes.share_space): default layout, every
       filesystem by its source size; explicit, only ``rest``. Small
       filesystems (/boot, an ESP: up to 1 GiB) keep their source size when
       everything fits that way (layout_sizes.keep_small_whole): scaling a
       256 MiB /boot down to its used bytes would leave no room for the next
       kernel.
    7. Order each disk: bios_grub/ESP, filesystems by mount point (/ first,
       then shallower before deeper, then alphabetical), swap; cluster boot
       moves / to root_path's number. Place them from 1 MiB, 1 MiB aligned
       (layout_geometry).
    8. Keep UUIDs, labels and features (blank a repeated UUID); mounts,
       copy jobs and swap files (layout_copy).
    """
    targets = _check_inputs(disks, choices)
    by_index = {d.index: d for d in targets}
    policy = _swap_policy(choices)
    root_at = root_slot(targets, choices.root_path) if choices.boot == "cluster" else None
    root_disk = root_at[0] if root_at else None

    sources = select_sources(machine, choices)
    notes = list(sources.notes)
    dropped = list(sources.dropped)
    merged: dict[str, str] = {}
    if choices.explicit is None:
        wants = default_wants(machine, sources, targets, root_disk)
    else:
        wants, merged, lost, why = explicit_wants(machine, sources, by_index, choices, root_disk)
        dropped += lost
        notes += why

    tables, table_notes = choose_tables(machine, targets, wants, choices)
    bdisk = boot_disk(wants, targets[0].index)
    extra, boot_notes = boot_wants(wants, sources, tables, choices, disk=bdisk, machine=machine)
    wants = extra + wants
    notes += table_notes + boot_notes

    homes: dict[str, int] = {}
    for swap, fs in sources.swap_files:  # each holder migrates, so some partition receives it
        homes[swap.path] = next(i for i, w in enumerate(wants) if w.source is fs or fs in w.merged)
    sizer = Sizer(tuple(wants), by_index, tables, MappingProxyType(homes), choices.headroom)
    swap_sizes, swap_notes = decide_swaps(sizer, sources.swap_files, policy, choices.explicit is None)
    notes += swap_notes
    dropped += [p for p, s in swap_sizes.items() if s == 0]

    checks = [sizer.check(d, swap_sizes) for d in sorted({w.disk for w in wants})]
    raise_if_short(checks)
    disk_plans: list[DiskPlan] = []
    placed: list[Placed] = []
    for check in checks:
        dp, pl, disk_notes = _lay_out_disk(check, tables[check.disk.index], choices, root_at)
        disk_plans.append(dp)
        placed += pl
        notes += disk_notes
    used_disks = {c.disk.index for c in checks}
    unused = [d.path for d in targets if d.index not in used_disks]
    notes += [f"target disk {p} is left unused" for p in unused]

    placed, swapfiles, uuid_notes = _unique_uuids(placed, sizer, sources.swap_files, swap_sizes)
    disk_plans = [
        replace(dp, partitions=tuple(p.part for p in placed if p.part.disk_index == dp.disk.index))
        for dp in disk_plans
    ]
    mounts = plan_mounts(placed)
    copies, copy_notes = plan_copies(placed, mounts, sources.used, sources.not_copied, sources.exclusions)
    bootloader = None
    if choices.boot == "own" and choices.firmware == "bios":
        bootloader = by_index[bdisk].path
    for dp in disk_plans:
        parts = (f"{p.number}:{p.mountpoint or p.role}:{format_size(p.size)}" for p in dp.partitions)
        log.debug("%s (%s): %s", dp.disk.path, dp.table, ", ".join(parts))
    return Plan(
        disks=tuple(disk_plans),
        mounts=mounts,
        copies=copies,
        swapfiles=swapfiles,
        boot=choices.boot,
        firmware=choices.firmware,
        bootloader_disk=bootloader,
        dropped=tuple(dropped),
        merged=MappingProxyType(merged),
        notes=(*notes, *copy_notes, *uuid_notes),
    )


def _check_inputs(disks: Sequence[TargetDisk], choices: LayoutChoices) -> list[TargetDisk]:
    if not disks:
        raise LayoutError("the target has no disks")
    targets = sorted(disks, key=lambda d: d.index)
    if len({d.index for d in targets}) != len(targets) or len({d.path for d in targets}) != len(targets):
        raise LayoutError("target disks must have distinct indexes and paths")
    if choices.headroom < 0:
        raise LayoutError(f"headroom must not be negative ({choices.headroom})")
    return targets


def _swap_policy(choices: LayoutChoices) -> Policy:
    p = choices.swap
    if isinstance(p, bool) or (isinstance(p, int) and p < 0):
        raise LayoutError(f"swap: {p!r} is not a size")
    if isinstance(p, int):
        return p if p > 0 else "drop"
    if p not in ("keep", "auto", "drop"):
        raise LayoutError(f"swap: expected keep, auto, drop or a size, not {p!r}")
    return p


def _lay_out_disk(
    check: Check, table: TableType, choices: LayoutChoices, root_at: tuple[int, int] | None
) -> tuple[DiskPlan, list[Placed], list[str]]:
    """Sizes, order and positions of the partitions of one disk that fits."""
    disk = check.disk
    growers = [it for it in check.items if it.want.mode in ("grow", "rest")]
    fixed = sum(it.need for it in check.items if it not in growers)
    favourite = None
    if growers:
        roots = [k for k, it in enumerate(growers) if it.want.mountpoint == "/"]
        favourite = roots[0] if roots else max(range(len(growers)), key=lambda k: growers[k].want.weight)
    shares = share_space(
        keep_small_whole(
            [it.floor for it in growers], [it.want.weight for it in growers], check.capacity - fixed
        ),
        [it.want.weight for it in growers],
        check.capacity - fixed,
        favourite,
    )
    size_of = {it.index: it.need for it in check.items}
    size_of.update({it.index: share for it, share in zip(growers, shares, strict=True)})
    notes: list[str] = []
    left = check.capacity - sum(size_of.values())
    if left >= MiB:
        notes.append(f"{format_size(left)} of {disk.path} are left unpartitioned")

    ordered = _order(check.items)
    if root_at is not None and root_at[0] == disk.index:
        ordered = _put_root(ordered, table, root_at[1], disk)
    slots, extended = place([size_of[it.index] for it in ordered], table, disk.size)
    placed: list[Placed] = []
    for it, slot in zip(ordered, slots, strict=True):
        part, part_notes = _partition(it, size_of[it.index], slot, disk, choices.headroom)
        placed.append(Placed(part, it.want.source, it.want.merged))
        notes += part_notes
    return DiskPlan(disk, table, tuple(p.part for p in placed), extended), placed, notes


def _order(items: Sequence[Item]) -> list[Item]:
    """bios_grub/ESP, filesystems by mount point, swap areas."""
    boot = [it for it in items if it.want.role in ("bios_grub", "esp")]
    fss = sorted(
        (it for it in items if it.want.role == "filesystem"),
        key=lambda it: mount_order(it.want.mountpoint or "/"),
    )
    swaps = [it for it in items if it.want.role == "swap"]
    return boot + fss + swaps


def _put_root(ordered: list[Item], table: TableType, number: int, disk: TargetDisk) -> list[Item]:
    """Move / to where it gets partition ``number`` (cluster root_path)."""
    root = next(it for it in ordered if it.want.role == "filesystem" and it.want.mountpoint == "/")
    others = [it for it in ordered if it is not root]
    numbers = partition_numbers(table, len(ordered))
    if number not in numbers:
        raise LayoutError(
            f"root_path {partition_device(disk.path, number)} names partition {number}, but "
            f"{disk.path} gets partitions {', '.join(map(str, numbers))}"
        )
    pos = numbers.index(number)
    return [*others[:pos], root, *others[pos:]]


def _partition(
    it: Item, size: int, slot: Slot, disk: TargetDisk, headroom: float
) -> tuple[PlannedPartition, list[str]]:
    w = it.want
    notes: list[str] = []
    part = PlannedPartition(
        disk_index=disk.index,
        number=slot.number,
        start=slot.start,
        size=size,
        role=w.role,
        device=partition_device(disk.path, slot.number),
        fstype=w.fstype,
        mountpoint=w.mountpoint,
        min_size=it.floor,
        used=w.used,
        logical=slot.logical,
    )
    if w.swap is not None:
        return replace(part, uuid=w.swap.uuid, label=w.swap.label, source=w.swap.path), notes
    fs = w.source
    if fs is None or w.fstype is None:
        return part, notes
    part = replace(
        part,
        uuid=fs.uuid,
        label=fs.label,
        source=fs.device,
        inodes=inodes_to_request(w.fstype, size, w.inodes_used, headroom),
    )
    if w.overridden:
        limit = _LABEL_MAX.get(w.fstype)
        if limit is not None and len(fs.label) > limit:
            notes.append(f"label {fs.label!r} of {w.name} is cut to {limit} characters for {w.fstype}")
            part = replace(part, label=fs.label[:limit])
        return part, notes
    part = replace(part, features=fs.features)
    if fs.fstype == "btrfs":
        kept = kept_subvolumes(fs)[0]
        default = default_subvolume_path(fs)
        if default and default not in {s.path for s in kept}:
            notes.append(
                f"default subvolume {default} of {w.name} is not copied; the top level becomes the default"
            )
            default = ""
        part = replace(part, subvolumes=kept, default_subvolume=default)
    return part, notes


def _unique_uuids(
    placed: Sequence[Placed],
    sizer: Sizer,
    swap_files: Sequence[tuple[SwapArea, Filesystem]],
    swap_sizes: dict[str, int],
) -> tuple[list[Placed], tuple[SwapFilePlan, ...], list[str]]:
    """Keep the first of two equal UUIDs, blank the second (mkfs picks
    one); swap files too, as mkswap would otherwise repeat them."""
    seen: dict[str, str] = {}
    notes: list[str] = []

    def unique(uuid: str, name: str) -> str:
        key = uuid.lower()
        if key and key in seen:
            notes.append(f"{name} has the same UUID {uuid} as {seen[key]}; it gets a new one")
            return ""
        if key:
            seen[key] = name
        return uuid

    out: list[Placed] = []
    for pl in placed:
        p = pl.part
        name = p.mountpoint or (f"swap {p.source}" if p.role == "swap" else p.device)
        out.append(replace(pl, part=replace(p, uuid=unique(p.uuid, name))))
    swapfiles: list[SwapFilePlan] = []
    for swap, _fs in swap_files:
        size = swap_sizes.get(swap.path, 0)
        if size:
            home = sizer.wants[sizer.homes[swap.path]]
            swapfiles.append(
                SwapFilePlan(
                    swap.path,
                    size,
                    unique(swap.uuid, f"swap file {swap.path}"),
                    swap.label,
                    home.fstype or "",
                    swap.mtime_ns,
                )
            )
    return out, tuple(swapfiles), notes
