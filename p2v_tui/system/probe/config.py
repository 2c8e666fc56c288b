"""Snapshot of the configuration files the fixups will edit.

Text is decoded as UTF-8 with ``surrogateescape``: a stray Latin-1 byte in a
comment survives a round trip when the edited file is encoded back the same
way, instead of turning into U+FFFD on the target.
"""

from __future__ import annotations

import glob
import logging
import os
import stat
from types import MappingProxyType

from ...model.config_paths import CONFIG_GLOBS, DEVICE_LINK_GLOBS, LINK_GLOBS, MAX_CONFIG_BYTES
from ...model.machine import ConfigSnapshot
from .tree import SourceTree

log = logging.getLogger(__name__)


def snapshot_config(
    tree: SourceTree,
    globs: tuple[str, ...] = CONFIG_GLOBS,
    link_globs: tuple[str, ...] = LINK_GLOBS,
    max_bytes: int = MAX_CONFIG_BYTES,
) -> ConfigSnapshot:
    files: dict[str, str] = {}
    for pattern in globs:
        for path in tree.glob(pattern):
            st = tree.stat(path)
            if st is None:
                log.debug("%s: dangling or leaves the source tree; not read", path)
                continue
            if not stat.S_ISREG(st.st_mode):
                continue
            if st.st_size > max_bytes:
                log.info("%s is %d bytes: not configuration, skipped", path, st.st_size)
                continue
            data = tree.read_bytes(path, max_bytes)
            if data is None:
                continue
            if b"\0" in data:
                log.info("%s is binary, skipped", path)
                continue
            files[path] = data.decode("utf-8", errors="surrogateescape")
    links: dict[str, str] = {}
    for pattern in link_globs:
        for path in tree.glob(pattern):
            target = tree.readlink(path)
            if target is not None:
                links[path] = target
    return ConfigSnapshot(files=MappingProxyType(files), links=MappingProxyType(links))


def live_device_links(globs: tuple[str, ...] = DEVICE_LINK_GLOBS, root: str = "/") -> dict[str, str]:
    """``/dev/disk/by-*`` links of the live system, which runs on the
    source's hardware: they resolve the names the source's fstab may use.
    Keys are the paths as the source system would see them."""
    links: dict[str, str] = {}
    for pattern in globs:
        for path in sorted(glob.glob(os.path.join(root, pattern.lstrip("/")))):
            try:
                links["/" + os.path.relpath(path, root)] = os.readlink(path)
            except OSError:
                continue
    return links


def with_device_links(snapshot: ConfigSnapshot, links: dict[str, str]) -> ConfigSnapshot:
    merged = {**links, **snapshot.links}
    return ConfigSnapshot(files=snapshot.files, links=MappingProxyType(merged))
