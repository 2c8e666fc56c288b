"""Does a copied tree equal its source? Every difference as one readable line.

What is compared, path by path: type, permission bits (with setuid, setgid,
sticky), numeric owner, mtime in nanoseconds (not for symlinks unless asked),
size and SHA-256 of regular files, symlink targets, device numbers, every
xattr namespace root can read, POSIX ACLs (decoded from their raw
``system.posix_acl_*`` xattrs so the line shows ``user:1000:rwx``), and the
hard-link structure (the partition of paths into inodes). XFS's private
mirror of ACLs (``trusted.SGI_ACL_*``) is left out; the ACL itself is compared.

Sparse files: ``rsync --sparse`` skips writing runs of zeros, so the copy may
have *more* holes than the source (a zero block the source had allocated
becomes a hole), never fewer. The assertion is therefore one-sided: data the
copy holds outside the source's data extents (rounded out to the block size)
counts against it. The target filesystem may still allocate a little around
written data (XFS's speculative preallocation is zeroed into the gap when
rsync seeks past it), so up to as much again as the source's data, or 1 MiB,
is tolerated; a copy that filled the holes wholesale fails. Files that must
have no holes at all (a swap file) are named in ``no_holes``.

Neither walk crosses a mount point (a directory whose device differs from
the root's, which includes nested btrfs subvolumes, as ``rsync -x`` sees
them): compare one filesystem at a time. A mount point is compared as a
directory that exists; its metadata belongs to the filesystem mounted there.
"""

from __future__ import annotations

import datetime
import fnmatch
import hashlib
import os
import stat
import struct
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

ACL_XATTRS = {"system.posix_acl_access": "access", "system.posix_acl_default": "default"}
FS_INTERNAL_XATTRS = frozenset({"trusted.SGI_ACL_FILE", "trusted.SGI_ACL_DEFAULT"})
"""XFS lists each ACL a second time under these names (to root). They mirror
``system.posix_acl_*``, which is compared, and exist only on XFS: not compared."""
_ACL_TAGS = {0x01: "user::", 0x02: "user:", 0x04: "group::", 0x08: "group:", 0x10: "mask::", 0x20: "other::"}
_NAMED = (0x02, 0x08)


def matcher(patterns: Sequence[str]) -> Callable[[str], bool]:
    """True for a relative path equal to, or below, a pattern anchored at the root.

    Patterns are fnmatch per path component (``var/cache/apt/archives/*.deb``);
    a leading ``/`` is optional.
    """
    split = [tuple(p.strip("/").split("/")) for p in patterns if p.strip("/")]

    def match(rel: str) -> bool:
        parts = rel.split("/")
        return any(
            len(parts) >= len(pat)
            and all(fnmatch.fnmatchcase(a, b) for a, b in zip(parts, pat, strict=False))
            for pat in split
        )

    return match


def walk(
    root: Path, skip: Callable[[str], bool] = lambda rel: False
) -> Iterator[tuple[str, os.stat_result, bool]]:
    """(relative path, lstat, is a mount point) for every entry below ``root``, sorted per directory."""
    root_dev = os.lstat(root).st_dev
    stack = [""]
    while stack:
        rel_dir = stack.pop()
        with os.scandir(root / rel_dir if rel_dir else root) as it:
            names = sorted(e.name for e in it)
        for name in reversed(names):
            rel = f"{rel_dir}/{name}" if rel_dir else name
            if skip(rel):
                continue
            st = os.lstat(root / rel)
            mount = stat.S_ISDIR(st.st_mode) and st.st_dev != root_dev
            yield rel, st, mount
            if stat.S_ISDIR(st.st_mode) and not mount:
                stack.append(rel)


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1024 * 1024):
            h.update(chunk)
    return h.hexdigest()


def same_content(a: Path, b: Path) -> bool:
    """Byte-for-byte equal; ranges that are holes in both files read as zeros and are skipped."""
    ranges = sorted(data_extents(a) + data_extents(b))
    with open(a, "rb") as fa, open(b, "rb") as fb:
        pos = 0
        for data_start, end in ranges:
            start = max(data_start, pos)
            if start >= end:
                continue
            fa.seek(start)
            fb.seek(start)
            for offset in range(start, end, 1024 * 1024):
                n = min(1024 * 1024, end - offset)
                if fa.read(n) != fb.read(n):
                    return False
            pos = end
    return True


