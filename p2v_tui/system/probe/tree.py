"""The source system's directory tree, assembled from read-only mounts.

The source's filesystems are mounted in separate private directories, not
stacked like the source mounted them. :class:`SourceTree` maps a path as the
source sees it (``/boot/grub/grub.cfg``) to the file inside the right mount,
and resolves symlinks the way the source would — relative to the source's
root, never escaping into the live system (``/etc/resolv.conf ->
/run/...`` leads to the source's empty ``/run``, not the live one).
"""

from __future__ import annotations

import fnmatch
import logging
import os
import posixpath
import stat
from collections import deque
from collections.abc import Mapping

log = logging.getLogger(__name__)

_MAX_SYMLINKS = 40  # as the kernel's path walk allows


class SourceTree:
    def __init__(self, mounts: Mapping[str, str], devices: Mapping[str, str] | None = None) -> None:
        """``mounts``: source mount point -> directory on this host; must
        include ``/``. ``devices``: source mount point -> device."""
        if "/" not in mounts:
            raise ValueError("the source tree needs a root filesystem")
        self._mounts = dict(sorted(mounts.items(), key=lambda kv: -len(kv[0])))
        self._devices = dict(devices or {})

    def _mount_of(self, path: str) -> str:
        for mountpoint in self._mounts:
            if path == mountpoint or path.startswith(mountpoint.rstrip("/") + "/"):
                return mountpoint
        return "/"

    def host_path_of(self, path: str) -> str:
        """The host path of ``path`` *without* resolving symlinks in it."""
        path = posixpath.normpath("/" + path.lstrip("/"))
        mountpoint = self._mount_of(path)
        rel = path[len(mountpoint) :].lstrip("/")
        return os.path.join(self._mounts[mountpoint], rel) if rel else self._mounts[mountpoint]

    def device_of(self, path: str) -> str:
        """Device of the filesystem holding ``path`` (after resolution)."""
        return self._devices.get(self._mount_of(self.resolve(path, follow_last=False) or path), "")

    def resolve(self, path: str, *, follow_last: bool = True) -> str | None:
        """Canonical source path of ``path`` with symlinks resolved inside the
        source; None when a component is missing or links loop."""
        pending = deque(c for c in path.split("/") if c)
        current = "/"
        hops = 0
        while pending:
            name = pending.popleft()
            if name == ".":
                continue
            if name == "..":
                current = posixpath.dirname(current) or "/"
                continue
            candidate = posixpath.join(current, name)
            if not pending and not follow_last:
                current = candidate
                break
            try:
                st = os.lstat(self.host_path_of(candidate))
            except OSError:
                return None
            if stat.S_ISLNK(st.st_mode):
                hops += 1
                if hops > _MAX_SYMLINKS:
                    return None
                target = os.readlink(self.host_path_of(candidate))
                if target.startswith("/"):
                    current = "/"
                pending.extendleft(reversed([c for c in target.split("/") if c]))
                continue
            current = candidate
        return current

    def host_path(self, path: str, *, follow_last: bool = True) -> str | None:
        resolved = self.resolve(path, follow_last=follow_last)
        return None if resolved is None else self.host_path_of(resolved)

    def lstat(self, path: str) -> os.stat_result | None:
        host = self.host_path(path, follow_last=False)
        try:
            return os.lstat(host) if host else None
        except OSError:
            return None

    def stat(self, path: str) -> os.stat_result | None:
        host = self.host_path(path)
        try:
            return os.lstat(host) if host else None
        except OSError:
            return None

    def exists(self, path: str) -> bool:
        return self.stat(path) is not None

    def is_file(self, path: str) -> bool:
        st = self.stat(path)
        return st is not None and stat.S_ISREG(st.st_mode)

    def is_dir(self, path: str) -> bool:
        st = self.stat(path)
        return st is not None and stat.S_ISDIR(st.st_mode)

    def readlink(self, path: str) -> str | None:
        st = self.lstat(path)
        if st is None or not stat.S_ISLNK(st.st_mode):
            return None
        host = self.host_path(path, follow_last=False)
        return os.readlink(host) if host else None

    def read_bytes(self, path: str, limit: int) -> bytes | None:
        """Contents of a regular file of at most ``limit`` bytes, else None."""
        host = self.host_path(path)
        if host is None:
            return None
        try:
            st = os.lstat(host)
            if not stat.S_ISREG(st.st_mode) or st.st_size > limit:
                return None
            with open(host, "rb") as f:
                return f.read(limit + 1)[:limit]
        except OSError as exc:
            log.debug("cannot read %s: %s", path, exc)
            return None

    def read_text(self, path: str, limit: int = 1024 * 1024) -> str | None:
        data = self.read_bytes(path, limit)
        return None if data is None else data.decode("utf-8", errors="surrogateescape")

    def listdir(self, path: str) -> list[str]:
        host = self.host_path(path)
        try:
            return sorted(os.listdir(host)) if host else []
        except OSError:
            return []

    def glob(self, pattern: str) -> list[str]:
        """Source paths matching an absolute fnmatch pattern (``*`` does not
        cross ``/``), in sorted order. Matches are not resolved."""
        matches = ["/"]
        for component in [c for c in pattern.split("/") if c]:
            found = []
            for base in matches:
                if any(ch in component for ch in "*?["):
                    names = [n for n in self.listdir(base) if fnmatch.fnmatchcase(n, component)]
                    if not component.startswith("."):
                        names = [n for n in names if not n.startswith(".")]
                    found += [posixpath.join(base, n) for n in names]
                else:
                    candidate = posixpath.join(base, component)
                    if self.lstat(candidate) is not None:
                        found.append(candidate)
            matches = found
        return sorted(m for m in matches if m != "/")
