"""Which probed device each of the source's /etc/fstab entries means.

The live image sees the source's disks under its own names, so an entry is
matched by what it says: ``UUID=``/``LABEL=`` against filesystems and swap,
``PARTUUID=``/``PARTLABEL=`` against partitions, LVM and md names against
volume groups and arrays, and kernel names (``/dev/sda2``) by disk order and
partition number, since the disk that was ``sda`` on the source may be
``sdb`` here. Only the last is a guess; guesses leave a note for the user.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable
from dataclasses import dataclass

from .fstab_syntax import mount_option
from .machine import Disk, Filesystem, FstabEntry, Machine, Subvolume, SwapArea

#: Filesystem types that never live on a source disk.
PSEUDO_FSTYPES = frozenset(
    {
        "proc", "sysfs", "tmpfs", "devtmpfs", "devpts", "ramfs", "none", "cgroup", "cgroup2",
        "securityfs", "debugfs", "tracefs", "configfs", "fusectl", "pstore", "efivarfs",
        "binfmt_misc", "hugetlbfs", "mqueue", "autofs", "rpc_pipefs", "usbfs", "nfs", "nfs4",
        "cifs", "smbfs", "smb3", "9p", "sshfs", "fuse", "fuse.sshfs", "glusterfs", "ceph",
        "iso9660", "udf",
    }
)  # fmt: skip

_LETTER_DISK = re.compile(r"^/dev/(?:sd|vd|hd|xvd)(?P<letters>[a-z]+)(?P<num>\d*)$")
_INDEXED_DISK = (
    re.compile(r"^/dev/nvme(?P<index>\d+)n\d+(?:p(?P<num>\d+))?$"),
    re.compile(r"^/dev/mmcblk(?P<index>\d+)(?:p(?P<num>\d+))?$"),
    re.compile(r"^/dev/(?:cciss|ida|rd)/c\d+d(?P<index>\d+)(?:p(?P<num>\d+))?$"),
)
_UDEV_ESCAPE = re.compile(r"\\x([0-9a-fA-F]{2})")
_BY = {
    "/dev/disk/by-uuid/": "UUID",
    "/dev/disk/by-label/": "LABEL",
    "/dev/disk/by-partuuid/": "PARTUUID",
    "/dev/disk/by-partlabel/": "PARTLABEL",
}


TAGS = ("UUID", "LABEL", "PARTUUID", "PARTLABEL")


def split_tag(spec: str) -> tuple[str, str]:
    """``("UUID", "abcd")``, ``("LABEL", "root")`` ... or ``("", spec)`` for a
    path. Quotes around the value are dropped; ``/dev/disk/by-uuid/X`` and
    friends are turned into their tag."""
    for tag in TAGS:
        if spec.upper().startswith(tag + "="):
            value = spec[len(tag) + 1 :]
            if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
                value = value[1:-1]
            return tag, value
    for prefix, tag in _BY.items():
        if spec.startswith(prefix):
            return tag, _UDEV_ESCAPE.sub(lambda m: chr(int(m.group(1), 16)), spec[len(prefix) :])
    return "", spec


@dataclass(frozen=True)
class Resolved:
    device: str
    """``Filesystem.device``, ``SwapArea.path``, an LV's ``/dev/VG/LV`` or an
    md array's device."""
    note: str = ""
    """Set when the match is a guess the user should check."""


def kernel_name_position(spec: str) -> tuple[int, int | None] | None:
    """``/dev/sdc2`` -> ``(2, 2)``: the disk's position among the source's
    disks of that kind and the partition number (None for a whole disk)."""
    m = _LETTER_DISK.match(spec)
    if m:
        index = 0
        for c in m["letters"]:
            index = index * 26 + (ord(c) - ord("a") + 1)
        return index - 1, int(m["num"]) if m["num"] else None
    for pattern in _INDEXED_DISK:
        m = pattern.match(spec)
        if m:
            return int(m["index"]), int(m["num"]) if m["num"] else None
    return None


def _source_disks(machine: Machine) -> list[Disk]:
    return [d for d in machine.disks if d.excluded is None]


def _by_tag(tag: str, value: str, machine: Machine) -> list[str]:
    value_cf = value.casefold()
    if tag in ("UUID", "LABEL"):
        attr = "uuid" if tag == "UUID" else "label"
        found = [fs.device for fs in machine.filesystems if getattr(fs, attr).casefold() == value_cf]
        found += [
            s.path for s in machine.swaps if s.kind == "partition" and getattr(s, attr).casefold() == value_cf
        ]
        return found
    parts = [p for d in _source_disks(machine) for p in d.partitions]
    if tag == "PARTUUID":
        return [p.path for p in parts if p.part_uuid and p.part_uuid.casefold() == value_cf]
    if tag == "PARTLABEL":
        return [p.path for p in parts if p.name and p.name == value]
    return []


