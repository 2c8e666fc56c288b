"""Mount options that read a source filesystem without writing to it.

A plain ``ro`` mount still replays an ext3/4 journal, an XFS log or a btrfs
log tree, which writes to the device. The source disks must stay bit for bit
as they were, so the probe and the copy mount with these options; the price
is that transactions still in a journal are not seen (the probe says so for
filesystems that were not cleanly unmounted).
"""

from __future__ import annotations

_READONLY: dict[str, tuple[str, ...]] = {
    "ext2": ("ro",),  # no journal to replay
    "ext3": ("ro", "noload"),  # noload: do not replay the journal
    "ext4": ("ro", "noload"),
    # norecovery: do not replay the log; nouuid: mount even if a filesystem
    # with the same UUID is mounted (the copy on a target in the same kernel)
    "xfs": ("ro", "norecovery", "nouuid"),
    "btrfs": ("ro", "rescue=nologreplay"),  # do not replay the log tree (kernel >= 5.9)
    "vfat": ("ro",),
}


def can_mount_readonly(fstype: str) -> bool:
    """Whether the engine knows how to mount ``fstype`` without writing."""
    return fstype in _READONLY


def readonly_mount_options(fstype: str, *, subvolid: int | None = None) -> str:
    """``-o`` argument for a read-only mount of ``fstype``.

    ``subvolid`` selects a btrfs subvolume (5 is the top level, which shows
    every subvolume as a directory).
    """
    if fstype not in _READONLY:
        raise ValueError(f"no read-only mount options known for {fstype!r}")
    options = list(_READONLY[fstype])
    if subvolid is not None:
        if fstype != "btrfs":
            raise ValueError(f"subvolid is a btrfs option, not one for {fstype}")
        options.append(f"subvolid={subvolid}")
    return ",".join(options)
