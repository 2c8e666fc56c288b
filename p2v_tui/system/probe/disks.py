"""Disks and their partition tables, read with pyparted and /sys/block.

pyparted objects stay in this module: :func:`read_disk` turns them into
:class:`~p2v_tui.model.machine.Disk` data at once. Nothing here commits a
partition table; libparted's questions ("fix the backup GPT?") are answered
with Ignore/No/Cancel so that it never writes on its own either.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import parted

from ...model.machine import PARTITION_FLAGS, Disk, Partition, TableType
from ...model.parsers import partition_type_id
from ..runner import CommandRunner

log = logging.getLogger(__name__)

SYS_BLOCK = "/sys/block"

#: Kernel block devices that are never a source disk.
_NOT_DISKS = ("ram", "zram", "sr", "fd", "dm-", "md", "nbd", "loop")


def list_disks(named: Sequence[str] | None = None, *, sys_block: str = SYS_BLOCK) -> list[str]:
    """Device paths of candidate disks, in kernel name order.

    Loop devices (the live system's own squashfs, other tools' images) only
    when ``named``; with ``named`` only those are returned.
    """
    if named is not None:
        return [os.path.realpath(p) if os.path.islink(p) else p for p in named]
    disks = []
    for name in sorted(os.listdir(sys_block)):
        if name.startswith(_NOT_DISKS):
            continue
        if _read_sys(sys_block, name, "size") in ("", "0"):
            continue  # empty card reader, unattached nbd
        disks.append("/dev/" + name.replace("!", "/"))
    return disks


def _read_sys(sys_block: str, name: str, attr: str) -> str:
    try:
        with open(os.path.join(sys_block, name, attr), encoding="ascii") as f:
            return f.read().strip()
    except OSError:
        return ""


def is_removable(disk: str, *, sys_block: str = SYS_BLOCK) -> bool:
    return _read_sys(sys_block, os.path.basename(disk).replace("/", "!"), "removable") == "1"


@dataclass(frozen=True)
class RawPartition:
    number: int
    path: str
    start: int
    size: int
    flags: frozenset[str]
    name: str
    extended: bool
    """An msdos extended partition: a container for logical partitions."""


@dataclass(frozen=True)
class RawDisk:
    path: str
    size: int
    sector_size: int
    model: str
    table: TableType | None
    partitions: tuple[RawPartition, ...]
    unsupported_table: str = ""
    """A partition table type other than gpt/msdos (``mac``, ``sun`` ...)."""
    error: str = ""
    """Why the disk could not be read at all (then only its size is known)."""


def unreadable_disk(path: str, error: str, *, sys_block: str = SYS_BLOCK) -> RawDisk:
    """What /sys/block still tells about a disk libparted cannot open."""
    name = os.path.basename(path) if not path.startswith("/dev/cciss/") else path[5:].replace("/", "!")
    sectors = _read_sys(sys_block, name, "size")
    return RawDisk(
        path=path,
        size=int(sectors) * 512 if sectors.isdigit() else 0,  # /sys counts 512-byte units
        sector_size=512,
        model="",
        table=None,
        partitions=(),
        error=error,
    )


def _answer_without_fixing(_type: int, options: int, message: str) -> int:
    """libparted asks e.g. whether to repair a GPT whose backup is not at the
    end of the disk; repairing writes to the disk at once. Never say Fix."""
    log.debug("libparted: %s", message)
    for answer in (parted.EXCEPTION_RESOLVE_IGNORE, parted.EXCEPTION_RESOLVE_NO):
        if options & answer:
            return int(answer)
    return int(parted.EXCEPTION_RESOLVE_CANCEL)


def _flags(part: parted.Partition) -> frozenset[str]:
    flags = set()
    for value, name in parted.partitionFlag.items():
        if name in PARTITION_FLAGS and part.isFlagAvailable(value) and part.getFlag(value):
            flags.add(name)
    return frozenset(flags)


def read_disk(path: str) -> RawDisk:
    """Read one disk's partition table (read-only: no commit is ever made)."""
    parted.register_exn_handler(_answer_without_fixing)
    device = None
    try:
        device = parted.getDevice(path)
        return _raw_disk(path, device)
    finally:
        parted.clear_exn_handler()
        if device is not None:
            # libparted caches devices by path: a later loop device under the
            # same name would otherwise be reported with this one's size.
            device.removeFromCache()