def _disk_of(device: str, disks: list[Disk]) -> Disk | None:
    for disk in disks:
        if device == disk.path or any(p.path == device for p in disk.partitions):
            return disk
    return None


def _by_kernel_name(spec: str, machine: Machine, root_device: str) -> Resolved | None:
    """Kernel names are anchored on the root filesystem: when fstab names /
    ``/dev/sdb3`` and the filesystem holding that fstab is on disk D, then
    ``sdb`` is D. Other letters map to the other source disks in order (a
    guess, with a note). Without an anchor only the first disk's name
    (sda, vda, hda, nvme0n1) is taken, for a single source disk."""
    position = kernel_name_position(spec)
    if position is None:
        return None
    index, number = position
    disks = _source_disks(machine)
    if not disks:
        return None
    root_disk = _disk_of(root_device, disks) if root_device else None
    root_spec = next((e.spec for e in machine.fstab if e.file == "/"), "")
    anchor = kernel_name_position(root_spec)
    guess = False
    if root_disk is not None and anchor is not None:
        if index == anchor[0]:
            disk = root_disk
        else:
            others = [d for d in disks if d is not root_disk]
            # the letters before and after the root's, in order
            rank = index if index < anchor[0] else index - 1
            if rank >= len(others):
                return None
            disk, guess = others[rank], True
    elif len(disks) == 1:
        if index != 0:
            return None
        disk = disks[0]
    elif index < len(disks):
        disk, guess = disks[index], True
    else:
        return None
    if number is None:
        device = disk.path if disk.table is None else ""
    else:
        device = next((p.path for p in disk.partitions if p.number == number), "")
    if not device:
        return None
    note = (
        f"fstab names {spec}; taken to be {device} (same disk order and partition number) - check this"
        if guess and device != spec
        else ""
    )
    return Resolved(device, note)


def _dm_name_to_lv(name: str) -> tuple[str, str] | None:
    """device-mapper names double a hyphen inside VG and LV names."""
    parts = re.split(r"(?<!-)-(?!-)", name)
    if len(parts) != 2:
        return None
    return parts[0].replace("--", "-"), parts[1].replace("--", "-")


def _md_key(device: str) -> str:
    """``/dev/md0`` and ``/dev/md/0`` name the same array."""
    m = re.fullmatch(r"/dev/md/?(\d+)", device)
    return f"md{m.group(1)}" if m else device


def resolve_spec(spec: str, machine: Machine, root_device: str = "") -> Resolved | None:
    """The probed device an fstab spec refers to, or None. ``root_device``
    holds the fstab (default: the filesystem mounted at /)."""
    tag, value = split_tag(spec)
    if tag:
        found = _by_tag(tag, value, machine)
        if not found:
            return None
        note = f"{spec} matches {len(found)} devices; {found[0]} was taken" if len(set(found)) > 1 else ""
        return Resolved(found[0], note)
    if spec.startswith("/dev/mapper/"):
        pair = _dm_name_to_lv(spec.removeprefix("/dev/mapper/"))
        if pair:
            for vg in machine.volume_groups:
                for lv in vg.lvs:
                    if (lv.vg, lv.name) == pair:
                        return Resolved(lv.path)
        return None
    for vg in machine.volume_groups:
        for lv in vg.lvs:
            if spec in (lv.path, f"/dev/{lv.vg}/{lv.name}"):
                return Resolved(lv.path)
    for md in machine.md_arrays:
        if _md_key(spec) == _md_key(md.device):
            return Resolved(md.device)
    if kernel_name_position(spec) is not None:
        if not root_device:
            root_device = next((fs.device for fs in machine.filesystems if fs.mountpoint == "/"), "")
        return _by_kernel_name(spec, machine, root_device)
    for disk in _source_disks(machine):
        if spec in (disk.path, *(p.path for p in disk.partitions)):
            return Resolved(spec)
    return None


def swap_file_paths(fstab: Iterable[FstabEntry]) -> tuple[str, ...]:
    """Swap entries that name a file inside the source system."""
    return tuple(
        e.spec
        for e in fstab
        if e.vfstype == "swap" and e.spec.startswith("/") and not e.spec.startswith("/dev/")
    )


