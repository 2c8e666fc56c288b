"""Which mount options survive a change of filesystem type.

When the plan creates a different filesystem than the source had (ext4 ->
xfs), options only the old type understands would make the mount fail
(``errors=remount-ro`` on xfs stops the boot), so they are dropped. Options
every filesystem accepts and options the new type knows stay; options neither
table knows stay too (p2v does not guess).
"""

from __future__ import annotations

GENERIC = frozenset(
    {
        "defaults",
        "ro",
        "rw",
        "auto",
        "noauto",
        "user",
        "nouser",
        "users",
        "owner",
        "group",
        "nofail",
        "atime",
        "noatime",
        "relatime",
        "norelatime",
        "strictatime",
        "nostrictatime",
        "lazytime",
        "nolazytime",
        "diratime",
        "nodiratime",
        "dev",
        "nodev",
        "exec",
        "noexec",
        "suid",
        "nosuid",
        "sync",
        "async",
        "dirsync",
        "_netdev",
        "mand",
        "nomand",
        "iversion",
        "noiversion",
        "silent",
        "loud",
        "discard",
        "nodiscard",
        "sw",
        "usrquota",
        "grpquota",
        "quota",
        "noquota",
        "prjquota",
    }
)
GENERIC_PREFIXES = ("x-", "comment=", "context=", "fscontext=", "defcontext=", "rootcontext=", "pri=")

_EXT = frozenset(
    {
        "errors",
        "data",
        "barrier",
        "nobarrier",
        "commit",
        "user_xattr",
        "nouser_xattr",
        "acl",
        "noacl",
        "journal_checksum",
        "nojournal_checksum",
        "journal_async_commit",
        "dioread_nolock",
        "dioread_lock",
        "delalloc",
        "nodelalloc",
        "stripe",
        "resuid",
        "resgid",
        "sb",
        "grpid",
        "bsdgroups",
        "nogrpid",
        "sysvgroups",
        "auto_da_alloc",
        "noauto_da_alloc",
        "journal_ioprio",
        "max_batch_time",
        "min_batch_time",
        "inode_readahead_blks",
        "init_itable",
        "noinit_itable",
        "jqfmt",
        "usrjquota",
        "grpjquota",
        "block_validity",
        "noblock_validity",
        "data_err",
        "orlov",
        "oldalloc",
        "journal_dev",
        "journal_path",
        "norecovery",
        "noload",
        "check",
        "nocheck",
        "bh",
        "nobh",
        "abort",
    }
)
_XFS = frozenset(
    {
        "allocsize",
        "attr2",
        "noattr2",
        "dax",
        "filestreams",
        "grpid",
        "bsdgroups",
        "nogrpid",
        "sysvgroups",
        "ikeep",
        "noikeep",
        "inode32",
        "inode64",
        "largeio",
        "nolargeio",
        "logbufs",
        "logbsize",
        "logdev",
        "noalign",
        "norecovery",
        "nouuid",
        "pquota",
        "uquota",
        "gquota",
        "uqnoenforce",
        "gqnoenforce",
        "pqnoenforce",
        "qnoenforce",
        "sunit",
        "swidth",
        "swalloc",
        "wsync",
        "barrier",
        "nobarrier",
        "rtdev",
    }
)
_BTRFS = frozenset(
    {
        "subvol",
        "subvolid",
        "compress",
        "compress-force",
        "space_cache",
        "nospace_cache",
        "ssd",
        "nossd",
        "ssd_spread",
        "nossd_spread",
        "autodefrag",
        "noautodefrag",
        "commit",
        "degraded",
        "device",
        "nodatacow",
        "nodatasum",
        "datacow",
        "datasum",
        "norecovery",
        "rescue",
        "skip_balance",
        "thread_pool",
        "user_subvol_rm_allowed",
        "clear_cache",
        "max_inline",
        "metadata_ratio",
        "barrier",
        "nobarrier",
        "acl",
        "noacl",
        "flushoncommit",
        "noflushoncommit",
        "treelog",
        "notreelog",
        "enospc_debug",
        "fatal_errors",
        "check_int",
        "fragment",
        "usebackuproot",
        "recovery",
    }
)
_VFAT = frozenset(
    {
        "uid",
        "gid",
        "umask",
        "dmask",
        "fmask",
        "codepage",
        "iocharset",
        "shortname",
        "utf8",
        "flush",
        "quiet",
        "showexec",
        "errors",
        "allow_utime",
        "check",
        "tz",
        "time_offset",
        "dos1xfloppy",
        "nfs",
        "rodir",
        "sys_immutable",
        "uni_xlate",
        "posix",
        "nonumtail",
        "usefree",
        "fat",
    }
)

_BY_TYPE = {
    "ext2": _EXT,
    "ext3": _EXT,
    "ext4": _EXT,
    "xfs": _XFS,
    "btrfs": _BTRFS,
    "vfat": _VFAT,
}
_EXT_FAMILY = {"ext2", "ext3", "ext4"}


def _key(option: str) -> str:
    return option.split("=", 1)[0]


def options_for(old_type: str, new_type: str, mntops: str) -> tuple[str, list[str]]:
    """``mntops`` fit for ``new_type``, and the options dropped."""
    if old_type == new_type or {old_type, new_type} <= _EXT_FAMILY or old_type not in _BY_TYPE:
        return mntops, []
    old_known = _BY_TYPE[old_type]
    new_known = _BY_TYPE.get(new_type, frozenset())
    kept, dropped = [], []
    for option in mntops.split(","):
        key = _key(option)
        if (
            option in GENERIC
            or option.startswith(GENERIC_PREFIXES)
            or key in new_known
            or key not in old_known
        ):
            kept.append(option)
        else:
            dropped.append(option)
    return ",".join(kept) or "defaults", dropped
