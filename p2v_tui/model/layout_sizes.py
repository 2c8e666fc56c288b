"""How big a filesystem must be, and how a disk's free space is shared out.

Functions of ints, so that the layout planner's arithmetic can be read and
checked on its own; tests/model/test_layout.py has the table of cases.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction

from .units import GiB, KiB, MiB, align_down, align_up

SWAP_MIN = 256 * MiB
"""``swap: auto`` shrinks a swap area down to this, then drops it."""

ESP_MIN = 100 * MiB
"""A recreated EFI system partition is as big as the source's, at least this
(firmware updates and a second kernel need room; FAT32 wants ~65k clusters)."""

ESP_NEW = 512 * MiB
"""Size of an EFI system partition created for a source that had none."""

BIOS_GRUB = 1 * MiB
"""GPT partition GRUB embeds its core image in when booting by BIOS."""

INODE_RATIO = 16 * KiB
"""mke2fs's default bytes-per-inode (mke2fs.conf ``inode_ratio``)."""

INODE_SIZE = 256
"""mke2fs's default inode size in bytes."""

BYTES_PER_INODE_MIN = 4 * KiB
"""ext* cannot have more inodes than blocks (one inode bitmap block per
group), so a filesystem that must hold N inodes is at least N blocks."""

INODE_SLACK = 1024
"""Inodes added on top of the used ones (+headroom) so that an almost empty
filesystem still gets a sensible count."""

EXT_TYPES = frozenset({"ext2", "ext3", "ext4"})


@dataclass(frozen=True)
class _Overhead:
    fixed: int
    percent: int
    minimum: int


# What a filesystem of size S needs besides its data.
#
#   fstype       fixed       % of S   also                          smallest S
#   ext2         16 MiB      6 %      inode tables                  32 MiB
#   ext3, ext4   16 MiB      6 %      inode tables + journal(S)     32 MiB
#   xfs          0           2 %      log(S)                        300 MiB
#   btrfs        256 MiB     5 %                                    256 MiB
#   vfat         1 MiB       2 %                                    32 MiB
#   anything     64 MiB      5 %                                    64 MiB
#
# ext: 5 % are the root-reserved blocks mke2fs sets aside by default (without
#   them the headroom would be eaten before users see free space), 1 % is
#   bitmaps, group descriptors, reserved GDT blocks and directories. The
#   inode tables take INODE_SIZE bytes per inode: S / INODE_RATIO inodes by
#   default, more when the source uses more (see inodes_wanted). The journal
#   follows mke2fs's own table (ext2fs_default_journal_size), 4 MiB to 1 GiB.
# xfs: the internal log is S/2048, at least 64 MiB, at most 2 GiB; the 2 %
#   covers allocation group headers and btrees. mkfs.xfs (xfsprogs >= 5.19,
#   Debian 12 has 6.1) refuses filesystems under 300 MiB.
# btrfs: system and metadata chunks (DUP), the global reserve, and slack in
#   partly filled data chunks.
# vfat: the two FATs.
_OVERHEAD: dict[str, _Overhead] = {
    "ext2": _Overhead(16 * MiB, 6, 32 * MiB),
    "ext3": _Overhead(16 * MiB, 6, 32 * MiB),
    "ext4": _Overhead(16 * MiB, 6, 32 * MiB),
    "xfs": _Overhead(0, 2, 300 * MiB),
    "btrfs": _Overhead(256 * MiB, 5, 256 * MiB),
    "vfat": _Overhead(1 * MiB, 2, 32 * MiB),
}
_OTHER = _Overhead(64 * MiB, 5, 64 * MiB)

# mke2fs's journal size by filesystem size (4 KiB blocks), as (below, journal).
_EXT_JOURNAL: tuple[tuple[int, int], ...] = (
    (128 * MiB, 4 * MiB),
    (1 * GiB, 16 * MiB),
    (2 * GiB, 32 * MiB),
    (16 * GiB, 64 * MiB),
    (32 * GiB, 128 * MiB),
    (64 * GiB, 256 * MiB),
    (128 * GiB, 512 * MiB),
)


def ext_journal_size(size: int) -> int:
    for below, journal in _EXT_JOURNAL:
        if size < below:
            return journal
    return 1 * GiB


