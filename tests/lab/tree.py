"""A plausible Debian 12 system written into one or several filesystems.

The transfer has to carry everything a real root filesystem holds, so the
tree contains the awkward parts on purpose: hard links across directories,
xattrs and a file capability, POSIX ACLs, sparse files, device nodes, fifos,
sockets, dangling symlinks, 255-byte and newline names, a path longer than
1024 bytes, old and sub-second mtimes, foreign uids. Everything is
deterministic from :attr:`TreeSpec.seed`; only ``populate_tree`` touches disk.
"""

from __future__ import annotations

import os
import random
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType

from .tree_build import (
    RECENT,
    Builder,
    KiB,
    MiB,
    resolve,
    write_boot,
    write_etc,
    write_home,
    write_odd_names,
    write_skeleton,
    write_swapfile,
    write_usr,
    write_var,
)
from .tree_text import (
    DEBIAN_12_OS_RELEASE,
    fstab_by_device,
    fstab_by_label,
    fstab_by_uuid,
    fstab_line,
    render_fstab,
    subvol_options,
)

__all__ = [
    "TreeInfo",
    "TreeSpec",
    "fstab_by_device",
    "fstab_by_label",
    "fstab_by_uuid",
    "fstab_line",
    "populate_tree",
    "render_fstab",
    "subvol_options",
]


@dataclass(frozen=True)
class TreeSpec:
    seed: int = 1
    fstab: str | None = None
    """Text of /etc/fstab; ``None`` renders a one-line fstab for :attr:`root_uuid`."""
    hostname: str = "oldbox"
    domain: str = "example.org"
    os_release: str = DEBIAN_12_OS_RELEASE
    kernel_version: str = "6.1.0-18-amd64"
    root_uuid: str = "5f1c0f9e-3b7a-4c1e-9d2a-1a2b3c4d5e6f"
    mac: str = "52:54:00:12:34:56"
    address: str = "192.0.2.10/24"
    gateway: str = "192.0.2.1"
    small_files: int = 2000
    random_file_size: int = 4 * MiB
    sparse_file_size: int = 64 * MiB
    apt_debs: int = 16
    apt_deb_size: int = 512 * KiB
    swapfile_size: int | None = None
    """Size of /swapfile (fully allocated, mkswap'ed); ``None`` for no swap file."""
    newline_name: bool = True


@dataclass(frozen=True)
class TreeInfo:
    """What :func:`populate_tree` created; paths are absolute as the system sees them."""

    roots: Mapping[str, Path]
    regular_files: int
    regular_bytes: int
    """Apparent size of regular files, each hard-linked inode counted once."""
    items: Mapping[str, tuple[str, ...]]
    """Special items by kind: ``hardlink``, ``symlink``, ``dangling_symlink``,
    ``device``, ``fifo``, ``socket``, ``setuid``, ``setgid_dir``, ``sticky_dir``,
    ``xattr``, ``capability``, ``acl``, ``default_acl``, ``sparse``,
    ``unknown_owner``, ``odd_name``, ``old_mtime``, ``empty_dir``, ``big_file``."""
    hardlink_groups: tuple[tuple[str, ...], ...]
    exclusion_candidates: Mapping[str, int]
    """Directory or file → bytes it holds, for ``--exclude`` tests."""
    small_files_dir: str
    swapfile: str | None
    swap_uuid: str | None
    kernel_version: str

    def host_path(self, path: str) -> Path:
        return resolve(self.roots, path)

    def of(self, kind: str) -> tuple[str, ...]:
        return self.items.get(kind, ())


def unpopulated() -> TreeInfo:
    """The TreeInfo of a source whose tree populate_tree did not make (a
    real Debian system unpacked): nothing special is recorded in it."""
    return TreeInfo(roots={}, regular_files=0, regular_bytes=0, items={}, hardlink_groups=(),
                    exclusion_candidates={}, small_files_dir="", swapfile=None, swap_uuid=None,
                    kernel_version="")  # fmt: skip


def populate_tree(root: Path | Mapping[str, Path], spec: TreeSpec = TreeSpec()) -> TreeInfo:
    """Write the system; ``root`` is one directory or ``{mountpoint: directory}`` with ``/``."""
    if os.geteuid() != 0:
        raise PermissionError("populate_tree needs root (chown, mknod, ACLs)")
    roots = MappingProxyType(dict(root)) if isinstance(root, Mapping) else MappingProxyType({"/": root})
    if "/" not in roots:
        raise ValueError("the mapping needs a '/' entry")
    b = Builder(roots, random.Random(spec.seed))
    b.dir("/")
    for mountpoint in sorted(roots, key=len):
        b.dir(mountpoint)
        if mountpoint != "/":  # the empty mount point directory on the parent filesystem
            under = resolve({m: p for m, p in roots.items() if m != mountpoint}, mountpoint)
            under.mkdir(parents=True, exist_ok=True)
            b.times[under] = RECENT * 10**9
    write_skeleton(b)
    write_etc(b, spec)
    write_boot(b, spec)
    write_usr(b, spec)
    write_home(b)
    write_var(b, spec)
    write_odd_names(b, spec)
    swap_uuid = write_swapfile(b, spec) if spec.swapfile_size else None
    b.apply_times()
    return TreeInfo(
        roots=roots,
        regular_files=sum(1 for _ in b.files),
        regular_bytes=sum(b.files.values()),
        items=MappingProxyType({k: tuple(dict.fromkeys(v)) for k, v in b.items.items()}),
        hardlink_groups=_groups(b),
        exclusion_candidates=MappingProxyType(_exclusions(spec)),
        small_files_dir="/usr/share/doc",
        swapfile="/swapfile" if spec.swapfile_size else None,
        swap_uuid=swap_uuid,
        kernel_version=spec.kernel_version,
    )


def _groups(b: Builder) -> tuple[tuple[str, ...], ...]:
    by_inode: dict[tuple[int, int], list[str]] = defaultdict(list)
    for path in b.items["hardlink"]:
        st = b.host(path).lstat()
        by_inode[(st.st_dev, st.st_ino)].append(path)
    return tuple(tuple(paths) for paths in by_inode.values())


def _exclusions(spec: TreeSpec) -> dict[str, int]:
    out = {"/var/cache/apt/archives": spec.apt_debs * spec.apt_deb_size, "/var/tmp/build-cache": 8 * 64 * KiB}
    if spec.swapfile_size:
        out["/swapfile"] = spec.swapfile_size
    return out