def _raw_disk(path: str, device: parted.Device) -> RawDisk:
    sector = int(device.sectorSize)

    def raw(table: TableType | None, partitions: tuple[RawPartition, ...] = (), other: str = "") -> RawDisk:
        return RawDisk(
            path=path,
            size=int(device.length) * sector,
            sector_size=sector,
            model=str(device.model),
            table=table,
            partitions=partitions,
            unsupported_table=other,
        )

    try:
        disk = parted.newDisk(device)
    except Exception as exc:  # _ped.DiskException: no recognised label
        log.debug("%s: no partition table (%s)", path, exc)
        return raw(None)
    if disk.type == "loop":
        return raw(None)  # libparted's name for "a filesystem on the whole disk"
    if disk.type not in ("gpt", "msdos"):
        return raw(None, other=str(disk.type))
    names = disk.supportsFeature(parted.DISK_TYPE_PARTITION_NAME)
    partitions = tuple(
        RawPartition(
            number=int(p.number),
            path=str(p.path),
            start=int(p.geometry.start) * sector,
            size=int(p.geometry.length) * sector,
            flags=_flags(p),
            name=str(p.name or "") if names else "",
            extended=bool(p.type & parted.PARTITION_EXTENDED),
        )
        for p in disk.partitions
    )
    return raw("gpt" if disk.type == "gpt" else "msdos", partitions)


def partx_update_argv(disk: str, last: int) -> list[str]:
    return [
        "partx",
        "--update",  # tell the kernel about partitions; reads the table, writes nothing to disk
        "--nr", f"1:{last}",  # explicit range: without it logical partitions past 5 are skipped
        disk,
    ]  # fmt: skip


def ensure_partition_nodes(runner: CommandRunner, raw: RawDisk, *, wait: float = 5.0) -> None:
    """Make the kernel create ``/dev`` nodes for partitions it has not read.

    A normal kernel reads partition tables itself and udev makes the nodes;
    without that (a loop device attached without partition scanning) the
    nodes appear after ``partx --update``.
    """
    missing = [p.path for p in raw.partitions if not os.path.exists(p.path)]
    if not missing:
        return
    log.info("%s: asking the kernel for partitions %s", raw.path, ", ".join(missing))
    runner.run(partx_update_argv(raw.path, max(p.number for p in raw.partitions)), check=False)
    deadline = time.monotonic() + wait
    while any(not os.path.exists(p) for p in missing) and time.monotonic() < deadline:
        time.sleep(0.1)
    for p in missing:
        if not os.path.exists(p):
            log.warning("%s: no device node appeared; its contents cannot be probed", p)


def to_disk(
    raw: RawDisk, blkid: Mapping[str, Mapping[str, str]], *, removable: bool, excluded: str | None
) -> Disk:
    """The model's :class:`Disk`, with type ids and PARTUUIDs from blkid."""
    partitions = []
    for p in raw.partitions:
        info = blkid.get(p.path, {})
        partitions.append(
            Partition(
                path=p.path,
                number=p.number,
                start=p.start,
                size=p.size,
                flags=p.flags,
                type_id=partition_type_id(info["PART_ENTRY_TYPE"]) if info.get("PART_ENTRY_TYPE") else "",
                name=p.name,
                part_uuid=info.get("PART_ENTRY_UUID", ""),
            )
        )
    return Disk(
        path=raw.path,
        size=raw.size,
        sector_size=raw.sector_size,
        table=raw.table,
        model=raw.model,
        partitions=tuple(partitions),
        removable=removable,
        excluded=excluded,
    )
