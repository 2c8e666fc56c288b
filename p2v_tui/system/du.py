"""Disk usage of directory trees, as ``du -x`` counts it.

Sizes are the blocks actually allocated (``st_blocks * 512``): sparse files
count what they occupy, which is what a copy with ``--sparse`` needs on the
target. Hard-linked files count once, and the walk stays on one filesystem.
"""

from __future__ import annotations

import logging
import os
import stat
from collections.abc import Iterator

log = logging.getLogger(__name__)


def _entries(root: str) -> Iterator[tuple[str, os.stat_result]]:
    """Yield ``(path relative to root, its lstat)`` for every entry under
    ``root`` (root itself as ``""``), one filesystem only, each inode once."""
    try:
        top = os.lstat(root)
    except OSError as exc:
        log.debug("cannot stat %s: %s", root, exc)
        return
    device = top.st_dev
    seen: set[int] = set()
    yield "", top
    if not stat.S_ISDIR(top.st_mode):
        return
    stack = [""]
    while stack:
        rel = stack.pop()
        try:
            entries = list(os.scandir(os.path.join(root, rel)))
        except OSError as exc:
            log.debug("cannot list %s: %s", os.path.join(root, rel), exc)
            continue
        for entry in entries:
            try:
                st = entry.stat(follow_symlinks=False)
            except OSError as exc:
                log.debug("cannot stat %s: %s", entry.path, exc)
                continue
            if st.st_dev != device:
                continue  # a mount point: another filesystem
            if st.st_nlink > 1 and not stat.S_ISDIR(st.st_mode):
                if st.st_ino in seen:
                    continue
                seen.add(st.st_ino)
            child = os.path.join(rel, entry.name) if rel else entry.name
            yield child, st
            if stat.S_ISDIR(st.st_mode):
                stack.append(child)


def _walk(root: str) -> Iterator[tuple[str, int, bool]]:
    """``(path relative to root, allocated bytes, is a directory)`` of :func:`_entries`."""
    for rel, st in _entries(root):
        yield rel, st.st_blocks * 512, stat.S_ISDIR(st.st_mode)


def changed_since(root: str, epoch: int) -> tuple[int, int]:
    """(files, bytes) under ``root`` whose inode changed at or after
    ``epoch`` (ctime: written, created, renamed or given new attributes):
    what another rsync pass sends again."""
    files = size = 0
    for _rel, st in _entries(root):
        if st.st_ctime >= epoch and not stat.S_ISDIR(st.st_mode):
            files += 1
            size += st.st_size if stat.S_ISREG(st.st_mode) else 0
    return files, size


def tree_size(path: str) -> int:
    """Bytes allocated by ``path`` and everything under it on its filesystem."""
    return sum(size for _, size, _ in _walk(path))


def largest_dirs(root: str, depth: int = 2, top: int = 10) -> list[tuple[str, int]]:
    """The ``top`` largest directories at most ``depth`` levels below ``root``.

    Paths are ``root`` joined with the directory (``ROOT/var/lib``); take
    :func:`os.path.relpath` to put the filesystem's mount point in front. A
    directory's size includes its subdirectories, so ``var`` and
    ``var/lib`` may both appear: they are hints for what could be excluded
    from the copy, largest first.
    """
    sizes: dict[str, int] = {}
    for rel, size, is_dir in _walk(root):
        if not rel:
            continue
        parts = rel.split(os.sep)
        # Charge the entry to each enclosing directory down to `depth`
        # (and to itself when it is such a directory).
        last = len(parts) if is_dir else len(parts) - 1
        for level in range(1, min(depth, last) + 1):
            prefix = os.sep.join(parts[:level])
            sizes[prefix] = sizes.get(prefix, 0) + size
    ranked = sorted(sizes.items(), key=lambda item: (-item[1], item[0]))
    return [(os.path.join(root, rel), size) for rel, size in ranked[:top]]
