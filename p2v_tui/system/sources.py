"""Read-only access to the source filesystems while they are copied."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Mapping, Sequence
from typing import Protocol

from ..model.machine import Filesystem, VolumeGroup
from .probe.lvm import activated_readonly
from .runner import LocalRunner
from .source_mounts import readonly_mount

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
    unmounts them all on :meth:`close`; LVs of ``volume_groups`` are
    activated read-only before the first of them is mounted and deactivated
    after they are unmounted."""

    def __init__(
        self, filesystems: Mapping[str, Filesystem], base: str, volume_groups: Sequence[VolumeGroup] = ()
    ) -> None:
        self._filesystems = filesystems
        self._base = base
        self._stack = contextlib.ExitStack()
        self._mounted: dict[str, str] = {}
        self._volume_groups = tuple(volume_groups)
        self._lv_paths = {lv.path for vg in self._volume_groups for lv in vg.lvs}
        self._activated = False

    def directory(self, device: str) -> str:
        if device not in self._mounted:
            fs = self._filesystems[device]
            if device in self._lv_paths and not self._activated:
                self._stack.enter_context(activated_readonly(LocalRunner(), self._volume_groups))
                self._activated = True
            subvolid = 5 if fs.fstype == "btrfs" else None
            path = self._stack.enter_context(
                readonly_mount(device, fs.fstype, subvolid=subvolid, base=self._base)
            )
            self._mounted[device] = str(path)
        return self._mounted[device]

    def close(self) -> None:
        self._mounted.clear()
        self._activated = False
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
