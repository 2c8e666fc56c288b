"""A source that still runs, described from what it reports over SSH.

A warm pass copies a server while it runs. It needs nothing on the server
but its sshd and standard tools: the kernel's own reports (``/proc/mounts``,
``/proc/swaps``, ``/sys/block``), ``blkid -p``, ``stat -f``, ``dumpe2fs -h``
and ``xfs_info``, all of which only read. This module turns their text into
the same :class:`~p2v_tui.model.machine.Machine` the live probe fills, so
that the plan and the target are made exactly as a cold run makes them.

Every answer is parsed strictly: a server that prints something unexpected
is a :class:`RunningSourceError` naming the command, never a guess.

What is copied: the local block-device filesystems the server has mounted
(each at its first mount point); pseudo filesystems (proc, sysfs, tmpfs,
devtmpfs, cgroup ...), network filesystems (nfs, cifs, sshfs ...) and
anything else without a device are listed and left out.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from .fstab_syntax import parse_fstab
from .machine import Disk, Filesystem, Machine, OsInfo, Partition, SwapArea, TableType
from .parsers import (
    MountEntry,
    parse_blkid_export,
    parse_dumpe2fs_header,
    parse_proc_mounts,
    parse_xfs_info,
    partition_type_id,
)

COPIED_TYPES = frozenset({"ext2", "ext3", "ext4", "xfs", "vfat"})
"""Filesystems a warm pass copies from a running server."""

BIOS_GRUB_GUID = "21686148-6449-6E6F-744E-656564454649"
ESP_GUID = "C12A7328-F81F-11D2-BA4B-00A0C93EC93B"

BLOCKS_SCRIPT = r"""
for d in /sys/block/*; do
  n=${d##*/}
  [ -r "$d/size" ] || continue
  echo "disk $n $(cat "$d/size") $(cat "$d/removable" 2>/dev/null || echo 0)"
  if [ -r "$d/dm/name" ]; then echo "dm $n $(cat "$d/dm/name")"; fi
  for s in "$d"/slaves/*; do [ -e "$s" ] && echo "slave $n ${s##*/}"; done
  for p in "$d/$n"*; do
    [ -r "$p/partition" ] || continue
    echo "part ${p##*/} $n $(cat "$p/partition") $(cat "$p/start") $(cat "$p/size")"
  done
