"""The partitions the target wants, before they have sizes and positions.

Default layout: one per migrating filesystem and swap partition, on the
target disk matching its source disk. Explicit layout: one per request, the
unlisted filesystems merged into the nearest listed parent.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

from .layout_geometry import MSDOS_MAX_DISK, partition_device
from .layout_sizes import BIOS_GRUB, ESP_MIN, ESP_NEW, SWAP_MIN
from .layout_sources import ESP_MOUNTPOINTS, Sources, is_under, mount_order
from .machine import Filesystem, Machine, SwapArea, TableType
from .plan import LayoutChoices, LayoutError, LayoutRequest, PartitionRole, holding_boot
from .target import TargetDisk
from .units import MiB, align_down, align_up, format_size

WantMode = Literal["grow", "rest", "fit", "fixed"]
"""grow: floor, then a share of the free space by weight (default layout);
rest: floor, then all the free space (explicit ``rest``); fit: its floor;
fixed: exactly ``size``."""


@dataclass(frozen=True)
class Want:
    role: PartitionRole
    disk: int
    """Target disk index."""
    name: str
    """What messages call it: ``/home``, ``swap /dev/sda5``, ``bios_grub``."""
    mode: WantMode
    size: int = 0
    weight: int = 0
    floor_min: int = 0
    """Smallest size whatever the data (ESP, swap given ``rest``)."""
    mountpoint: str | None = None
    fstype: str | None = None
    source: Filesystem | None = None
    swap: SwapArea | None = None
    merged: tuple[Filesystem, ...] = ()
    used: int = 0
    inodes_used: int | None = None
    overridden: bool = False


def source_disk_index(machine: Machine, device: str) -> int | None:
    """Index in ``machine.disks`` of the disk holding ``device`` (a
    partition, whole disk, LV by its first PV, md array by its first member)."""
    for i, d in enumerate(machine.disks):
        if device == d.path or any(p.path == device for p in d.partitions):
            return i
    for vg in machine.volume_groups:
        mapper = "/dev/mapper/" + vg.name.replace("-", "--") + "-"
        for lv in vg.lvs:
            if device in (lv.path, mapper + lv.name.replace("-", "--")) and vg.pvs:
                return source_disk_index(machine, vg.pvs[0])
    for md in machine.md_arrays:
        if md.device == device and md.members:
            return source_disk_index(machine, md.members[0])
    return None


def source_size(machine: Machine, fs: Filesystem) -> int:
    """The source filesystem's size, or its partition's when unknown."""
    if fs.size:
        return fs.size
    for d in machine.disks:
        for p in d.partitions:
            if p.path == fs.device:
                return p.size
    return 0


def root_slot(targets: Sequence[TargetDisk], root_path: str) -> tuple[int, int]:
    """(disk index, partition number) that ``root_path`` names."""
    for d in targets:
        if root_path == d.path:
            raise LayoutError(
                f"root_path {root_path} names the whole disk; the cluster kernel needs a "
                f"partition such as {partition_device(d.path, 1)}"
            )
        for n in range(1, 129):
            if partition_device(d.path, n) == root_path:
                return d.index, n
    paths = ", ".join(d.path for d in targets)
    raise LayoutError(f"root_path {root_path} is not a partition of the target disks ({paths})")


def _swap_want(
    swap: SwapArea | None, disk: int, mode: WantMode, *, size: int = 0, weight: int = 0, floor_min: int = 0
) -> Want:
    name = f"swap {swap.path}" if swap else "swap"
    return Want(
        role="swap",
        disk=disk,
        name=name,
        mode=mode,
        size=size,
        weight=weight,
        floor_min=floor_min,
        fstype="swap",
        swap=swap,
    )


def default_wants(
    machine: Machine, sources: Sources, targets: Sequence[TargetDisk], root_disk: int | None
) -> list[Want]:
    """Filesystems from the k-th source disk holding migrating filesystems
    go to the k-th target disk when there are enough target disks, else all
    to the first. ``root_disk`` (cluster boot) overrides where / goes."""
    found = (source_disk_index(machine, fs.device) for fs in sources.filesystems)
    holding = sorted({i for i in found if i is not None})
    if len(targets) >= len(holding):
        where = {sd: targets[k].index for k, sd in enumerate(holding)}
    else:
        where = dict.fromkeys(holding, targets[0].index)
    root = machine.root()
    assert root is not None

    def target_of(device: str, fallback: int) -> int:
        sd = source_disk_index(machine, device)
        return where.get(sd, fallback) if sd is not None else fallback

    home = target_of(root.device, targets[0].index)
    wants: list[Want] = []
    for fs in sources.filesystems:
        if fs is sources.esp:
            continue
        disk = target_of(fs.device, home)
        if fs.mountpoint == "/" and root_disk is not None:
            disk = root_disk
        wants.append(
            Want(
                "filesystem",
                disk,
                fs.mountpoint or fs.device,
                "grow",
                weight=max(1, source_size(machine, fs), sources.used[fs.device]),
                mountpoint=fs.mountpoint,
                fstype=fs.fstype,
                source=fs,
                used=sources.used[fs.device],
                inodes_used=fs.inodes_used,
            )
        )
    for swap in sources.swap_partitions:
        wants.append(_swap_want(swap, target_of(swap.path, home), "fixed", size=align_up(swap.size)))
    return wants


def _check_request(r: LayoutRequest, disks: Mapping[int, TargetDisk]) -> None:
    if r.disk not in disks:
        raise LayoutError(f"{r.mountpoint}: no target disk with index {r.disk}")
    if r.mode not in ("size", "percent", "fit", "rest"):
        raise LayoutError(f"{r.mountpoint}: unknown size mode {r.mode!r}")
    if r.mode == "percent" and not 1 <= r.size <= 100:
        raise LayoutError(f"{r.mountpoint}: percent must be 1-100, not {r.size}")
    if r.mode == "size" and r.size < MiB:
        raise LayoutError(f"{r.mountpoint}: size {r.size} is less than 1 MiB")


def _request_size(r: LayoutRequest, disk: TargetDisk) -> tuple[WantMode, int, int]:
    """(mode, size, weight): sizes are rounded up, percentages down, to 1 MiB."""
    if r.mode == "size":
        return "fixed", align_up(r.size), 0
    if r.mode == "percent":
        return "fixed", align_down(disk.size * r.size // 100), 0
    if r.mode == "rest":
        return "rest", 0, 1
    return "fit", 0, 0


def explicit_wants(
    machine: Machine,
    sources: Sources,
    disks: Mapping[int, TargetDisk],
    choices: LayoutChoices,
    root_disk: int | None,
) -> tuple[list[Want], dict[str, str], list[str], list[str]]:
    """(wants, merged source mount point -> target mount point, dropped, notes)."""
    requests = choices.explicit or ()
    if not requests:
        raise LayoutError("the explicit layout is empty")
    fs_at = {fs.mountpoint: fs for fs in sources.filesystems}
    listed: dict[str, LayoutRequest] = {}
    rests: set[int] = set()
    for r in requests:
        _check_request(r, disks)
        if r.mode == "rest":
            if r.disk in rests:
                raise LayoutError(f"two requests take the rest of {disks[r.disk].path}")
            rests.add(r.disk)
        if r.mountpoint == "swap":
            continue
        if r.mountpoint in listed:
            raise LayoutError(f"{r.mountpoint} is requested twice")
        listed[r.mountpoint] = r
        if r.mountpoint not in fs_at:
            _unknown_mountpoint(r, machine, sources, choices)
    if "/" not in listed:
        raise LayoutError("the explicit layout must place /")
    if root_disk is not None and listed["/"].disk != root_disk:
        raise LayoutError(f"/ must be on disk {root_disk}, where root_path {choices.root_path} points")

    merged: dict[str, str] = {}
    merged_into: dict[str, list[Filesystem]] = {mp: [] for mp in listed}
    notes: list[str] = []
    for fs in sources.filesystems:
        mp = fs.mountpoint
        assert mp is not None
        if mp in listed or fs is sources.esp:
            continue
        parents = [p for p in listed if p not in ESP_MOUNTPOINTS and is_under(mp, p)]
        parent = max(parents, key=mount_order)
        merged[mp] = parent
        merged_into[parent].append(fs)
        notes.append(f"{mp} ({fs.fstype} on {fs.device}) is merged into {parent}: its files are copied there")

    wants: list[Want] = []
    for mp, r in listed.items():
        mode, size, weight = _request_size(r, disks[r.disk])
        src = fs_at.get(mp)
        if src is None:  # a new ESP, see _unknown_mountpoint
            wants.append(
                Want(
                    "esp",
                    r.disk,
                    "EFI system partition",
                    mode,
                    size,
                    weight,
                    ESP_MIN,
                    mountpoint=mp,
                    fstype="vfat",
                )
            )
            continue
        fs = src
        fstype = r.fstype or fs.fstype
        if fstype != fs.fstype and fs.fstype == "btrfs" and fs.subvolumes:
            raise LayoutError(f"{mp}: converting btrfs with subvolumes to {fstype} is not supported")
        extra = merged_into[mp]
        inodes = [f.inodes_used for f in (fs, *extra)]
        esp = fs is sources.esp
        wants.append(
            Want(
                "esp" if esp else "filesystem",
                r.disk,
                "EFI system partition" if esp else mp,
                mode,
                size,
                weight,
                ESP_MIN if esp else 0,
                mountpoint=mp,
                fstype=fstype,
                source=fs,
                merged=tuple(extra),
                used=sum(sources.used[f.device] for f in (fs, *extra)),
                inodes_used=None if None in inodes else sum(i or 0 for i in inodes),
                overridden=fstype != fs.fstype,
            )
        )
    dropped = _swap_requests(requests, sources, disks, choices, wants=wants, notes=notes)
    return wants, merged, dropped, notes


def _unknown_mountpoint(r: LayoutRequest, machine: Machine, sources: Sources, choices: LayoutChoices) -> None:
    """Raise unless ``r`` asks for a new ESP (EFI target, source without one)."""
    mp = r.mountpoint
    if mp in sources.dropped:
        raise LayoutError(f"{mp} is requested but not migrated (dropped)")
    for fs in sources.filesystems:
        if mp in (s.mountpoint for s in fs.subvolumes):
            raise LayoutError(
                f"{mp} is a subvolume of the btrfs filesystem at {fs.mountpoint}; "
                "it stays inside that filesystem and cannot get a partition of its own"
            )
    new_esp = mp in ESP_MOUNTPOINTS and choices.firmware == "efi" and choices.boot == "own"
    if not new_esp or machine.filesystem_at(mp) is not None:
        raise LayoutError(f"{mp}: no source filesystem is mounted there")


def _swap_requests(
    requests: Sequence[LayoutRequest],
    sources: Sources,
    disks: Mapping[int, TargetDisk],
    choices: LayoutChoices,
    *,
    wants: list[Want],
    notes: list[str],
) -> list[str]:
    """The k-th ``swap`` request replaces the k-th source swap partition
    (keeping its UUID and label); ``fit`` is the swap policy's size."""
    swaps = [r for r in requests if r.mountpoint == "swap"]
    for k, r in enumerate(swaps):
        src = sources.swap_partitions[k] if k < len(sources.swap_partitions) else None
        mode, size, weight = _request_size(r, disks[r.disk])
        if mode == "fit":
            policy = choices.swap
            if isinstance(policy, int):
                size = align_up(policy)
            elif policy == "drop":
                raise LayoutError("a swap request with fit conflicts with swap: drop")
            elif src is None:
                raise LayoutError("swap: fit needs a source swap partition to copy the size of; give a size")
            else:
                size = align_up(src.size)
            mode = "fixed"
        wants.append(
            _swap_want(
                src, r.disk, mode, size=size, weight=weight, floor_min=SWAP_MIN if mode == "rest" else 0
            )
        )
    dropped = [s.path for s in sources.swap_partitions[len(swaps) :]]
    notes += [f"swap partition {p} is not in the explicit layout; not recreated" for p in dropped]
    return dropped