def tree_digest(root: Path) -> dict[str, str]:
    """Relative path → SHA-256 of a file's content, ``symlink:<sha256 of target>``,
    ``dir``, ``chr M:m``, ``blk M:m``, ``fifo`` or ``socket``; stays on one filesystem."""
    out: dict[str, str] = {}
    for rel, st, _mount in walk(root):
        out[rel] = _digest(root / rel, st)
    return out


def _digest(path: Path, st: os.stat_result) -> str:
    mode = st.st_mode
    if stat.S_ISREG(mode):
        return sha256_file(path)
    if stat.S_ISLNK(mode):
        return "symlink:" + hashlib.sha256(os.fsencode(os.readlink(path))).hexdigest()
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return f"{_kind(mode)} {os.major(st.st_rdev)}:{os.minor(st.st_rdev)}"
    return _kind(mode)


def _kind(mode: int) -> str:
    for test, name in (
        (stat.S_ISREG, "file"),
        (stat.S_ISDIR, "dir"),
        (stat.S_ISLNK, "symlink"),
        (stat.S_ISCHR, "chr"),
        (stat.S_ISBLK, "blk"),
        (stat.S_ISFIFO, "fifo"),
        (stat.S_ISSOCK, "socket"),
    ):
        if test(mode):
            return name
    return f"mode {mode:o}"


def decode_acl(raw: bytes) -> str:
    """``system.posix_acl_*`` xattr value as getfacl's short text, e.g. ``user::rw-,user:1000:r--``."""
    (version,) = struct.unpack_from("<I", raw)
    if version != 2:
        return f"<acl version {version}: {raw.hex()}>"
    entries = []
    for offset in range(4, len(raw) - 7, 8):
        tag, perm, qualifier = struct.unpack_from("<HHI", raw, offset)
        rwx = "".join(c if perm & bit else "-" for c, bit in (("r", 4), ("w", 2), ("x", 1)))
        who = f"{qualifier}:" if tag in _NAMED else ""
        entries.append(f"{_ACL_TAGS.get(tag, f'tag{tag:#x}:')}{who}{rwx}")
    return ",".join(entries)


def xattrs(path: Path) -> dict[str, bytes]:
    try:
        names = os.listxattr(path, follow_symlinks=False)
    except OSError:  # filesystems without xattr support have none
        return {}
    return {n: os.getxattr(path, n, follow_symlinks=False) for n in names}


def data_extents(path: Path) -> list[tuple[int, int]]:
    """[start, end) ranges holding data, by SEEK_DATA/SEEK_HOLE."""
    extents = []
    fd = os.open(path, os.O_RDONLY)
    try:
        size, pos = os.fstat(fd).st_size, 0
        while pos < size:
            try:
                start = os.lseek(fd, pos, os.SEEK_DATA)
            except OSError:  # ENXIO: only a hole is left
                break
            end = os.lseek(fd, start, os.SEEK_HOLE)
            extents.append((start, end))
            pos = end
    finally:
        os.close(fd)
    return extents