done
"""
"""Prints the block devices as the kernel sees them: ``disk NAME SECTORS
REMOVABLE``, ``dm NAME MAPPER-NAME``, ``slave NAME UNDER``, ``part NAME DISK
NUMBER START SECTORS`` (512-byte sectors, whatever the device's own)."""

STATFS_FORMAT = "%S %b %f %c %d"
"""``stat -f --format``: fragment size, blocks, free blocks, inodes, free inodes."""

_NAME = re.compile(r"[A-Za-z0-9_.:+@-]{1,64}")
_MAPPER = re.compile(r"[A-Za-z0-9_.:+@#-]{1,128}")


class RunningSourceError(Exception):
    """The running server answered something p2v does not accept, or has a
    layout a warm pass cannot copy; the message says which."""


@dataclass(frozen=True)
class BlockDevice:
    name: str
    sectors: int
    removable: bool = False
    mapper: str = ""
    slaves: tuple[str, ...] = ()


@dataclass(frozen=True)
class BlockPartition:
    name: str
    disk: str
    number: int
    start: int
    sectors: int


@dataclass(frozen=True)
class Blocks:
    devices: Mapping[str, BlockDevice]
    partitions: Mapping[str, BlockPartition]

    def path(self, name: str) -> str:
        dev = self.devices.get(name)
        if dev is not None and dev.mapper:
            return f"/dev/mapper/{dev.mapper}"
        return f"/dev/{name}"

    def disks_under(self, name: str) -> set[str]:
        """The whole disks holding the device ``name`` (partition, dm stack)."""
        if name in self.partitions:
            return {self.partitions[name].disk}
        dev = self.devices.get(name)
        if dev is None:
            return set()
        if not dev.slaves:
            return {name}
        found: set[str] = set()
        for slave in dev.slaves:
            found |= self.disks_under(slave)
        return found


def _int(text: str, what: str) -> int:
    if not text.isdigit() or len(text) > 20:
        raise RunningSourceError(f"{what}: expected a number, got {text[:40]!r}")
    return int(text)


def _name(text: str, what: str) -> str:
    if not _NAME.fullmatch(text):
        raise RunningSourceError(f"{what}: not a block device name: {text[:40]!r}")
    return text


def parse_blocks(text: str) -> Blocks:
    """The output of :data:`BLOCKS_SCRIPT`."""
    devices: dict[str, BlockDevice] = {}
    parts: dict[str, BlockPartition] = {}
    for line in text.splitlines():
        f = line.split()
        if not f:
            continue
        kind = f[0]
        where = f"/sys/block line {line[:80]!r}"
        if kind == "disk" and len(f) == 4:
            name = _name(f[1], where)
            devices[name] = BlockDevice(name, _int(f[2], where), f[3] == "1")
        elif kind == "dm" and len(f) == 3 and f[1] in devices:
            if not _MAPPER.fullmatch(f[2]):
                raise RunningSourceError(f"{where}: not a device-mapper name")
            devices[f[1]] = dataclasses.replace(devices[f[1]], mapper=f[2])
        elif kind == "slave" and len(f) == 3 and f[1] in devices:
            dev = devices[f[1]]
            devices[f[1]] = dataclasses.replace(dev, slaves=(*dev.slaves, _name(f[2], where)))
        elif kind == "part" and len(f) == 6 and f[2] in devices:
            name = _name(f[1], where)
            parts[name] = BlockPartition(name, f[2], _int(f[3], where), _int(f[4], where), _int(f[5], where))
        else:
            raise RunningSourceError(f"{where}: not understood")
    if not devices:
        raise RunningSourceError("/sys/block lists no block device")
    return Blocks(devices, parts)


@dataclass(frozen=True)
class Statfs:
    fragment: int
    blocks: int
    free: int
    inodes: int
    free_inodes: int

    @property
    def used(self) -> int:
        return (self.blocks - self.free) * self.fragment

    @property
    def inodes_used(self) -> int | None:
        return self.inodes - self.free_inodes if self.inodes else None


def parse_statfs(text: str, mountpoint: str) -> Statfs:
    """``stat -f --format=STATFS_FORMAT MOUNTPOINT``."""
    f = text.split()
    what = f"stat -f {mountpoint}"
    if len(f) != 5:
        raise RunningSourceError(f"{what}: expected 5 numbers, got {text.strip()[:80]!r}")
    fragment, blocks, free, inodes, free_inodes = (_int(v, what) for v in f)
    if not fragment or free > blocks or free_inodes > inodes:
        raise RunningSourceError(f"{what}: impossible numbers {text.strip()[:80]!r}")
    return Statfs(fragment, blocks, free, inodes, free_inodes)


def parse_proc_swaps(text: str) -> list[tuple[str, str, int]]:
    """``/proc/swaps``: (path, ``partition`` or ``file``, bytes) of each active swap."""
    swaps = []
    lines = text.splitlines()
    for line in lines[1:]:
        f = line.split()
        if not f:
            continue
        if len(f) < 3 or f[1] not in ("partition", "file"):
            raise RunningSourceError(f"/proc/swaps: not understood: {line[:80]!r}")
        swaps.append((f[0].replace("\\040", " "), f[1], _int(f[2], "/proc/swaps") * 1024))
    return swaps


def links_to_resolve(mounts_text: str) -> list[str]:
    """Mount sources that are links, not kernel names: an old Debian's
    ``/dev/disk/by-uuid/...`` root, ``/dev/VG/LV``, ``/dev/root``."""
    return sorted(
        {
            m.source
            for m in parse_proc_mounts(mounts_text)
            if m.fstype in COPIED_TYPES
            and m.source.startswith("/dev/")
            and (m.source == "/dev/root" or not re.fullmatch(r"/dev/(mapper/)?[^/]+", m.source))
        }
    )


def local_mounts(
    mounts_text: str, links: Mapping[str, str] | None = None
) -> tuple[list[MountEntry], list[MountEntry]]:
    """(the filesystems a warm pass copies, the mounts it leaves out);
    ``links``: mount source -> the device it resolves to on the server.

    A device mounted several times (bind mounts) is copied once, at its
    shallowest mount point; its other mounts are left out like any
    mount without a device."""
    copied: dict[str, MountEntry] = {}
    left: list[MountEntry] = []
    for found in parse_proc_mounts(mounts_text):
        m = found
        if links and m.source in links:
            m = MountEntry(links[m.source], m.target, m.fstype, m.options)
        if m.source.startswith("/dev/") and m.fstype in COPIED_TYPES:
            before = copied.get(m.source)
            if before is None or _depth(m.target) < _depth(before.target):
                if before is not None:
                    left.append(before)
                copied[m.source] = m
                continue
        if m.source.startswith("/dev/") and m.fstype == "btrfs":
            raise RunningSourceError(
                f"{m.target} is btrfs: a warm pass cannot reach its subvolumes on the running server; "
                "migrate it cold from the live image"
            )
        left.append(m)
    # the last mount on a mount point hides the ones before it
    by_target: dict[str, MountEntry] = {}
    for m in copied.values():
        by_target[m.target] = m
    hidden = [m for m in copied.values() if by_target[m.target] is not m]
    if "/" not in by_target:
        raise RunningSourceError("/proc/mounts: / is not a local filesystem p2v copies")
    return sorted(by_target.values(), key=lambda m: (_depth(m.target), m.target)), left + hidden


def _depth(path: str) -> int:
    return 0 if path == "/" else path.count("/")


@dataclass(frozen=True)
class RunningReports:
    """What the running server said, command by command."""

    mounts: str
    """/proc/mounts"""
    swaps: str
    """/proc/swaps"""
    blocks: str
    """:data:`BLOCKS_SCRIPT`"""
    fstab: str
    hostname: str
    links: Mapping[str, str]
    """mount source -> ``readlink -f`` of it (see :func:`links_to_resolve`)"""
    signatures: Mapping[str, str]
    """device path -> ``blkid -p -o export`` (disks, partitions, filesystems, swap)"""
    statfs: Mapping[str, str]
    """mount point -> ``stat -f``"""
    details: Mapping[str, str]
    """device -> ``dumpe2fs -h`` (ext) or ``xfs_info`` (xfs)"""


def _table(signature: str) -> TableType | None:
    kind = parse_blkid_export(signature).get("PTTYPE", "")
    return {"dos": "msdos", "gpt": "gpt"}.get(kind)  # type: ignore[return-value]


def _partition(bp: BlockPartition, blocks: Blocks, signature: str) -> Partition:
    tags = parse_blkid_export(signature)
    type_id = partition_type_id(tags.get("PART_ENTRY_TYPE", ""))
    flags = set()
    if type_id == BIOS_GRUB_GUID:
        flags.add("bios_grub")
    if type_id in (ESP_GUID, "EF"):
        flags.add("esp")
    return Partition(
        path=blocks.path(bp.name),
        number=bp.number,
        start=bp.start * 512,
        size=bp.sectors * 512,
        flags=frozenset(flags),
        type_id=type_id,
        name=tags.get("PART_ENTRY_NAME", ""),
        part_uuid=tags.get("PART_ENTRY_UUID", ""),
    )


def devices_to_ask(
    reports_mounts: str, swaps: str, blocks_text: str, links: Mapping[str, str] | None = None
) -> list[str]:
    """The device paths whose ``blkid -p`` the description needs: the
    disks in use, their partitions, and every copied filesystem and swap."""
    blocks = parse_blocks(blocks_text)
    copied, _left = local_mounts(reports_mounts, links)
    wanted = [m.source for m in copied] + [p for p, kind, _ in parse_proc_swaps(swaps) if kind == "partition"]
    disks = _disks_in_use(blocks, wanted)
    paths = [blocks.path(d) for d in sorted(disks)]
    paths += [blocks.path(p.name) for p in sorted(blocks.partitions.values(), key=_order) if p.disk in disks]
    return list(dict.fromkeys([*paths, *wanted]))


def _order(p: BlockPartition) -> tuple[str, int]:
    return (p.disk, p.number)


def _by_path(blocks: Blocks) -> dict[str, str]:
    """device path -> kernel name, for mount sources and swap paths."""
    names = {blocks.path(n): n for n in blocks.devices}
    names.update({blocks.path(n): n for n in blocks.partitions})
    names.update({f"/dev/{n}": n for n in (*blocks.devices, *blocks.partitions)})
    return names


def _disks_in_use(blocks: Blocks, devices: Sequence[str]) -> set[str]:
    names = _by_path(blocks)
    disks: set[str] = set()
    for device in devices:
        name = names.get(device)
        if name is not None:
            disks |= blocks.disks_under(name)
    return disks


def describe_running(reports: RunningReports) -> Machine:
    """The running server as a :class:`Machine`: the disks it uses, the
    filesystems it has mounted (at their mount points, with the used bytes
    and inodes it reports), its swap, its fstab and its hostname."""
    blocks = parse_blocks(reports.blocks)
    copied, _left = local_mounts(reports.mounts, reports.links)
    swaps_found = parse_proc_swaps(reports.swaps)
    in_use = _disks_in_use(blocks, [m.source for m in copied] + [p for p, kind, _ in swaps_found])
    disks = []
    for name in sorted(in_use):
        dev = blocks.devices[name]
        signature = reports.signatures.get(blocks.path(name), "")
        parts = tuple(
            _partition(p, blocks, reports.signatures.get(blocks.path(p.name), ""))
            for p in sorted(blocks.partitions.values(), key=_order)
            if p.disk == name
        )
        disks.append(
            Disk(
                path=blocks.path(name),
                size=dev.sectors * 512,
                table=_table(signature),
                partitions=parts,
                removable=dev.removable,
            )
        )
    filesystems = tuple(_filesystem(m, reports) for m in copied)
    swaps = []
    holders = {m.target: m.source for m in copied}
    for path, kind, size in swaps_found:
        tags = parse_blkid_export(reports.signatures.get(path, ""))
        if kind == "partition":
            swaps.append(SwapArea("partition", path, size, tags.get("UUID", ""), tags.get("LABEL", "")))
        else:
            holder = max((t for t in holders if path.startswith(t.rstrip("/") + "/")), key=len, default="")
            swaps.append(SwapArea("file", path, size, on_device=holders.get(holder, "")))
    # a swap partition the server does not use now is still its swap
    active = {path for path, _kind, _size in swaps_found}
    for disk in disks:
        for part in disk.partitions:
            tags = parse_blkid_export(reports.signatures.get(part.path, ""))
            if tags.get("TYPE") == "swap" and part.path not in active:
                swaps.append(
                    SwapArea("partition", part.path, part.size, tags.get("UUID", ""), tags.get("LABEL", ""))
                )
    hostname = reports.hostname.strip().splitlines()[0] if reports.hostname.strip() else ""
    return Machine(
        disks=tuple(disks),
        filesystems=filesystems,
        swaps=tuple(swaps),
        fstab=tuple(parse_fstab(reports.fstab)),
        os=OsInfo(hostname=hostname),
    )


def _filesystem(m: MountEntry, reports: RunningReports) -> Filesystem:
    tags = parse_blkid_export(reports.signatures.get(m.source, ""))
    if tags.get("TYPE", m.fstype) != m.fstype:
        raise RunningSourceError(
            f"blkid -p {m.source} finds {tags.get('TYPE')}, /proc/mounts says {m.fstype}"
        )
    stat = parse_statfs(reports.statfs.get(m.target, ""), m.target)
    size = stat.blocks * stat.fragment
    features: tuple[str, ...] = ()
    detail = reports.details.get(m.source, "")
    try:
        if m.fstype.startswith("ext") and detail:
            ext = parse_dumpe2fs_header(detail)
            features, size = ext.creation_features, ext.size or size
        elif m.fstype == "xfs" and detail:
            xfs = parse_xfs_info(detail)
            features, size = xfs.features, xfs.size or size
    except ValueError as e:
        raise RunningSourceError(f"the details of {m.source} are not understood: {e}") from None
    return Filesystem(
        device=m.source,
        fstype=m.fstype,
        uuid=tags.get("UUID", ""),
        label=tags.get("LABEL", ""),
        size=size,
        used=stat.used,
        inodes_used=stat.inodes_used,
        mountpoint=m.target,
        features=features,
    )
