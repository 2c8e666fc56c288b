"""argv of the commands the executor runs on the target, built from the plan.

Pure functions: the executor only runs what these return, so every flag is
visible (and tested) here.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass

from .plan import TARGET_ROOT, PlannedPartition, SwapFilePlan
from .units import MiB

# ext feature names that describe state, not something mke2fs can create.
_EXT_STATE_FEATURES = frozenset(
    {"needs_recovery", "orphan_present", "journal_dev", "recover", "snapshot_bitmap"}
)

# xfs_info names -> mkfs.xfs option group. Only features old kernels may not
# support matter; reproducing the source's choice keeps its kernel able to
# mount the new filesystem (bigtime/inobtcount need Linux 5.10, for example).
_XFS_GROUPS = {
    "crc": "-m",
    "finobt": "-m",
    "reflink": "-m",
    "rmapbt": "-m",
    "bigtime": "-m",
    "inobtcount": "-m",
    "sparse": "-i",
    "nrext64": "-i",
    "ftype": "-n",
}


def ext_feature_option(features: tuple[str, ...]) -> list[str]:
    """``-O none,f1,f2`` reproducing exactly the source's feature set.

    A newer mke2fs enables features (metadata_csum_seed, orphan_file ...)
    that the migrated system's older e2fsck or GRUB cannot read; starting
    from ``none`` avoids that.
    """
    names = [f for f in features if "=" not in f and f not in _EXT_STATE_FEATURES]
    if not names:
        return []
    return ["-O", ",".join(["none", *names])]


def _ext_sized_options(features: tuple[str, ...]) -> list[str]:
    out = []
    for f in features:
        key, _, value = f.partition("=")
        if key == "inode_size" and value:
            out += ["-I", value]  # 128-byte inodes for sources made that way
        elif key == "block_size" and value:
            out += ["-b", value]
    return out


# Features newer mkfs.xfs turns on by default that an older kernel cannot
# mount; when the probe read the source's features and one is not among
# them, it is turned off explicitly.
_XFS_NEWER = ("reflink", "rmapbt", "bigtime", "inobtcount")


def xfs_options(features: tuple[str, ...]) -> list[str]:
    groups: dict[str, list[str]] = {}
    if features:
        named = {f.partition("=")[0] for f in features}
        features = (*features, *(f"{name}=0" for name in _XFS_NEWER if name not in named))
    for f in features:
        key, sep, value = f.partition("=")
        if sep and key in _XFS_GROUPS:
            groups.setdefault(_XFS_GROUPS[key], []).append(f"{key}={value}")
    out = []
    for flag in ("-m", "-i", "-n"):
        if flag in groups:
            out += [flag, ",".join(groups[flag])]
    return out


def _merge_xfs_m(options: list[str], extra: str) -> list[str]:
    for i, value in enumerate(options):
        if value == "-m":
            return [*options[: i + 1], f"{extra},{options[i + 1]}", *options[i + 2 :]]
    return [*options, "-m", extra]


def mkfs_argv(part: PlannedPartition) -> list[str]:
    """Create the partition's filesystem (or swap) with the source's UUID,
    label and features."""
    fs = part.fstype
    dev = part.device
    if fs in ("ext2", "ext3", "ext4"):
        argv = [
            f"mkfs.{fs}",
            "-F",  # the partition is new; do not ask
            "-q",
        ]
        argv += ext_feature_option(part.features)
        argv += _ext_sized_options(part.features)
        if part.inodes:
            argv += ["-N", str(part.inodes)]  # as many inodes as the source uses, plus headroom
        if part.uuid:
            argv += ["-U", part.uuid]  # keep the UUID: fstab and GRUB keep working
        if part.label:
            argv += ["-L", part.label]
        return [*argv, dev]
    if fs == "xfs":
        argv = ["mkfs.xfs", "-f", "-q"]
        options = xfs_options(part.features)
        if part.uuid:
            options = _merge_xfs_m(options, f"uuid={part.uuid}")
        argv += options
        if part.label:
            argv += ["-L", part.label]
        return [*argv, dev]
    if fs == "btrfs":
        argv = ["mkfs.btrfs", "-f", "-q"]
        if part.uuid:
            argv += ["-U", part.uuid]
        if part.label:
            argv += ["-L", part.label]
        return [*argv, dev]
    if fs == "vfat":
        argv = ["mkfs.vfat", "-F", "32"]
        if part.uuid:
            argv += ["-i", part.uuid.replace("-", "")]  # vfat "UUID" is the volume id
        if part.label:
            argv += ["-n", part.label]
        return [*argv, dev]
    if fs == "swap":
        argv = ["mkswap", "-f"]
        if part.uuid:
            argv += ["-U", part.uuid]
        if part.label:
            argv += ["-L", part.label]
        return [*argv, dev]
    raise ValueError(f"cannot create a {fs!r} filesystem on {dev}")


def mount_argv(device: str, path: str, fstype: str, options: str) -> list[str]:
    return ["mount", "-t", fstype, "-o", options, device, path]


def swapfile_script(sf: SwapFilePlan) -> list[str]:
    """A swap file without holes (swapon refuses sparse files), NOCOW on
    btrfs, mode 600, with the source's UUID and modification time. Every
    step must succeed (``sh -e``); only the allocation has a fallback."""
    target = _q(TARGET_ROOT + sf.path)
    mib = max(1, sf.size // MiB)
    steps = [f"rm -f {target}", f"touch {target}", f"chmod 600 {target}"]
    if sf.fstype == "btrfs":
        steps.append(f"chattr +C {target}")  # before any data is written
    steps.append(
        f"fallocate -l {mib}MiB {target} || dd if=/dev/zero of={target} bs=1M count={mib} status=none"
    )
    mkswap = f"mkswap -f {target}"
    if sf.uuid:
        mkswap += f" -U {_q(sf.uuid)}"
    if sf.label:
        mkswap += f" -L {_q(sf.label)}"
    steps.append(mkswap)
    if sf.mtime_ns > 0:
        seconds, nanos = divmod(sf.mtime_ns, 10**9)
        steps.append(f"touch -c -m -d @{seconds}.{nanos:09d} {target}")  # the source's time, as rsync keeps
    return ["sh", "-ec", "\n".join(steps)]


def _q(text: str) -> str:
    return shlex.quote(text)


@dataclass(frozen=True)
class DeviceNode:
    """A block device of the instance, as the chroot's /dev shows it."""

    name: str
    """Path below /dev: ``vda``, ``vda1``, ``loop3p1``."""
    major: int
    minor: int
    uuid: str = ""
    label: str = ""
    part_uuid: str = ""


