"""The source machine as the probe saw it: disks, filesystems, swap, OS facts.

Everything here is immutable plain data. The probe (system/probe) builds a
:class:`Machine`; the planner and the fixups read it; nothing here touches
the system.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Literal

TableType = Literal["gpt", "msdos"]
Firmware = Literal["bios", "efi"]

#: Partition flags the model knows about (pyparted names).
PARTITION_FLAGS = frozenset(
    {"boot", "bios_grub", "esp", "lvm", "raid", "swap", "legacy_boot", "msftdata", "hidden"}
)


@dataclass(frozen=True)
class Partition:
    path: str
    """Device node, e.g. ``/dev/sda1`` or ``/dev/loop3p1``."""
    number: int
    start: int
    """Offset in bytes from the start of the disk."""
    size: int
    flags: frozenset[str] = frozenset()
    type_id: str = ""
    """GPT type GUID (upper case) or MBR type byte as two hex digits (``83``)."""
    name: str = ""
    """GPT partition name; empty on msdos."""
    part_uuid: str = ""
    """GPT partition UUID (or msdos ``disk-id-NN``), for ``PARTUUID=`` references."""


@dataclass(frozen=True)
class Disk:
    path: str
    size: int
    sector_size: int = 512
    table: TableType | None = None
    model: str = ""
    partitions: tuple[Partition, ...] = ()
    removable: bool = False
    excluded: str | None = None
    """Why this disk is not offered as a source by default (live medium,
    removable, loop device ...); ``None`` when it is a candidate."""


@dataclass(frozen=True)
class Subvolume:
    """A btrfs subvolume, by its path from the top-level subvolume (id 5)."""

    id: int
    path: str
    readonly: bool = False
    mountpoint: str | None = None
    """Where the source's fstab mounts this subvolume (``subvol=`` or
    ``subvolid=``), ``None`` when it is only reachable inside its parent."""


@dataclass(frozen=True)
class Filesystem:
    device: str
    """Block device holding it: partition, LV (``/dev/VG/LV``) or md."""
    fstype: str
    """``ext2 ext3 ext4 xfs btrfs vfat`` ... as blkid names it."""
    uuid: str = ""
    label: str = ""
    size: int = 0
    """Size of the filesystem (not of the partition) in bytes."""
    used: int | None = None
    """Bytes in use from statvfs of a read-only mount; ``None`` if it could
    not be mounted here (LVM/md on a host that cannot activate them)."""
    inodes_used: int | None = None
    mountpoint: str | None = None
    """Where the source's /etc/fstab mounts it; ``None`` if fstab does not.
    For btrfs with several mounted subvolumes this is the shallowest one and
    each :class:`Subvolume` carries its own."""
    features: tuple[str, ...] = ()
    """Creation-time features to reproduce on the target so that the source's
    own kernel, fsck and bootloader can still read it (ext: the feature list
    of dumpe2fs; xfs: ``crc=1``-style mkfs.xfs -m/-i options)."""
    subvolumes: tuple[Subvolume, ...] = ()
    default_subvolume: int = 5
    notes: tuple[str, ...] = ()
    """Things the user should know (not cleanly unmounted, ...)."""


@dataclass(frozen=True)
class SwapArea:
    kind: Literal["partition", "file"]
    path: str
    """Device node for a partition; absolute path inside the source system for
    a file (``/swapfile``)."""
    size: int
    uuid: str = ""
    label: str = ""
    on_device: str = ""
    """For a swap file: the device of the filesystem that holds it."""
    mtime_ns: int = 0
    """For a swap file: its modification time (the recreated file keeps it)."""


@dataclass(frozen=True)
class FstabEntry:
    spec: str
    file: str
    vfstype: str
    mntops: str = "defaults"
    freq: int = 0
    passno: int = 0


@dataclass(frozen=True)
class LogicalVolume:
    vg: str
    name: str
    size: int
    path: str
    """``/dev/VG/LV`` as the source system names it."""


@dataclass(frozen=True)
class VolumeGroup:
    name: str
    size: int
    pvs: tuple[str, ...]
    lvs: tuple[LogicalVolume, ...] = ()


@dataclass(frozen=True)
class MdArray:
    device: str
    """``/dev/md0`` (or the name from the superblock when not assembled)."""
    level: str
    members: tuple[str, ...]
    uuid: str = ""
    size: int = 0


@dataclass(frozen=True)
class OsInfo:
    id: str = ""
    """os-release ID: debian, ubuntu, rhel, centos, rocky ..."""
    id_like: tuple[str, ...] = ()
    version_id: str = ""
    pretty_name: str = ""
    hostname: str = ""
    init: Literal["systemd", "sysvinit", "upstart", "unknown"] = "unknown"
    initramfs: Literal["initramfs-tools", "dracut", "none"] = "none"
    bootloader: Literal["grub2", "grub-legacy", "none"] = "none"
    grub_install: str = ""
    """``grub-install`` (Debian family) or ``grub2-install`` (RHEL family)."""
    grub_mkconfig: str = ""
    """``update-grub``, ``grub-mkconfig``, or ``grub2-mkconfig``."""
    grub_cfg: str = ""
    """Where the source's generated grub.cfg lives (``/boot/grub/grub.cfg``)."""
    kernels: tuple[str, ...] = ()
    """Kernel versions with a ``/boot/vmlinuz-VERSION``."""


def _frozen_map(m: Mapping[str, str] | None = None) -> Mapping[str, str]:
    return MappingProxyType(dict(m or {}))


@dataclass(frozen=True)
class ConfigSnapshot:
    """Text of the configuration files the fixups edit, read from the source.

    Keys are absolute paths as the migrated system sees them (``/etc/fstab``).
    A path absent from ``files`` does not exist on the source. ``links`` holds
    symlinks (path -> link target) the fixups need to know about.
    """

    files: Mapping[str, str] = field(default_factory=_frozen_map)
    links: Mapping[str, str] = field(default_factory=_frozen_map)

    def get(self, path: str) -> str | None:
        return self.files.get(path)


@dataclass(frozen=True)
class Machine:
    disks: tuple[Disk, ...] = ()
    filesystems: tuple[Filesystem, ...] = ()
    swaps: tuple[SwapArea, ...] = ()
    fstab: tuple[FstabEntry, ...] = ()
    volume_groups: tuple[VolumeGroup, ...] = ()
    md_arrays: tuple[MdArray, ...] = ()
    os: OsInfo = field(default_factory=OsInfo)
    config: ConfigSnapshot = field(default_factory=ConfigSnapshot)
    firmware: Firmware = "bios"
    """How the source booted: ``efi`` when it has an ESP mounted at /boot/efi."""

    def filesystem_at(self, mountpoint: str) -> Filesystem | None:
        for fs in self.filesystems:
            if fs.mountpoint == mountpoint:
                return fs
        return None

    def root(self) -> Filesystem | None:
        return self.filesystem_at("/")
