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


def _walk(root: str) -> Iterator[tuple[str, int, bool]]:
    """Yield ``(path relative to root, allocated bytes, is a directory)`` for
    every entry under ``root`` (root itself as ``""``), one filesystem only."""
    try:
        top = os.lstat(root)
    except OSError as exc:
        log.debug("cannot stat %s: %s", root, exc)
        return
    device = top.st_dev
    seen: set[int] = set()
    yield "", top.st_blocks * 512, stat.S_ISDIR(top.st_mode)
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
            is_dir = stat.S_ISDIR(st.st_mode)
            yield child, st.st_blocks * 512, is_dir
            if is_dir:
                stack.append(child)


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
