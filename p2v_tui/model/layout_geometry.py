"""Where partitions go on a disk: alignment, table limits, numbering.

All offsets are bytes. Sectors are assumed to be 512 bytes: target disks are
virtual disks (virtio, Xen) whose logical sector size is 512, and
:class:`~p2v_tui.model.target.TargetDisk` carries no sector size.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from .machine import TableType
from .units import SECTOR, MiB, TiB, align_down

FIRST_START = 1 * MiB
"""The first partition starts at 1 MiB: room for the GPT (or, on msdos, for
GRUB's core image behind the MBR) and aligned for every storage stack."""

GPT_BACKUP = 33 * SECTOR
"""The backup GPT at the end of the disk: 32 sectors of partition entries
(128 * 128 bytes) and the header. The last partition ends at the last MiB
boundary before it, so a disk of whole MiBs keeps its last MiB free."""

EBR_GAP = 1 * MiB
"""msdos: every logical partition is preceded by 1 MiB holding its EBR."""

MSDOS_PRIMARY = 4
MSDOS_MAX_DISK = 2 * TiB
"""msdos addresses 2^32 sectors of 512 bytes."""


def usable_end(disk_size: int, table: TableType) -> int:
    """Offset where the last partition must end (1 MiB aligned)."""
    if table == "gpt":
        return align_down(disk_size - GPT_BACKUP)
    return align_down(disk_size)


def uses_extended(table: TableType, count: int) -> bool:
    return table == "msdos" and count > MSDOS_PRIMARY


def table_overhead(table: TableType, count: int) -> int:
    """Bytes between partitions: the EBR gaps before logical partitions."""
    return (count - (MSDOS_PRIMARY - 1)) * EBR_GAP if uses_extended(table, count) else 0


def capacity(disk_size: int, table: TableType, count: int) -> int:
    """Bytes ``count`` partitions can share on the disk; negative when even
    the table does not fit, so that what is missing is counted in full."""
    return usable_end(disk_size, table) - FIRST_START - table_overhead(table, count)


def partition_numbers(table: TableType, count: int) -> list[int]:
    """GPT and up to four msdos partitions: 1..n. More on msdos: 1-3
    primary, 4 is the extended partition, logicals are 5, 6 ..."""
    if not uses_extended(table, count):
        return list(range(1, count + 1))
    return [1, 2, 3, *range(5, count + 2)]


@dataclass(frozen=True)
class Slot:
    number: int
    start: int
    logical: bool = False


def place(
    sizes: Sequence[int], table: TableType, disk_size: int
) -> tuple[list[Slot], tuple[int, int] | None]:
    """Starts for partitions of ``sizes`` (in disk order), back to back from
    FIRST_START, and the extended partition (start, size) if msdos needs one:
    it starts where partition 3 ends and runs to the usable end; each logical
    partition starts 1 MiB after the previous one ends (its EBR)."""
    numbers = partition_numbers(table, len(sizes))
    slots: list[Slot] = []
    extended: tuple[int, int] | None = None
    cursor = FIRST_START
    extend = uses_extended(table, len(sizes))
    for number, size in zip(numbers, sizes, strict=True):
        logical = extend and number > MSDOS_PRIMARY
        if logical:
            if extended is None:
                extended = (cursor, usable_end(disk_size, table) - cursor)
            cursor += EBR_GAP
        slots.append(Slot(number, cursor, logical))
        cursor += size
    return slots, extended


def partition_device(disk_path: str, number: int) -> str:
    """``/dev/vda`` + 2 -> ``/dev/vda2``; a disk name ending in a digit takes
    a ``p``: ``/dev/loop7p1``, ``/dev/nvme0n1p1``, ``/dev/mmcblk0p1``."""
    sep = "p" if disk_path[-1:].isdigit() else ""
    return f"{disk_path}{sep}{number}"
