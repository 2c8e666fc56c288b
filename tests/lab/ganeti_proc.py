"""Processes and loop devices a Ganeti lab owns, found and ended by identity.

A lab process is known by its host PID and checked to be in the lab's network
namespace before any signal; a lab loop device is one attached while the lab
ran whose backing file is (or was) a lab file: same filesystem and inode as a
file under the scratch directory, or a path under it.
"""

from __future__ import annotations

import json
import logging
import os
import re
import signal
import subprocess
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from . import ganeti_ns as ns

log = logging.getLogger(__name__)

SPAWN_TIMEOUT = 10.0


@dataclass
class LabProcess:
    """A command started inside the lab through ``nsenter`` (which forks it)."""

    pid: int
    """Host PID of the command itself."""
    popen: subprocess.Popen[bytes]
    netns: str

    def alive(self) -> bool:
        return self.popen.poll() is None

    def stop(self, grace: float = 10.0) -> None:
        if self.popen.poll() is not None:
            return
        if self.pid in ns.netns_pids(self.netns):
            os.kill(self.pid, signal.SIGTERM)
        try:
            self.popen.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            if self.pid in ns.netns_pids(self.netns):
                os.kill(self.pid, signal.SIGKILL)
            self.popen.wait(timeout=grace)


def spawn(argv: Sequence[str], output: Path, netns: str) -> LabProcess:
    """Start ``argv`` (already wrapped by ``nsenter --pid``); find the command's PID."""
    with open(output, "ab") as out:
        popen = subprocess.Popen(
            argv, stdin=subprocess.DEVNULL, stdout=out, stderr=out, cwd="/", start_new_session=True
        )
    deadline = time.monotonic() + SPAWN_TIMEOUT
    while time.monotonic() < deadline:
        kids = ns.children(popen.pid)
        if kids:
            return LabProcess(pid=kids[0], popen=popen, netns=netns)
        if popen.poll() is not None:
            raise RuntimeError(
                f"{argv} exited at once ({popen.returncode}): {output.read_text(errors='replace')}"
            )
        time.sleep(0.02)
    popen.kill()
    popen.wait(timeout=10)
    raise RuntimeError(f"{argv} did not start within {SPAWN_TIMEOUT}s")


@dataclass(frozen=True)
class Loop:
    name: str
    back_dev: str
    """``MAJOR:MINOR`` of the backing file's filesystem."""
    back_ino: int
    back_file: str


def parse_losetup(text: str) -> dict[str, Loop]:
    """``losetup --list --json --output NAME,BACK-MAJ:MIN,BACK-INO,BACK-FILE``
    (util-linux pads the device number with blanks)."""
    loops = {}
    for dev in json.loads(text or "{}").get("loopdevices", []):
        name = dev["name"]
        loops[name] = Loop(
            name=name,
            back_dev=(dev.get("back-maj:min") or "").strip(),
            back_ino=int(dev.get("back-ino") or 0),
            back_file=(dev.get("back-file") or "").strip(),
        )
    return loops


def loop_table() -> dict[str, Loop]:
    proc = subprocess.run(
        ["losetup", "--list", "--json", "--output", "NAME,BACK-MAJ:MIN,BACK-INO,BACK-FILE"],
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    )
    return parse_losetup(proc.stdout)


def _tree_inodes(root: Path) -> set[tuple[str, int]]:
    found = set()
    for dirpath, _dirs, files in os.walk(root):
        for name in files:
            try:
                st = os.lstat(os.path.join(dirpath, name))
            except OSError:
                continue
            found.add((f"{os.major(st.st_dev)}:{os.minor(st.st_dev)}", st.st_ino))
    return found


def lab_loops(
    before: Mapping[str, Loop], now: Mapping[str, Loop], scratch: Path, prefixes: Sequence[str]
) -> list[Loop]:
    """Loops attached since ``before`` whose backing file is a lab file: on the
    scratch filesystem and either still found under ``scratch`` by inode, or
    named under one of ``prefixes``. The kernel names a file of a bind mount
    that the reader cannot see relative to the mount's root, and adds
    `` (deleted)`` once the file is gone, so the prefixes list the lab's file
    storage both as the lab sees it and relative to its bind mount."""
    st = os.stat(scratch if scratch.exists() else scratch.parent)
    scratch_dev = f"{os.major(st.st_dev)}:{os.minor(st.st_dev)}"
    inodes = _tree_inodes(scratch) if scratch.exists() else set()
    starts = (str(scratch.resolve()) + "/", *(p.rstrip("/") + "/" for p in prefixes))
    mine = []
    for name, loop in now.items():
        if before.get(name) == loop or loop.back_dev != scratch_dev:
            continue
        if (loop.back_dev, loop.back_ino) in inodes or loop.back_file.startswith(starts):
            mine.append(loop)
    return mine


def detach_lab_loops(before: Mapping[str, Loop], scratch: Path, prefixes: Sequence[str]) -> list[Loop]:
    """Detach the lab's loop devices (see :func:`lab_loops`); returns them."""
    loops = lab_loops(before, loop_table(), scratch, prefixes)
    for loop in loops:
        log.warning("detaching lab loop device %s (%s)", loop.name, loop.back_file)
        subprocess.run(["losetup", "--detach", loop.name], check=True, capture_output=True, timeout=30)
    return loops


def wait_for(pattern: str, path: Path, timeout: float) -> re.Match[str]:
    """The first match of ``pattern`` in the file at ``path`` (a growing log)."""
    regex = re.compile(pattern)
    deadline = time.monotonic() + timeout
    text = ""
    while True:
        if path.exists():
            text = path.read_text(encoding="utf-8", errors="replace")
            if m := regex.search(text):
                return m
        if time.monotonic() > deadline:
            raise TimeoutError(f"{pattern!r} not in {path} after {timeout}s; tail:\n{text[-3000:]}")
        time.sleep(0.2)
