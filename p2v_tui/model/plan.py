"""What the user chose and what the planner decided: the contract between the
layout planner (model/layout), the fixups (model/fixups), the executor and the
screens.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Literal, Protocol, TypeVar

from .machine import Subvolume, TableType
from .target import TargetDisk

TARGET_ROOT = "/target"
"""Where the target's filesystems are assembled on the bootstrap OS."""

SIDE_MOUNTS = "/run/p2v-target"
"""Where filesystems are mounted outside the tree on the target (btrfs
top-level subvolumes, while their subvolumes are created and copied)."""

BootMode = Literal["own", "cluster"]
"""``own``: the instance boots the migrated system's kernel through its own
bootloader (GRUB installed on the target disk). ``cluster``: Ganeti starts the
instance with the cluster's ``kernel_path``; no bootloader is installed."""

SwapPolicy = Literal["keep", "auto", "drop"] | int
"""``keep``: same size as the source. ``auto``: keep if it fits, otherwise
shrink (down to 256 MiB), otherwise drop. ``drop``: no swap. An ``int``: that
many bytes."""

SizeMode = Literal["size", "fit", "rest", "percent"]

PartitionRole = Literal["filesystem", "swap", "bios_grub", "esp"]


@dataclass(frozen=True)
class LayoutRequest:
    """One line of an explicit layout from the answers file or the wizard."""

    mountpoint: str
    """A source mount point (``/``, ``/home``) or ``swap``."""
    mode: SizeMode = "fit"
    size: int = 0
    """Bytes for ``size``; percent (1-100) of the disk for ``percent``."""
    fstype: str | None = None
    """Filesystem type to create instead of the source's."""
    disk: int = 0
    """Target disk index."""


def _empty_sizes() -> Mapping[str, int]:
    return MappingProxyType({})


@dataclass(frozen=True)
class LayoutChoices:
    headroom: float = 0.2
    """Free space added on top of the used bytes, as a fraction of them."""
    swap: SwapPolicy = "auto"
    table: Literal["gpt", "msdos", "auto"] = "auto"
    explicit: tuple[LayoutRequest, ...] | None = None
    """When given, exactly these target filesystems are created; source mount
    points not listed are merged into the nearest listed parent."""
    drop: tuple[str, ...] = ()
    """Source mount points that are not migrated at all."""
    exclude: tuple[str, ...] = ()
    """Absolute paths (as the source system sees them) not copied."""
    exclude_sizes: Mapping[str, int] = field(default_factory=_empty_sizes)
    """Bytes under each excluded path, measured by the system before planning."""
    boot: BootMode = "own"
    firmware: Literal["bios", "efi"] = "bios"
    """How the target instance starts its bootloader."""
    root_path: str = "/dev/vda1"
    """For ``boot: cluster``: where the cluster kernel looks for the root
    filesystem (Ganeti's ``root_path``); the planner puts / there."""


class _Placed(Protocol):
    @property
    def role(self) -> PartitionRole: ...
    @property
    def mountpoint(self) -> str | None: ...


_P = TypeVar("_P", bound=_Placed)


def holding_boot(items: Iterable[_P]) -> _P | None:
    """The item holding /boot, else the one holding /: where the bootloader
    looks first (the active msdos partition, the disk GRUB goes on)."""
    found = list(items)
    for mp in ("/boot", "/"):
        for item in found:
            if item.role == "filesystem" and item.mountpoint == mp:
                return item
    return None


