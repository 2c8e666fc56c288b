"""A simulated target for the built-in demo.

Nothing here touches a disk. Disk-level commands (sfdisk, mkfs, mount,
chroot ...) are recorded and answered from a small state (the partition
table that was "written", the UUID each mkfs was asked for); files live in
a local directory that stands for the target's root, so the demo's rsync
copy and fixups are real file operations you can inspect afterwards. Every
simulated command is logged as such.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shlex
import shutil
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

from ..model.parsers import MountEntry
from .runner import CommandResult
from .target import read_at_most

log = logging.getLogger(__name__)


class SimulatedTarget:
    def __init__(self, root: Path, disks: Mapping[str, int], files: Mapping[str, bytes]) -> None:
        self.root = root
        self.description = "simulated target"
        self._disks = dict(disks)
        self._tables: dict[str, str] = {}
        self._uuids: dict[str, str] = {}
        self._mounts: list[MountEntry] = [MountEntry("tmpfs", "/", "tmpfs", "rw")]
        self.commands: list[tuple[str, ...]] = []
        root.mkdir(parents=True, exist_ok=True)
        for path, data in files.items():
            self._local(path).parent.mkdir(parents=True, exist_ok=True)
            self._local(path).write_bytes(data)

    def _local(self, path: str) -> Path:
        return self.root / path.lstrip("/")

    def run(
        self,
        argv: Sequence[str],
        *,
        input: bytes | None = None,
        timeout: float | None = None,
        check: bool = True,
    ) -> CommandResult:
        args = tuple(argv)
        self.commands.append(args)
        log.info("target$ %s", shlex.join(args))
        out = ""
        name = args[0]
        if name == "blockdev" and args[1] == "--getsize64":
            out = f"{self._disks[args[2]]}\n"
        elif name == "blockdev" and args[1] == "--getss":
            out = "512\n"
        elif name == "sfdisk" and "--dump" in args:
            out = self._tables.get(args[-1], "")
        elif name == "sfdisk" and "--json" in args:
            out = ""  # as on a disk without a table: nothing to resume
        elif name == "sfdisk":
            self._tables[args[-1]] = (input or b"").decode()
        elif name.startswith("mkfs.") or name == "mkswap":
            if "-U" in args:
                self._uuids[args[-1]] = args[args.index("-U") + 1]
            elif "-m" in args:
                for opt in args[args.index("-m") + 1].split(","):
                    if opt.startswith("uuid="):
                        self._uuids[args[-1]] = opt[5:]
        elif name == "blkid":  # -o export
            uuid = self._uuids.get(args[-1], "")
            out = f"UUID={uuid}\n" if uuid else ""
        elif name == "stat" and "-L" in args:  # device numbers, as virtio-blk's
            devices = [a for a in args[3:] if a.startswith("/dev/")]
            out = "".join(f"{dev} fc {minor:x}\n" for minor, dev in enumerate(devices))
        elif name == "stat":  # access and modification times of the local files
            out = "".join(f"{_stat_time(self._local(p))}\t{p}\n" for p in args[3:])
        elif name == "mkdir":
            for path in args[1:]:
                if not path.startswith("-"):
                    self._local(path).mkdir(parents=True, exist_ok=True)
        elif name == "mount":
            self._mounts.append(MountEntry(args[-2], args[-1], args[2] if len(args) > 2 else "", ""))
        elif name == "umount":
            self._mounts = [m for m in self._mounts if m.target != args[-1]]
        return CommandResult(args, 0, out, "")

    def read_file(self, path: str, *, limit: int) -> bytes | None:
        try:
            with self._local(path).open("rb") as f:
                return read_at_most(f, path, limit)
        except FileNotFoundError:
            return None

    def mounts(self) -> list[MountEntry]:
        return list(self._mounts)

    def missing_tools(self, names: Sequence[str]) -> list[str]:
        return []

    def missing_paths(self, paths: Sequence[str]) -> list[str]:
        return [p for p in paths if not self._exists(p)]

    def _exists(self, path: str) -> bool:
        if path.startswith("/dev/"):
            # a partition exists once a table was "written" on its disk
            return path in self._disks or any(path.startswith(d) for d in self._tables)
        return self._local(path).exists()

    def write_file(self, path: str, data: bytes, *, mode: int | None = None) -> None:
        """Atomic, as on a real target: a symlink at ``path`` is replaced."""
        local = self._local(path)
        tmp = local.with_name(local.name + ".p2v-new")
        tmp.write_bytes(data)
        if local.exists() and not local.is_symlink():
            shutil.copymode(local, tmp)
        elif mode is not None:
            os.chmod(tmp, mode)
        os.replace(tmp, local)

    def symlink(self, link_target: str, path: str) -> None:
        local = self._local(path)
        with contextlib.suppress(FileNotFoundError):
            local.unlink()
        local.symlink_to(link_target)

    def readlink(self, path: str) -> str | None:
        try:
            return os.readlink(self._local(path))
        except (FileNotFoundError, OSError):
            return None

    def remove(self, path: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            self._local(path).unlink()

    def check_link(self) -> None:
        pass

    def close(self) -> None:
        pass


def _stat_time(path: Path) -> str:
    """``%x<TAB>%y`` of ``stat --format`` for a local file."""
    st = path.stat()
    return "\t".join(
        time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(ns // 10**9)) + f".{ns % 10**9:09d} +0000"
        for ns in (st.st_atime_ns, st.st_mtime_ns)
    )