def xfs_log_size(size: int) -> int:
    return min(2 * GiB, max(64 * MiB, size // 2048))


def with_headroom(n: int, headroom: float) -> int:
    """``n * (1 + headroom)`` rounded up, computed exactly (0.2 is 1/5, not
    0.2000000000000000111)."""
    factor = 1 + Fraction(headroom).limit_denominator(10_000)
    return -(-n * factor.numerator // factor.denominator)


def inodes_wanted(fstype: str, inodes_used: int | None, headroom: float) -> int:
    """Inodes an ext* target must have room for; 0 when unknown or not ext."""
    if fstype not in EXT_TYPES or inodes_used is None:
        return 0
    return with_headroom(inodes_used, headroom) + INODE_SLACK


def inodes_to_request(fstype: str, size: int, inodes_used: int | None, headroom: float) -> int:
    """``mkfs -N`` value when mke2fs's default count would be too small, else 0."""
    want = inodes_wanted(fstype, inodes_used, headroom)
    return want if size // INODE_RATIO < want else 0


def overhead(fstype: str, size: int, inodes: int = 0) -> int:
    """Bytes a ``fstype`` filesystem of ``size`` bytes keeps for itself."""
    o = _OVERHEAD.get(fstype, _OTHER)
    extra = o.fixed + size * o.percent // 100
    if fstype in EXT_TYPES:
        extra += INODE_SIZE * max(size // INODE_RATIO, inodes)
        if fstype != "ext2":
            extra += ext_journal_size(size)
    elif fstype == "xfs":
        extra += xfs_log_size(size)
    return extra


def filesystem_floor(fstype: str, used: int, headroom: float, inodes_used: int | None, extra: int = 0) -> int:
    """Smallest 1 MiB aligned size a ``fstype`` filesystem holding ``used``
    bytes (plus ``headroom``) can have.

    ``extra`` is space needed without headroom (swap files recreated in it).

    1. data = used * (1 + headroom) + extra.
    2. Start at the largest of: data, the type's smallest size, and one block
       per wanted inode (ext*).
    3. Overhead grows with the size (journal, log, percentages), so repeat
       size = align_up(data + overhead(size)) until it no longer grows. Each
       round adds less than a tenth of the previous increase, so this stops
       after a handful of rounds.
    """
    inodes = inodes_wanted(fstype, inodes_used, headroom)
    data = with_headroom(used, headroom) + extra
    minimum = _OVERHEAD.get(fstype, _OTHER).minimum
    size = max(align_up(data), minimum, align_up(inodes * BYTES_PER_INODE_MIN))
    while True:
        grown = align_up(data + overhead(fstype, size, inodes))
        if grown <= size:
            return size
        size = grown


SMALL_FILESYSTEM = 1024 * MiB
"""Filesystems up to this source size are kept whole when space allows."""


def keep_small_whole(floors: Sequence[int], weights: Sequence[int], available: int) -> list[int]:
    """Floors raised to the source size of small filesystems, if all of them
    fit that way; otherwise the floors unchanged."""
    raised = [
        max(floor, align_down(weight)) if 0 < weight <= SMALL_FILESYSTEM else floor
        for floor, weight in zip(floors, weights, strict=True)
    ]
    return raised if sum(raised) <= available else list(floors)


def share_space(
    floors: Sequence[int], weights: Sequence[int], available: int, favourite: int | None
) -> list[int]:
    """Split ``available`` bytes among items that each need at least their floor.

    Water-filling, weighted by ``weights`` (the source filesystems' sizes):

    1. Look for the scale s with sum max(floor_i, weight_i * s) = available.
       Start with every item growing: s = available / sum weight.
    2. An item whose share weight_i * s is below its floor keeps its floor
       and stops growing; take its floor out of ``available`` and its weight
       out of the sum, and compute s again. s only falls (the items taken out
       wanted more than the average), so repeat until no share is below its
       floor. Items of weight 0 never grow.
    3. Round every share down to 1 MiB; the MiBs left over go to
       ``favourite`` (the root filesystem, or the largest), so the disk is
       used up to its last MiB. Without a favourite they stay free.

    Floors and ``available`` are 1 MiB aligned; sum floors must fit.
    """
    if sum(floors) > available:
        raise ValueError(f"floors {sum(floors)} exceed available {available}")
    n = len(floors)
    growing = [weights[i] > 0 for i in range(n)]
    while True:
        rest = available - sum(floors[i] for i in range(n) if not growing[i])
        total_weight = sum(weights[i] for i in range(n) if growing[i])
        below = [i for i in range(n) if growing[i] and weights[i] * rest < floors[i] * total_weight]
        if not below:
            break
        for i in below:
            growing[i] = False
    sizes = [
        max(floors[i], align_down(weights[i] * rest // total_weight)) if growing[i] else floors[i]
        for i in range(n)
    ]
    if favourite is not None:
        sizes[favourite] += align_down(available - sum(sizes))
    return sizes
