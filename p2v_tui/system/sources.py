"""Read-only access to the source filesystems while they are copied."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Mapping
from typing import Protocol

from ..model.machine import Filesystem
from .mounts import readonly_mount

log = logging.getLogger(__name__)


class SourceAccess(Protocol):
    def directory(self, device: str) -> str:
        """A directory showing the filesystem on ``device`` read-only; for
        btrfs its top-level subvolume (id 5), so every subvolume is
        reachable by its path (whatever the default subvolume is)."""
        ...

    def close(self) -> None: ...


class MountedSources:
    """Mounts each source filesystem read-only on first use, once, and
    unmounts them all on :meth:`close`."""

    def __init__(self, filesystems: Mapping[str, Filesystem], base: str) -> None:
        self._filesystems = filesystems
        self._base = base
        self._stack = contextlib.ExitStack()
        self._mounted: dict[str, str] = {}

    def directory(self, device: str) -> str:
        if device not in self._mounted:
            fs = self._filesystems[device]
            subvolid = 5 if fs.fstype == "btrfs" else None
            path = self._stack.enter_context(
                readonly_mount(device, fs.fstype, subvolid=subvolid, base=self._base)
            )
            self._mounted[device] = str(path)
        return self._mounted[device]

    def close(self) -> None:
        self._mounted.clear()
        self._stack.close()


class DirectorySources:
    """Source filesystems that already are plain directories (the built-in
    demo machine's sample tree)."""

    def __init__(self, directories: Mapping[str, str]) -> None:
        self._directories = directories

    def directory(self, device: str) -> str:
        return self._directories[device]

    def close(self) -> None:
        pass