# name, type, major, minor, mode: what tools in a chroot expect to find
_STANDARD_NODES = (
    ("null", "c", 1, 3, 0o666),
    ("zero", "c", 1, 5, 0o666),
    ("full", "c", 1, 7, 0o666),
    ("random", "c", 1, 8, 0o666),
    ("urandom", "c", 1, 9, 0o666),
    ("kmsg", "c", 1, 11, 0o644),
    ("tty", "c", 5, 0, 0o666),
    ("console", "c", 5, 1, 0o600),
)


_UDEV_PLAIN = frozenset("#+-.:=@_")


def udev_encode(value: str) -> str:
    """A label as udev names its /dev/disk/by-label link: characters other
    than letters, digits and ``#+-.:=@_`` become ``\\xNN`` (a label ``/boot``
    is ``\\x2fboot``), so grub-mkconfig finds the link udev would make."""
    out = []
    for ch in value:
        if (ch.isalnum() and ch.isascii()) or ch in _UDEV_PLAIN:
            out.append(ch)
        elif not ch.isascii() and ch.isprintable():
            out.append(ch)  # valid UTF-8 stays as it is
        else:
            out.extend(f"\\x{b:02x}" for b in ch.encode())
    return "".join(out)


def chroot_dev_script(root: str, devices: list[DeviceNode]) -> list[str]:
    """Populate the chroot's private /dev (a tmpfs): standard nodes, the
    instance's disks and partitions and their /dev/disk/by-* links - as udev
    would make them on the instance, so grub-mkconfig writes root=UUID=, and
    nothing else: tools in the chroot cannot reach other disks."""
    dev = f"{root}/dev"
    steps = [f"mkdir -p {_q(dev)}/pts {_q(dev)}/shm {_q(dev)}/disk/by-uuid {_q(dev)}/disk/by-label "
             f"{_q(dev)}/disk/by-partuuid"]  # fmt: skip
    for name, kind, major, minor, mode in _STANDARD_NODES:
        steps.append(f"mknod -m {mode:o} {_q(dev + '/' + name)} {kind} {major} {minor}")
    for link, target in (("fd", "/proc/self/fd"), ("stdin", "/proc/self/fd/0"),
                         ("stdout", "/proc/self/fd/1"), ("stderr", "/proc/self/fd/2")):  # fmt: skip
        steps.append(f"ln -s {target} {_q(dev + '/' + link)}")
    for d in devices:
        steps.append(f"mknod -m 660 {_q(dev + '/' + d.name)} b {d.major} {d.minor}")
        for kind, value in (("by-uuid", d.uuid), ("by-label", d.label), ("by-partuuid", d.part_uuid)):
            if value:
                steps.append(f"ln -sf ../../{_q(d.name)} {_q(f'{dev}/disk/{kind}/{udev_encode(value)}')}")
    return ["sh", "-ec", "\n".join(steps)]


def chroot_mount_argvs(root: str = TARGET_ROOT) -> list[list[str]]:
    """The API filesystems a chroot needs for grub-install and initramfs
    tools, in mount order. /dev is private (see chroot_dev_script)."""
    return [
        ["mount", "-t", "tmpfs", "-o", "mode=0755,size=16m", "p2v-dev", f"{root}/dev"],
        ["mount", "-t", "proc", "proc", f"{root}/proc"],
        ["mount", "-t", "sysfs", "sysfs", f"{root}/sys"],
        ["mount", "-t", "tmpfs", "-o", "mode=0755", "tmpfs", f"{root}/run"],
    ]


def chroot_argv(argv: tuple[str, ...] | list[str], root: str = TARGET_ROOT) -> list[str]:
    return [
        "chroot",
        root,
        "/usr/bin/env",
        "-i",  # the migrated system's environment, not ours
        "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        "LC_ALL=C",
        "HOME=/root",
        *argv,
    ]
