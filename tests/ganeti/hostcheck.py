"""What a Ganeti lab must leave as it found it on the host, as comparable data."""

from __future__ import annotations

import hashlib
import os
import stat
from dataclasses import dataclass
from pathlib import Path

from tests.lab.ganeti_proc import Loop, loop_table

WATCHED = (
    "/var/lib/ganeti",
    "/etc/ganeti",
    "/etc/default",
    "/var/lib/ganeti-instance-p2v-target",
    "/var/log/ganeti",
    "/srv",
    "/root/.ssh",
    "/etc/ssh",
    "/etc/hosts",
    "/etc/resolv.conf",
    "/etc/netns",
    "/run/ganeti",
    "/run/lock/ganeti-ssconf.lock",
    "/run/lock/ganeti-watcher.lock",
    "/run/sshd",
)
"""Everything Ganeti, its node sshd, root's SSH client and an OS definition's install would write to."""


@dataclass(frozen=True)
class HostState:
    netns: tuple[str, ...]
    mounts: frozenset[tuple[str, str, str, str]]
    """(root, mount point, fs type, source) of each host mount."""
    loops: dict[str, Loop]
    trees: dict[str, tuple[tuple[str, ...], ...]]


def _entry(path: str) -> tuple[str, ...]:
    st = os.lstat(path)
    kind = stat.S_IFMT(st.st_mode)
    detail = ""
    if stat.S_ISLNK(st.st_mode):
        detail = os.readlink(path)
    elif stat.S_ISREG(st.st_mode):
        with open(path, "rb") as f:
            detail = hashlib.sha256(f.read()).hexdigest()
    return (
        path,
        oct(kind),
        oct(st.st_mode & 0o7777),
        str(st.st_uid),
        str(st.st_gid),
        str(st.st_mtime_ns),
        detail,
    )


def tree(top: str) -> tuple[tuple[str, ...], ...]:
    """Every entry under ``top`` (or ``("absent",)``): type, mode, owner, mtime, content hash."""
    if not os.path.lexists(top):
        return (("absent", top),)
    entries = [_entry(top)]
    if os.path.isdir(top) and not os.path.islink(top):
        for dirpath, dirs, files in os.walk(top):
            entries += [_entry(os.path.join(dirpath, n)) for n in sorted(dirs + files)]
    return tuple(entries)


def mounts() -> frozenset[tuple[str, str, str, str]]:
    out = set()
    for line in Path("/proc/self/mountinfo").read_text(encoding="utf-8").splitlines():
        left, _, right = line.partition(" - ")
        fields, rfields = left.split(), right.split()
        out.add((fields[3], fields[4], rfields[0], rfields[1]))
    return frozenset(out)


def snapshot() -> HostState:
    netns_dir = Path("/run/netns")
    return HostState(
        netns=tuple(sorted(os.listdir(netns_dir))) if netns_dir.is_dir() else (),
        mounts=mounts(),
        loops=loop_table(),
        trees={top: tree(top) for top in WATCHED},
    )