@dataclass(frozen=True)
class PlannedPartition:
    disk_index: int
    number: int
    start: int
    """Bytes from the start of the disk, 1 MiB aligned."""
    size: int
    """Bytes, 1 MiB aligned."""
    role: PartitionRole
    device: str
    """Device node on the target, e.g. ``/dev/vda2``."""
    fstype: str | None = None
    """``ext4``, ``xfs``, ``btrfs``, ``vfat``, ``swap``; None for bios_grub."""
    mountpoint: str | None = None
    uuid: str = ""
    """UUID to create the filesystem with; empty lets mkfs choose."""
    label: str = ""
    source: str | None = None
    """Device of the source filesystem/swap this partition replaces."""
    features: tuple[str, ...] = ()
    inodes: int = 0
    """Minimum inode count for ext*, 0 for the mkfs default."""
    subvolumes: tuple[Subvolume, ...] = ()
    """btrfs subvolumes to create (and copy), parents first."""
    default_subvolume: str = ""
    """btrfs: path of the subvolume to make the default one, "" for id 5."""
    min_size: int = 0
    """Smallest size the data fits in (used + headroom + overhead)."""
    used: int = 0
    """Bytes that will be copied into it."""
    logical: bool = False
    """msdos: a logical partition inside the extended one."""


@dataclass(frozen=True)
class DiskPlan:
    disk: TargetDisk
    table: TableType
    partitions: tuple[PlannedPartition, ...]
    extended: tuple[int, int] | None = None
    """msdos: (start, size) in bytes of the extended partition, numbered 4."""


@dataclass(frozen=True)
class MountStep:
    device: str
    path: str
    fstype: str
    options: str = "defaults"


@dataclass(frozen=True)
class CopyJob:
    source_device: str
    """The source filesystem's device."""
    source_path: str
    """Directory inside that filesystem (``/``; ``/@home`` for a btrfs
    subvolume, relative to the top-level subvolume)."""
    dest: str
    """Absolute directory on the target (``/target/var``)."""
    mountpoint: str | None
    """Where this tree appears in the migrated system (``/var``); None for a
    btrfs subvolume no fstab entry makes reachable."""
    excludes: tuple[str, ...] = ()
    """rsync patterns anchored at the job's root (``/cache/apt/archives``)."""
    bytes: int = 0
    """Estimated bytes to copy, for progress."""
    keep_dirs: tuple[str, ...] = ()
    """Those of ``excludes`` (the user's exclusions) that stay as empty
    directories when they are directories: /var/cache/apt/archives or a
    home's Downloads keep their owner and mode, only the contents go."""


@dataclass(frozen=True)
class SwapFilePlan:
    path: str
    """Absolute path inside the migrated system."""
    size: int
    uuid: str = ""
    label: str = ""
    fstype: str = ""
    """Type of the filesystem that holds it (btrfs needs NOCOW)."""
    mtime_ns: int = 0
    """The source file's modification time; 0: unknown (left as created)."""


def _empty_merged() -> Mapping[str, str]:
    return MappingProxyType({})


@dataclass(frozen=True)
class Plan:
    disks: tuple[DiskPlan, ...]
    mounts: tuple[MountStep, ...]
    """Target mounts in order (unmount in reverse)."""
    copies: tuple[CopyJob, ...]
    swapfiles: tuple[SwapFilePlan, ...] = ()
    boot: BootMode = "own"
    firmware: Literal["bios", "efi"] = "bios"
    bootloader_disk: str | None = None
    """Target disk to install GRUB on (``own`` boot with BIOS firmware)."""
    dropped: tuple[str, ...] = ()
    """Source mount points (and swap devices) not migrated."""
    merged: Mapping[str, str] = field(default_factory=_empty_merged)
    """Source mount point -> target mount point that now holds its files."""
    notes: tuple[str, ...] = ()

    @property
    def partitions(self) -> tuple[PlannedPartition, ...]:
        return tuple(p for d in self.disks for p in d.partitions)

    @property
    def total_bytes(self) -> int:
        return sum(c.bytes for c in self.copies)

    def partition_for_source(self, source: str) -> PlannedPartition | None:
        for p in self.partitions:
            if p.source == source:
                return p
        return None

    def partition_at(self, mountpoint: str) -> PlannedPartition | None:
        for p in self.partitions:
            if p.mountpoint == mountpoint:
                return p
        return None


class LayoutError(Exception):
    """The data cannot be laid out on the target disks as asked."""

    def __init__(self, message: str, missing: int = 0) -> None:
        super().__init__(message)
        self.missing = missing
        """Bytes lacking for the data to fit; 0 when the error is not about
        space."""