def _depth(mountpoint: str) -> int:
    return len([c for c in mountpoint.split("/") if c])


def _shallowest(current: str | None, candidate: str) -> str:
    return candidate if current is None or _depth(candidate) < _depth(current) else current


def btrfs_subvolume_id(fs: Filesystem, mntops: str) -> int:
    """The subvolume id an fstab entry mounts (default subvolume without options)."""
    subvolid = mount_option(mntops, "subvolid")
    if subvolid and subvolid.isdigit():
        return int(subvolid)
    subvol = mount_option(mntops, "subvol")
    if subvol is not None:
        path = subvol.strip("/")
        if not path:
            return 5
        for sv in fs.subvolumes:
            if sv.path == path:
                return sv.id
        return -1
    return fs.default_subvolume


def apply_fstab(machine: Machine, *, root_device: str = "", root_subvolume: int | None = None) -> Machine:
    """Set ``Filesystem.mountpoint`` (and btrfs ``Subvolume.mountpoint``)
    from ``machine.fstab``; add swap on inactive LVs; leave notes.

    ``root_device`` is the filesystem that holds the fstab: it is ``/`` even
    when the fstab's own entry for ``/`` matches nothing here (``/dev/root``).
    Notes about entries that match nothing go to that filesystem.
    """
    by_device = {fs.device: fs for fs in machine.filesystems}
    mountpoints: dict[str, str] = {}
    subvol_mounts: dict[tuple[str, int], str] = {}
    notes: dict[str, list[str]] = {}
    swaps = list(machine.swaps)
    lvs = {lv.path: lv for vg in machine.volume_groups for lv in vg.lvs}

    def note(device: str, text: str) -> None:
        if device and text and text not in notes.setdefault(device, []):
            notes[device].append(text)

    for entry in machine.fstab:
        if entry.vfstype in PSEUDO_FSTYPES or mount_option(entry.mntops, "bind") is not None:
            continue
        if entry.vfstype == "swap" and entry.spec in swap_file_paths([entry]):
            continue
        resolved = resolve_spec(entry.spec, machine, root_device)
        if resolved is None:
            if mount_option(entry.mntops, "noauto") is None:
                note(root_device, f"fstab entry {entry.spec} for {entry.file} matches no probed device")
            continue
        if entry.vfstype == "swap":
            if resolved.device in lvs and not any(s.path == resolved.device for s in swaps):
                lv = lvs[resolved.device]
                swaps.append(SwapArea(kind="partition", path=lv.path, size=lv.size))
            continue
        fs = by_device.get(resolved.device)
        if fs is None:
            if resolved.device in lvs:
                note(root_device, f"{entry.file} is on {resolved.device}, not active here: not probed")
            continue
        note(fs.device, resolved.note)
        mountpoints[fs.device] = _shallowest(mountpoints.get(fs.device), entry.file)
        if fs.fstype == "btrfs":
            sv_id = btrfs_subvolume_id(fs, entry.mntops)
            if sv_id == -1:
                missing = mount_option(entry.mntops, "subvol")
                note(fs.device, f"fstab mounts subvolume {missing}, which does not exist")
            elif sv_id != 5:
                key = (fs.device, sv_id)
                subvol_mounts[key] = _shallowest(subvol_mounts.get(key), entry.file)

    if root_device in by_device and "/" not in mountpoints.values():
        mountpoints[root_device] = "/"
        if root_subvolume not in (None, 5):
            subvol_mounts[(root_device, root_subvolume)] = "/"
        spec = next((e.spec for e in machine.fstab if e.file == "/"), "none")
        note(root_device, f"fstab's entry for / ({spec}) matches no probed device; this one holds /etc/fstab")

    def updated(fs: Filesystem) -> Filesystem:
        subvolumes = tuple(
            dataclasses.replace(sv, mountpoint=subvol_mounts.get((fs.device, sv.id), sv.mountpoint))
            for sv in fs.subvolumes
        )
        return dataclasses.replace(
            fs,
            mountpoint=mountpoints.get(fs.device, fs.mountpoint),
            subvolumes=subvolumes,
            notes=fs.notes + tuple(n for n in notes.get(fs.device, []) if n not in fs.notes),
        )

    return dataclasses.replace(
        machine,
        filesystems=tuple(updated(fs) for fs in machine.filesystems),
        swaps=tuple(swaps),
    )


def subvolume_at(fs: Filesystem, mountpoint: str) -> Subvolume | None:
    for sv in fs.subvolumes:
        if sv.mountpoint == mountpoint:
            return sv
    return None