def choose_tables(
    machine: Machine, targets: Sequence[TargetDisk], wants: Sequence[Want], choices: LayoutChoices
) -> tuple[dict[int, TableType], list[str]]:
    """The asked table, or (auto) that of the source disk whose data comes
    first on the target disk (the root's for new partitions), gpt when
    unknown; msdos cannot address past 2 TiB."""
    root = machine.root()
    root_sd = source_disk_index(machine, root.device) if root else None
    tables: dict[int, TableType] = {}
    notes: list[str] = []
    for d in targets:
        mine = [w for w in wants if w.disk == d.index]
        if not mine:
            continue
        devices = [w.source.device if w.source else w.swap.path if w.swap else "" for w in mine]
        found = [i for dev in devices if (i := source_disk_index(machine, dev)) is not None]
        sd = found[0] if found else root_sd
        src = machine.disks[sd].table if sd is not None else None
        if choices.table != "auto":
            table: TableType = choices.table
            if table == "msdos" and d.size > MSDOS_MAX_DISK:
                raise LayoutError(
                    f"{d.path} ({format_size(d.size)}) is larger than the 2 TiB an msdos "
                    "partition table can address; use a gpt table"
                )
            if src is not None and src != table:
                notes.append(f"{d.path} gets a {table} partition table (the source disk has {src})")
        else:
            table = src or "gpt"
            if table == "msdos" and d.size > MSDOS_MAX_DISK:
                table = "gpt"
                notes.append(
                    f"{d.path} gets a gpt partition table: msdos cannot address its {format_size(d.size)}"
                )
        tables[d.index] = table
    return tables, notes


