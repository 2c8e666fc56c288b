"""Disk images on loop devices, built from a declarative spec (needs root).

    spec = DiskSpec(size=600 * MiB, table="gpt", parts=(
        PartSpec(1 * MiB, None, flags=("bios_grub",)),
        PartSpec(200 * MiB, "ext4", label="root", mountpoint="/"),
        PartSpec(None, "btrfs", subvolumes=("@home",), mountpoint="/home"),
    ))
    with loop_disk(spec, tmp_path / "disk.img") as disk:
        with mounted_layout(disk) as root:
            (root / "etc").mkdir() ...

The loop device is attached without partition scanning and the kernel is
told about the partitions with ``partx``, which works on kernels that do not
read partition tables themselves; every resource is released on exit, also
after a failure.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import random
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import pytest

KiB, MiB, GiB = 1024, 1024**2, 1024**3
SECTOR = 512

GPT_TYPES = {
    "bios_grub": "21686148-6449-6E6F-744E-656564454649",
    "esp": "C12A7328-F81F-11D2-BA4B-00A0C93EC93B",
    "lvm": "E6D6D379-F507-44C2-A23C-238F2A3DF928",
    "raid": "A19D880F-05FC-4D3B-A006-743F0F84911E",
    "swap": "0657FD6D-A4AB-43C4-84E5-0933C84B4F4F",
    "linux": "0FC63DAF-8483-4772-8E79-3D69E4D8B7B6",
}
MBR_TYPES = {"esp": "ef", "lvm": "8e", "raid": "fd", "swap": "82", "linux": "83", "extended": "5"}


@dataclass(frozen=True)
class PartSpec:
    size: int | None
    """Bytes (a multiple of 1 MiB); ``None`` takes the rest of the disk."""
    fstype: str | None = None
    """ext2/ext3/ext4, xfs, btrfs, swap, vfat (created, not mountable on
    every kernel), lvm (an LVM physical volume), or None for raw."""
    label: str = ""
    uuid: str = ""
    flags: tuple[str, ...] = ()
    """bios_grub, esp, boot, lvm, raid, legacy_boot."""
    mountpoint: str | None = None
    """Where the system on this disk mounts it; used by :func:`mounted_layout`."""
    subvolumes: tuple[str, ...] = ()
    """btrfs subvolumes created from the top level (``@``, ``@home``, ``@/var/log``)."""
    mkfs_args: tuple[str, ...] = ()
    name: str = ""
    """GPT partition name."""


@dataclass(frozen=True)
class DiskSpec:
    size: int
    table: Literal["gpt", "msdos"] | None
    parts: tuple[PartSpec, ...] = ()


@dataclass(frozen=True)
class LoopDisk:
    path: str
    """The loop device, ``/dev/loopN``."""
    image: Path
    partitions: tuple[str, ...]
    """Device of each PartSpec, in spec order (msdos logical partitions are
    numbered from 5; the whole disk when ``table`` is None)."""
    spec: DiskSpec
    extended: str | None = None
    """The msdos extended partition holding the logical ones, if any."""

    def device(self, mountpoint: str) -> str:
        for part, dev in zip(self.spec.parts, self.partitions, strict=True):
            if part.mountpoint == mountpoint:
                return dev
        raise KeyError(mountpoint)


def require(*tools: str) -> None:
    """Skip the calling test unless running as root with ``tools`` installed."""
    if os.geteuid() != 0:
        pytest.skip("needs root: loop devices and mounts")
    missing = [t for t in ("losetup", "sfdisk", "partx", "blkid", *tools) if shutil.which(t) is None]
    if missing:
        pytest.skip(f"needs {', '.join(missing)}")


def run(argv: Sequence[str], *, input: str | None = None, env: Mapping[str, str] | None = None) -> str:
    proc = subprocess.run(
        list(argv), input=input, capture_output=True, text=True, env={**os.environ, **(env or {})}
    )
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} failed ({proc.returncode}): {proc.stderr.strip()}")
    return proc.stdout


def image_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(4 * MiB):
            digest.update(chunk)
    return digest.hexdigest()


def blkid_value(device: str, key: str) -> str:
    out = subprocess.run(["blkid", "-p", "-o", "value", "-s", key, device], capture_output=True, text=True)
    return out.stdout.strip()


# --- partition table ----------------------------------------------------------


def _mbr_type(part: PartSpec) -> str:
    for flag in ("esp", "lvm", "raid"):
        if flag in part.flags:
            return MBR_TYPES[flag]
    if part.fstype == "lvm":
        return MBR_TYPES["lvm"]
    return MBR_TYPES["swap"] if part.fstype == "swap" else MBR_TYPES["linux"]


def _gpt_type(part: PartSpec) -> str:
    for flag in ("bios_grub", "esp", "boot", "lvm", "raid"):
        if flag in part.flags:
            return GPT_TYPES["esp" if flag == "boot" else flag]
    if part.fstype == "lvm":
        return GPT_TYPES["lvm"]
    return GPT_TYPES["swap"] if part.fstype == "swap" else GPT_TYPES["linux"]


def _size(part: PartSpec) -> str:
    if part.size is None:
        return ""
    if part.size % MiB:
        raise ValueError(f"partition sizes are whole MiB, not {part.size}")
    return f"size={part.size // SECTOR}, "


def sfdisk_script(spec: DiskSpec) -> tuple[str, list[int]]:
    """The sfdisk input and the partition number of each PartSpec."""
    lines = [f"label: {'dos' if spec.table == 'msdos' else 'gpt'}"]
    numbers: list[int] = []
    parts = list(spec.parts)
    if spec.table == "gpt":
        for i, part in enumerate(parts, 1):
            attrs = ', attrs="LegacyBIOSBootable"' if "legacy_boot" in part.flags else ""
            name = f', name="{part.name}"' if part.name else ""
            lines.append(f"{_size(part)}type={_gpt_type(part)}{name}{attrs}")
            numbers.append(i)
        return "\n".join(lines) + "\n", numbers
    primary = parts if len(parts) <= 4 else parts[:3]
    for i, part in enumerate(primary, 1):
        boot = ", bootable" if "boot" in part.flags else ""
        lines.append(f"{_size(part)}type={_mbr_type(part)}{boot}")
        numbers.append(i)
    if len(parts) > 4:
        lines.append(f"type={MBR_TYPES['extended']}")  # the rest of the disk
        for i, part in enumerate(parts[3:], 5):
            boot = ", bootable" if "boot" in part.flags else ""
            lines.append(f"{_size(part)}type={_mbr_type(part)}{boot}")
            numbers.append(i)
    return "\n".join(lines) + "\n", numbers


def _partition_path(disk: str, number: int) -> str:
    return f"{disk}{'p' if disk[-1].isdigit() else ''}{number}"


def _wait_for(paths: Sequence[str], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not all(os.path.exists(p) for p in paths):
        if time.monotonic() > deadline:
            raise RuntimeError(f"partition nodes did not appear: {', '.join(paths)}")
        time.sleep(0.05)


# --- filesystems --------------------------------------------------------------


def mkfs_argv(part: PartSpec, device: str) -> list[str]:
    fstype = part.fstype
    if fstype in ("ext2", "ext3", "ext4"):
        argv = [f"mkfs.{fstype}", "-q", "-F"]
        argv += ["-L", part.label] if part.label else []
        argv += ["-U", part.uuid] if part.uuid else []
    elif fstype == "xfs":
        argv = ["mkfs.xfs", "-q", "-f"]
        argv += ["-L", part.label] if part.label else []
        argv += ["-m", f"uuid={part.uuid}"] if part.uuid else []
    elif fstype == "btrfs":
        argv = ["mkfs.btrfs", "-q", "-f"]
        argv += ["-L", part.label] if part.label else []
        argv += ["-U", part.uuid] if part.uuid else []
    elif fstype == "swap":
        argv = ["mkswap"]
        argv += ["-L", part.label] if part.label else []
        argv += ["-U", part.uuid] if part.uuid else []
    elif fstype == "vfat":
        argv = ["mkfs.vfat"]
        argv += ["-n", part.label] if part.label else []
        argv += ["-i", part.uuid.replace("-", "")] if part.uuid else []
    elif fstype == "lvm":
        argv = ["pvcreate", "-q", "-ff", "-y"]
        argv += ["--uuid", part.uuid, "--norestorefile"] if part.uuid else []
    else:
        raise ValueError(f"cannot make a {fstype} filesystem")
    return [*argv, *part.mkfs_args, device]


def _make_filesystem(part: PartSpec, device: str) -> None:
    if part.fstype is None:
        return
    run(mkfs_argv(part, device), env={"LVM_SUPPRESS_FD_WARNINGS": "1"})
    if part.fstype == "btrfs" and part.subvolumes:
        with mounted(device, "btrfs") as top:
            for sv in part.subvolumes:
                (top / sv).parent.mkdir(parents=True, exist_ok=True)
                run(["btrfs", "-q", "subvolume", "create", str(top / sv)])


# --- loop devices and mounts ---------------------------------------------------


def _mounts_under(devices: Sequence[str]) -> list[str]:
    with open("/proc/self/mounts", encoding="utf-8") as f:
        fields = [line.split() for line in f]
    return [f[1] for f in fields if f and f[0] in devices]


def _release(loop: str, partitions: Sequence[str]) -> None:
    """Unmount what a test left mounted from the disk, forget its
    partitions, detach it. Errors are ignored: this runs during cleanup."""
    for target in reversed(_mounts_under([loop, *partitions])):
        subprocess.run(["umount", "--lazy", target], capture_output=True)
    subprocess.run(["partx", "--delete", loop], capture_output=True)
    subprocess.run(["losetup", "--detach", loop], capture_output=True)


@contextlib.contextmanager
def loop_disk(spec: DiskSpec, image: Path) -> Iterator[LoopDisk]:
    """Create ``image`` (sparse), attach it, partition and format it."""
    with open(image, "wb") as f:
        f.truncate(spec.size)
    loop = run(["losetup", "--find", "--show", str(image)]).strip()
    partitions: list[str] = []
    try:
        extended = None
        if spec.table is None:
            if len(spec.parts) > 1:
                raise ValueError("a disk without a partition table holds at most one filesystem")
            partitions = [loop] * len(spec.parts)
        else:
            script, numbers = sfdisk_script(spec)
            run(["sfdisk", "--quiet", "--wipe", "always", loop], input=script)
            last = max([*numbers, 1])
            subprocess.run(["partx", "--update", "--nr", f"1:{last}", loop], capture_output=True)
            partitions = [_partition_path(loop, n) for n in numbers]
            if any(n > 4 for n in numbers):
                extended = _partition_path(loop, 4)
            _wait_for(partitions)
        for part, device in zip(spec.parts, partitions, strict=True):
            _make_filesystem(part, device)
        yield LoopDisk(loop, image, tuple(partitions), spec, extended)
    finally:
        _release(loop, partitions)


@contextlib.contextmanager
def attach_image(image: Path) -> Iterator[LoopDisk]:
    """Attach an existing image as it is (no partitioning, no mkfs), e.g. a
    copy taken while its filesystem was mounted; its partitions are made
    known to the kernel."""
    loop = run(["losetup", "--find", "--show", str(image)]).strip()
    try:
        subprocess.run(["partx", "--update", "--nr", "1:128", loop], capture_output=True)
        yield LoopDisk(loop, image, (), DiskSpec(image.stat().st_size, None))
    finally:
        _release(loop, [_partition_path(loop, n) for n in range(1, 129)])


@contextlib.contextmanager
def mounted(device: str, fstype: str, options: str = "") -> Iterator[Path]:
    """Mount ``device`` in a temporary directory (read-write unless
    ``options`` say otherwise) for populating it; unmount on exit."""
    target = Path(tempfile.mkdtemp(prefix="lab-mnt-"))
    argv = ["mount", "-t", fstype, *(["-o", options] if options else []), device, str(target)]
    try:
        run(argv)
        try:
            yield target
        finally:
            subprocess.run(["sync", "-f", str(target)], capture_output=True)
            run(["umount", str(target)])
    finally:
        target.rmdir()


@contextlib.contextmanager
def mounted_layout(*disks: LoopDisk, subvolume: Mapping[str, str] | None = None) -> Iterator[Path]:
    """Mount every partition with a ``mountpoint`` where the system on the
    disks would (``/`` first) under one temporary directory.

    ``subvolume`` maps a btrfs mount point to the subvolume mounted there
    (``{"/": "@"}``); without it btrfs is mounted at its top level.
    """
    places = [
        (p.mountpoint, dev, p.fstype or "")
        for d in disks
        for p, dev in zip(d.spec.parts, d.partitions, strict=True)
        if p.mountpoint and p.fstype not in (None, "swap", "lvm", "vfat")
    ]
    extra = dict(subvolume or {})
    for mountpoint in extra:
        if not any(m[0] == mountpoint for m in places):
            owner = next(m for m in places if m[2] == "btrfs")  # subvolumes of the (first) btrfs
            places.append((mountpoint, owner[1], "btrfs"))
    places.sort(key=lambda m: (m[0].count("/") if m[0] != "/" else 0, m[0]))
    with contextlib.ExitStack() as stack:
        root: Path | None = None
        for mountpoint, device, fstype in places:
            options = f"subvol={extra[mountpoint]}" if mountpoint in extra else ""
            if root is None:
                if mountpoint != "/":
                    raise ValueError("mounted_layout needs a partition with mountpoint '/'")
                root = stack.enter_context(mounted(device, fstype, options))
                continue
            where = root / mountpoint.lstrip("/")
            where.mkdir(parents=True, exist_ok=True)
            run(["mount", "-t", fstype, *(["-o", options] if options else []), device, str(where)])
            stack.callback(run, ["umount", str(where)])
        if root is None:
            raise ValueError("no partition has a mountpoint")
        yield root


# --- LVM ----------------------------------------------------------------------


def _lvm_id() -> str:
    """A random LVM id: 32 characters in groups of 6-4-4-4-4-4-6."""
    chars = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
    s = "".join(random.choice(chars) for _ in range(32))
    return "-".join([s[:6], s[6:10], s[10:14], s[14:18], s[18:22], s[22:26], s[26:]])


#: Keep lvm from copying lab VG metadata into the host's /etc/lvm/{backup,archive}.
NO_LVM_BACKUP = ("--config", "backup { backup = 0 archive = 0 }")


def _dm_available() -> bool:
    """device-mapper is in the kernel (a /dev/mapper/control node alone
    proves nothing: lvm creates it even when the driver is missing)."""
    try:
        with open("/proc/misc", encoding="ascii") as f:
            return any(line.split()[1:] == ["device-mapper"] for line in f)
    except OSError:
        return False


@contextlib.contextmanager
def volume_group(name: str, pvs: Sequence[str], lvs: Mapping[str, int]) -> Iterator[str]:
    """Create VG ``name`` on ``pvs`` (PVs made with ``fstype="lvm"``) with
    logical volumes ``{name: bytes}`` (multiples of 4 MiB).

    Without device-mapper ``lvcreate`` refuses, so the LV metadata is then
    written with ``vgcfgrestore`` from an edited ``vgcfgbackup``: the VG is
    real on-disk LVM metadata either way, only the LVs stay inactive.
    """
    env = {"LVM_SUPPRESS_FD_WARNINGS": "1"}
    run(["vgcreate", *NO_LVM_BACKUP, "-q", name, *pvs], env=env)
    try:
        if _dm_available():
            for lv, size in lvs.items():
                run(["lvcreate", *NO_LVM_BACKUP, "-q", "-y", "-L", f"{size}b", "-n", lv, name], env=env)
        else:
            _restore_with_lvs(name, lvs, env)
        yield name
    finally:
        if _dm_available():
            subprocess.run(["vgchange", "-q", "-an", name], capture_output=True, env={**os.environ, **env})
        # The VG disappears with its image; lvm keeps no state about it.


def _restore_with_lvs(vg: str, lvs: Mapping[str, int], env: Mapping[str, str]) -> None:
    with tempfile.TemporaryDirectory(prefix="lab-lvm-") as tmp:
        backup = Path(tmp) / "vg.conf"
        run(["vgcfgbackup", "-q", "-f", str(backup), vg], env=env)
        text = backup.read_text()
        extent = 4 * MiB
        volumes, start = [], 0
        for lv, size in lvs.items():
            count = -(-size // extent)
            volumes.append(
                f"""
        {lv} {{
            id = "{_lvm_id()}"
            status = ["READ", "WRITE", "VISIBLE"]
            flags = []
            creation_time = {int(time.time())}
            creation_host = "lab"
            segment_count = 1
            segment1 {{
                start_extent = 0
                extent_count = {count}
                type = "striped"
                stripe_count = 1
                stripes = [
                    "pv0", {start}
                ]
            }}
        }}"""
            )
            start += count
        end = text.rstrip().rfind("}")
        text = text[:end] + "\n    logical_volumes {" + "".join(volumes) + "\n    }\n}\n"
        backup.write_text(text)
        run(["vgcfgrestore", *NO_LVM_BACKUP, "-q", "-f", str(backup), vg], env=env)
