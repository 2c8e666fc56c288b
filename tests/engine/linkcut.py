"""The built-in demo (simulated disk commands, real rsync into a directory)
with a link to the target that can be cut, for the executor, headless mode
and the wizard's controller.

:class:`LosingTarget` behaves as SshTarget does on a dead link: the first
call after the cut waits ``hang`` seconds (the link timeout) and raises
TargetLost, every later call raises it at once. :class:`CuttingTransfer`
cuts the link at 40 % of a copy and fails as rsync does when its ssh gives
up. The simulated target behind them keeps its state (tables, mounts)
across connections, as a real bootstrap OS does between two runs.
"""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from p2v_tui.demo import demo_parts
from p2v_tui.engine.session import Parts
from p2v_tui.model.answers import Answers
from p2v_tui.model.parsers import MountEntry
from p2v_tui.model.plan import CopyJob
from p2v_tui.system.runner import CommandResult
from p2v_tui.system.target import Target, TargetError, TargetLost
from p2v_tui.system.transfer import JobResult, ProgressCallback, Transfer, TransferError

LOST = "the link to the target is lost: no answer from the test target for 1 s"


@dataclass
class Link:
    """The wire, and how it fails."""

    hang: float = 0.3
    """Seconds the first call on a dead link waits before TargetLost."""
    cut_at_command: str | None = None
    """Cut the link when a command whose program has this name starts."""
    cut_in_copy: bool = False
    """Cut the link at 40 % of the next copy."""
    busy_umounts: int = 0
    """So many umount calls say 'target is busy' first (a dead run's processes)."""
    cut: threading.Event = field(default_factory=threading.Event)
    commands: list[tuple[str, ...]] = field(default_factory=list)
    """Every command tried, also those the dead link refused."""

    def restore(self) -> None:
        self.cut.clear()
        self.cut_at_command = None
        self.cut_in_copy = False


class LosingTarget:
    def __init__(self, inner: Target, link: Link) -> None:
        self.inner = inner
        self.link = link
        self.description = inner.description
        self._lost: TargetLost | None = None

    def _gate(self) -> None:
        if not self.link.cut.is_set():
            return
        if self._lost is None:
            time.sleep(self.link.hang)  # nothing comes back until the link timeout
            self._lost = TargetLost(LOST)
        raise self._lost

    def run(
        self,
        argv: Sequence[str],
        *,
        input: bytes | None = None,
        timeout: float | None = None,
        check: bool = True,
    ) -> CommandResult:
        self.link.commands.append(tuple(argv))
        if argv[0] == self.link.cut_at_command:
            self.link.cut.set()
        self._gate()
        if argv[0] == "umount" and self.link.busy_umounts > 0:
            self.link.busy_umounts -= 1
            return CommandResult(tuple(argv), 32, "", f"umount: {argv[-1]}: target is busy.\n")
        return self.inner.run(argv, input=input, timeout=timeout, check=check)

    def read_file(self, path: str, *, limit: int) -> bytes | None:
        self._gate()
        return self.inner.read_file(path, limit=limit)

    def mounts(self) -> list[MountEntry]:
        self._gate()
        return self.inner.mounts()

    def missing_tools(self, names: Sequence[str]) -> list[str]:
        self._gate()
        return self.inner.missing_tools(names)

    def missing_paths(self, paths: Sequence[str]) -> list[str]:
        self._gate()
        return self.inner.missing_paths(paths)

    def write_file(self, path: str, data: bytes, *, mode: int | None = None) -> None:
        self._gate()
        self.inner.write_file(path, data, mode=mode)

    def symlink(self, link_target: str, path: str) -> None:
        self._gate()
        self.inner.symlink(link_target, path)

    def readlink(self, path: str) -> str | None:
        self._gate()
        return self.inner.readlink(path)

    def remove(self, path: str) -> None:
        self._gate()
        self.inner.remove(path)

    def check_link(self) -> None:
        self._gate()

    def close(self) -> None:
        pass


class CuttingTransfer:
    def __init__(self, inner: Transfer, link: Link) -> None:
        self.inner = inner
        self.link = link

    def close(self) -> None:
        self.inner.close()

    def copy(
        self,
        job: CopyJob,
        source_dir: str,
        on_progress: ProgressCallback,
        cancel: threading.Event,
        *,
        resume: bool = False,
    ) -> JobResult:
        if self.link.cut_in_copy:
            self.link.cut_in_copy = False
            on_progress(job.bytes * 2 // 5, 40, "usr/share/doc/package055/file7.txt")
            self.link.cut.set()
            time.sleep(self.link.hang)  # ssh's ServerAlive wait
            raise TransferError(
                f"copying {job.mountpoint} failed: rsync the ssh connection failed\n"
                "rsync: [sender] write error: Broken pipe (32)"
            )
        return self.inner.copy(job, source_dir, on_progress, cancel, resume=resume)


def cuttable_demo(tmp: Path, link: Link) -> Parts:
    """The demo's parts, reached over ``link``; one simulated target for
    every connection."""
    parts = demo_parts(tmp / "source", tmp / "target")
    inner: list[Target] = []

    def connect(answers: Answers) -> Target:
        if link.cut.is_set():
            raise TargetError("cannot reach the test target")  # as SshTarget.connect says
        if not inner:
            inner.append(parts.connect(answers))
        return LosingTarget(inner[0], link)

    def transfer(target: Target, answers: Answers, tmp_dir: Path) -> Transfer:
        return CuttingTransfer(parts.transfer(target, answers, tmp_dir), link)

    return dataclasses.replace(parts, connect=connect, transfer=transfer)