def bytes_outside(inner: list[tuple[int, int]], outer: list[tuple[int, int]], block: int) -> int:
    """Bytes of ``inner`` extents not covered by ``outer`` extents widened to ``block``."""
    widened = [(s // block * block, -(-e // block) * block) for s, e in outer]
    missing = 0
    for s, e in inner:
        covered = sum(max(0, min(e, we) - max(s, ws)) for ws, we in widened)
        missing += (e - s) - covered
    return missing


def shown(rel: str) -> str:
    """A path on one line: newlines, other control characters and undecodable bytes escaped."""
    return "".join(c if c.isprintable() or c == " " else repr(c)[1:-1] for c in rel)


def _fmt_ns(ns: int) -> str:
    sec, frac = divmod(ns, 10**9)
    day = datetime.datetime.fromtimestamp(sec, datetime.UTC).strftime("%Y-%m-%d %H:%M:%S")
    return f"{day}.{frac:09d}"


def _show(value: bytes | None) -> str:
    if value is None:
        return "absent"
    if all(32 <= c < 127 for c in value):
        return repr(value.decode("ascii"))
    head = value[:24].hex()
    return f"0x{head}{'...' if len(value) > 24 else ''} ({len(value)} bytes)"


def _extents_text(extents: list[tuple[int, int]]) -> str:
    text = ",".join(f"{s}-{e}" for s, e in extents[:4])
    return text + (",..." if len(extents) > 4 else "") or "none"


def _compare_entry(
    rel: str,
    src: Path,
    dst: Path,
    a: os.stat_result,
    b: os.stat_result,
    *,
    symlink_mtime: bool,
    must_be_dense: bool,
) -> list[str]:
    if stat.S_IFMT(a.st_mode) != stat.S_IFMT(b.st_mode):
        return [f"{shown(rel)}: type {_kind(a.st_mode)} != {_kind(b.st_mode)}"]
    out = []
    link = stat.S_ISLNK(a.st_mode)
    if not link and stat.S_IMODE(a.st_mode) != stat.S_IMODE(b.st_mode):
        out.append(f"{shown(rel)}: mode {stat.S_IMODE(a.st_mode):04o} != {stat.S_IMODE(b.st_mode):04o}")
    if (a.st_uid, a.st_gid) != (b.st_uid, b.st_gid):
        out.append(f"{shown(rel)}: owner {a.st_uid}:{a.st_gid} != {b.st_uid}:{b.st_gid}")
    if (not link or symlink_mtime) and a.st_mtime_ns != b.st_mtime_ns:
        out.append(f"{shown(rel)}: mtime {_fmt_ns(a.st_mtime_ns)} != {_fmt_ns(b.st_mtime_ns)}")
    if link and os.readlink(src) != os.readlink(dst):
        out.append(f"{shown(rel)}: symlink target {os.readlink(src)!r} != {os.readlink(dst)!r}")
    if (stat.S_ISCHR(a.st_mode) or stat.S_ISBLK(a.st_mode)) and a.st_rdev != b.st_rdev:
        out.append(
            f"{shown(rel)}: device {os.major(a.st_rdev)}:{os.minor(a.st_rdev)} "
            f"!= {os.major(b.st_rdev)}:{os.minor(b.st_rdev)}"
        )
    if stat.S_ISREG(a.st_mode):
        out += _compare_file(rel, src, dst, a, b, must_be_dense=must_be_dense)
    xa, xb = xattrs(src), xattrs(dst)
    for name in sorted((set(xa) | set(xb)) - FS_INTERNAL_XATTRS):
        va, vb = xa.get(name), xb.get(name)
        if va == vb:
            continue
        if name in ACL_XATTRS:
            ta = decode_acl(va) if va is not None else "none"
            tb = decode_acl(vb) if vb is not None else "none"
            out.append(f"{shown(rel)}: acl {ACL_XATTRS[name]} {ta!r} != {tb!r}")
        else:
            out.append(f"{shown(rel)}: xattr {name} {_show(va)} != {_show(vb)}")
    return out


def _compare_file(
    rel: str, src: Path, dst: Path, a: os.stat_result, b: os.stat_result, *, must_be_dense: bool
) -> list[str]:
    if a.st_size != b.st_size:
        return [f"{shown(rel)}: size {a.st_size} != {b.st_size}"]
    out = []
    if not same_content(src, dst):
        out.append(f"{shown(rel)}: content differs")
    if a.st_blocks * 512 < a.st_size:  # the source has holes: the copy may not fill them
        src_ext, dst_ext = data_extents(src), data_extents(dst)
        block = max(a.st_blksize, b.st_blksize)
        filled = bytes_outside(dst_ext, src_ext, block)
        tolerated = max(1024 * 1024, sum(e - s for s, e in src_ext))
        if filled > tolerated:
            out.append(
                f"{shown(rel)}: {filled} bytes allocated where the source has holes "
                f"(data {_extents_text(src_ext)} != {_extents_text(dst_ext)})"
            )
    if must_be_dense and b.st_blocks * 512 < b.st_size:
        out.append(f"{shown(rel)}: has holes ({b.st_blocks * 512} of {b.st_size} bytes allocated)")
    return out


def _link_groups(entries: dict[str, os.stat_result], common: set[str]) -> dict[str, frozenset[str]]:
    by_inode: dict[tuple[int, int], set[str]] = {}
    for rel in common:
        st = entries[rel]
        if not stat.S_ISDIR(st.st_mode):
            by_inode.setdefault((st.st_dev, st.st_ino), set()).add(rel)
    return {rel: frozenset(group) for group in by_inode.values() for rel in group}


def compare_trees(
    src: Path,
    dst: Path,
    *,
    excludes: Sequence[str] = (),
    ignore: Sequence[str] = (),
    no_holes: Sequence[str] = (),
    symlink_mtime: bool = False,
) -> list[str]:
    """Differences between ``src`` and its copy ``dst``, empty when they are equal.

    ``excludes``: anchored patterns that must be absent from ``dst``.
    ``ignore``: anchored patterns skipped on both sides (files a fixup changed).
    ``no_holes``: files that must be fully allocated in ``dst`` (swap files).
    """
    is_excluded, is_ignored, dense = matcher(excludes), matcher(ignore), matcher(no_holes)
    src_entries: dict[str, os.stat_result] = {}
    src_mounts: set[str] = set()
    for rel, st, mount in walk(src, lambda r: is_ignored(r) or is_excluded(r)):
        src_entries[rel] = st
        if mount:
            src_mounts.add(rel)
    dst_entries: dict[str, os.stat_result] = {}
    dst_mounts: set[str] = set()
    out = []
    for rel, st, mount in walk(dst, is_ignored):
        if is_excluded(rel):
            if not any(is_excluded(anc) for anc in _ancestors(rel)):
                out.append(f"{shown(rel)}: excluded but present in dst")
            continue
        dst_entries[rel] = st
        if mount:
            dst_mounts.add(rel)
    mounts = src_mounts | dst_mounts
    out += _compare_entry(
        ".", src, dst, os.lstat(src), os.lstat(dst), symlink_mtime=symlink_mtime, must_be_dense=False
    )
    reported_missing: set[str] = set()
    for rel in sorted(set(src_entries) | set(dst_entries)):
        if any(anc in mounts or anc in reported_missing for anc in _ancestors(rel)):
            continue
        if rel not in dst_entries:
            out.append(f"{shown(rel)}: missing in dst")
            reported_missing.add(rel)
        elif rel not in src_entries:
            out.append(f"{shown(rel)}: only in dst")
            reported_missing.add(rel)
        elif rel in mounts:
            if not (stat.S_ISDIR(src_entries[rel].st_mode) and stat.S_ISDIR(dst_entries[rel].st_mode)):
                out.append(f"{shown(rel)}: mount point is not a directory on both sides")
        else:
            out += _compare_entry(
                rel,
                src / rel,
                dst / rel,
                src_entries[rel],
                dst_entries[rel],
                symlink_mtime=symlink_mtime,
                must_be_dense=dense(rel),
            )
    out += _compare_links(src_entries, dst_entries)
    return out


def _compare_links(
    src_entries: dict[str, os.stat_result], dst_entries: dict[str, os.stat_result]
) -> list[str]:
    common = set(src_entries) & set(dst_entries)
    src_groups, dst_groups = _link_groups(src_entries, common), _link_groups(dst_entries, common)
    out: list[str] = []
    seen: set[str] = set()
    for rel in sorted(src_groups):
        if rel in seen or src_groups[rel] == dst_groups.get(rel):
            continue
        ga, gb = src_groups[rel], dst_groups.get(rel, frozenset())
        seen |= ga | gb
        out.append(f"{shown(rel)}: hard links {sorted(ga)} != {sorted(gb)}")
    return out


def _ancestors(rel: str) -> Iterator[str]:
    parts = rel.split("/")
    for i in range(1, len(parts)):
        yield "/".join(parts[:i])
