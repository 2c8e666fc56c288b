"""A :class:`DiskPlan` as an ``sfdisk`` script.

The script gives every partition's exact start and size in sectors, so
sfdisk creates the table the planner computed instead of aligning on its own.
Sectors are 512 bytes (see layout_geometry: target disks are virtual disks
with 512-byte logical sectors).
"""

from __future__ import annotations

from .plan import BootMode, DiskPlan, PartitionRole, PlannedPartition, holding_boot
from .units import SECTOR

GPT_TYPES: dict[PartitionRole, str] = {
    "filesystem": "0FC63DAF-8483-4772-8E79-3D69D8477DE4",  # Linux filesystem
    "swap": "0657FD6D-A4AB-43C4-84E5-0933C84B4F4F",  # Linux swap
    "bios_grub": "21686148-6449-6E6F-744E-656564454649",  # BIOS boot
    "esp": "C12A7328-F81F-11D2-BA4B-00A0C93EC93B",  # EFI system
}

MSDOS_TYPES: dict[PartitionRole, str] = {
    "filesystem": "83",
    "swap": "82",
    "esp": "ef",
}
MSDOS_EXTENDED = "5"

SFDISK_LABELS = {"gpt": "gpt", "msdos": "dos"}
"""sfdisk calls an msdos table ``dos``."""


class PartitioningError(ValueError):
    """The plan cannot be written as asked (a planner bug, not a user error)."""


def _sectors(n: int) -> int:
    if n % SECTOR:
        raise PartitioningError(f"{n} bytes is not a whole number of {SECTOR}-byte sectors")
    return n // SECTOR


def _line(start: int, size: int, type_id: str, bootable: bool = False) -> str:
    text = f"start={_sectors(start)}, size={_sectors(size)}, type={type_id}"
    return text + ", bootable" if bootable else text


def boot_partition(disk: DiskPlan) -> PlannedPartition | None:
    """The partition holding /boot, else /, on this disk."""
    return holding_boot(disk.partitions)


def sfdisk_script(disk: DiskPlan, *, boot: BootMode = "own") -> str:
    """``label:``, ``unit: sectors`` and one line per partition in number
    order; msdos gets the extended partition before the logical ones and,
    for ``own`` boot, the ``bootable`` flag on the partition holding /boot
    (or /) - some BIOSes skip disks without an active partition."""
    table = disk.table
    types = GPT_TYPES if table == "gpt" else MSDOS_TYPES
    active = boot_partition(disk) if table == "msdos" and boot == "own" else None
    lines = [f"label: {SFDISK_LABELS[table]}", "unit: sectors", ""]
    extended = disk.extended
    for p in sorted(disk.partitions, key=lambda p: p.number):
        if p.role not in types:
            raise PartitioningError(f"{p.device}: a {p.role} partition cannot go in an {table} table")
        if p.logical:
            if disk.extended is None:
                raise PartitioningError(f"{p.device} is logical but the plan has no extended partition")
            if extended is not None:  # once, just before the first logical partition
                lines.append(_line(*extended, MSDOS_EXTENDED))
                extended = None
        lines.append(_line(p.start, p.size, types[p.role], p is active))
    return "\n".join(lines) + "\n"