def boot_disk(wants: Sequence[Want], fallback: int) -> int:
    """The disk holding /boot, else /."""
    want = holding_boot(wants)
    return fallback if want is None else want.disk


def boot_wants(
    wants: Sequence[Want],
    sources: Sources,
    tables: Mapping[int, TableType],
    choices: LayoutChoices,
    *,
    disk: int,
    machine: Machine,
) -> tuple[list[Want], list[str]]:
    """bios_grub (own boot, BIOS, gpt) or an ESP (own boot, EFI) on ``disk``."""
    if choices.boot != "own":
        return [], []
    if choices.firmware == "bios":
        if tables[disk] == "gpt":
            return [Want("bios_grub", disk, "bios_grub", "fixed", BIOS_GRUB)], []
        return [], []
    if any(w.role == "esp" for w in wants):
        return [], []
    esp = sources.esp
    if esp is None:
        return [
            Want(
                "esp",
                disk,
                "EFI system partition",
                "fit",
                floor_min=ESP_NEW,
                mountpoint="/boot/efi",
                fstype="vfat",
            )
        ], ["the source has no EFI system partition; an empty one is created at /boot/efi"]
    least = max(ESP_MIN, align_up(source_size(machine, esp)))
    return [
        Want(
            "esp",
            disk,
            "EFI system partition",
            "fit",
            floor_min=least,
            mountpoint=esp.mountpoint,
            fstype="vfat",
            source=esp,
            used=sources.used[esp.device],
            inodes_used=esp.inodes_used,
        )
    ], []
