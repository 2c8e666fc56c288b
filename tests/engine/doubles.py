"""Doubles for the executor and the session: the simulated bootstrap OS
answering chosen commands as a case tells it (a lie, a failure), and a
transfer that copies nothing but records what it was given."""

from __future__ import annotations

import json
import shlex
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from p2v_tui.model.plan import CopyJob, Plan
from p2v_tui.system.runner import CommandError, CommandResult
from p2v_tui.system.simulated import SimulatedTarget
from p2v_tui.system.transfer import JobResult, ProgressCallback

DISK = "/dev/vda"
DISK_SIZE = 10 * 2**30

READS = frozenset({"blockdev", "blkid", "stat", "sync", "udevadm", "partx", "umount"})
"""Commands that change nothing on the target (sfdisk only with --json or --dump)."""

Answer = tuple[int, str, str]
"""(exit status, stdout, stderr)"""
Lie = Callable[["LyingTarget", tuple[str, ...]], Answer | None]
"""What the target answers to a command instead of the simulated answer
(None: the simulated one). It may raise, as a lost link does."""


class LyingTarget(SimulatedTarget):
    """The simulated bootstrap OS with one 10 GiB disk, answering through
    ``lie`` first; ``writes`` lists everything that changed the target.
    With ``earlier`` it holds that plan's partitions and filesystems, as
    after a cancelled run."""

    def __init__(self, root: Path, files: dict[str, bytes], lie: Lie) -> None:
        super().__init__(root, {DISK: DISK_SIZE}, files)
        self.lie = lie
        self.writes: list[str] = []
        self.earlier: Plan | None = None

    def run(
        self,
        argv: Sequence[str],
        *,
        input: bytes | None = None,
        timeout: float | None = None,
        check: bool = True,
    ) -> CommandResult:
        args = tuple(argv)
        answer = self.lie(self, args) or self._earlier(args)
        if args[0] not in READS and not (args[0] == "sfdisk" and {"--json", "--dump"} & set(args)):
            self.writes.append(shlex.join(args))
        if answer is None:
            result = super().run(args, input=input, timeout=timeout)
        else:
            self.commands.append(args)
            result = CommandResult(args, *answer)
        if check and result.returncode != 0:
            raise CommandError(args, result.returncode, result.stderr)
        return result

    def _earlier(self, args: tuple[str, ...]) -> Answer | None:
        if self.earlier is None or self.writes:
            return None
        if args[:2] == ("sfdisk", "--json"):
            (dp,) = self.earlier.disks
            table = {"label": "dos" if dp.table == "msdos" else "gpt", "sectorsize": 512,
                     "partitions": [{"node": p.device, "start": p.start // 512, "size": p.size // 512}
                                    for p in dp.partitions]}  # fmt: skip
            return 0, json.dumps({"partitiontable": table}), ""
        if args[0] == "blkid":
            part = next((p for p in self.earlier.partitions if p.device == args[-1]), None)
            if part is not None and part.fstype:
                return 0, f"UUID={part.uuid}\nTYPE={part.fstype}\n", ""
        return None

    def write_file(self, path: str, data: bytes, *, mode: int | None = None) -> None:
        self.writes.append(f"write_file {path}")
        super().write_file(path, data, mode=mode)

    def symlink(self, link_target: str, path: str) -> None:
        self.writes.append(f"symlink {path}")
        super().symlink(link_target, path)

    def remove(self, path: str) -> None:
        self.writes.append(f"remove {path}")
        super().remove(path)


def no_lie(target: LyingTarget, args: tuple[str, ...]) -> Answer | None:
    return None


def answers(
    argv: Sequence[str], out: str, code: int = 0, err: str = "", *, before_writes: bool = False
) -> Lie:
    """A lie: commands starting with ``argv`` answer this (with
    ``before_writes`` only until the target was first written)."""
    prefix = tuple(argv)

    def lie(target: LyingTarget, args: tuple[str, ...]) -> Answer | None:
        if args[: len(prefix)] != prefix or (before_writes and target.writes):
            return None
        return code, out, err

    return lie


@dataclass(frozen=True)
class Copied:
    """One job the transfer was given."""

    job: CopyJob
    source_dir: str
    resume: bool


class QuietTransfer:
    """A copy that copies nothing: reports each job half done (``current``
    as the file name in progress), then done with ``warnings`` as rsync's.
    ``copied`` lists the jobs in the order given; ``during``, called at
    half-way, can fail or cancel the copy as rsync would."""

    def __init__(
        self,
        current: str = "",
        warnings: tuple[str, ...] = (),
        during: Callable[[CopyJob, threading.Event], None] | None = None,
    ) -> None:
        self.current = current
        self.warnings = warnings
        self.during = during
        self.copied: list[Copied] = []

    def close(self) -> None:
        pass

    def copy(
        self,
        job: CopyJob,
        source_dir: str,
        on_progress: ProgressCallback,
        cancel: threading.Event,
        *,
        resume: bool = False,
    ) -> JobResult:
        self.copied.append(Copied(job, source_dir, resume))
        on_progress(job.bytes // 2, 50, self.current)
        if self.during is not None:
            self.during(job, cancel)
        return JobResult(job.bytes, self.warnings)
