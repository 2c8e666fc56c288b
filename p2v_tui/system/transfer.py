"""Running rsync for one copy job, with progress and cancellation."""

from __future__ import annotations

import logging
import os
import selectors
import shlex
import signal
import subprocess
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from ..model.plan import CopyJob
from ..model.rsync import ProgressParser, RsyncName, RsyncProgress, describe_exit, rsync_argv

log = logging.getLogger(__name__)

ProgressCallback = Callable[[int, int | None, str], None]
"""(bytes done in this job, rsync's percentage or None, current file)"""


class TransferError(Exception):
    pass


class Cancelled(Exception):
    """The user asked to stop; everything was left in a resumable state."""


@dataclass(frozen=True)
class JobResult:
    bytes: int
    warnings: tuple[str, ...]


class Transfer(Protocol):
    def copy(
        self, job: CopyJob, source_dir: str, on_progress: ProgressCallback, cancel: threading.Event
    ) -> JobResult: ...


class RsyncTransfer:
    """Copies jobs with rsync, to a remote target (``remote_shell`` and
    ``login`` given) or to a local directory (the demo's simulated target,
    where ``local_root`` prefixes every destination)."""

    def __init__(
        self,
        *,
        remote_shell: Sequence[str] | None = None,
        login: str = "",
        local_root: str = "",
        bwlimit_kib: int = 0,
    ) -> None:
        self.remote_shell = list(remote_shell) if remote_shell is not None else None
        self.bwlimit_kib = bwlimit_kib
        self.login = login
        self.local_root = local_root.rstrip("/")

    def destination(self, job: CopyJob) -> str:
        if self.remote_shell is not None:
            return f"{self.login}:{job.dest}"
        return self.local_root + job.dest

    def copy(
        self, job: CopyJob, source_dir: str, on_progress: ProgressCallback, cancel: threading.Event
    ) -> JobResult:
        argv = rsync_argv(
            job,
            source_dir,
            self.destination(job),
            remote_shell=self.remote_shell,
            bwlimit_kib=self.bwlimit_kib,
        )
        log.info("copy: %s", shlex.join(argv))
        env = dict(os.environ, LC_ALL="C")
        proc = subprocess.Popen(
            argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, env=env
        )
        assert proc.stdout is not None and proc.stderr is not None
        parser = ProgressParser()
        last_bytes = 0
        current = ""
        stderr = bytearray()
        sel = selectors.DefaultSelector()
        sel.register(proc.stdout, selectors.EVENT_READ)
        sel.register(proc.stderr, selectors.EVENT_READ)
        open_streams = 2
        try:
            while open_streams:
                if cancel.is_set():
                    _stop(proc)
                    raise Cancelled(f"copy of {job.mountpoint or job.source_path} cancelled")
                for key, _ in sel.select(timeout=0.25):
                    data = os.read(key.fd, 65536)
                    if not data:
                        sel.unregister(key.fileobj)
                        open_streams -= 1
                        continue
                    if key.fileobj is proc.stderr:
                        stderr += data
                        continue
                    for rec in parser.feed(data.decode(errors="replace")):
                        if isinstance(rec, RsyncName):
                            current = rec.name
                        elif isinstance(rec, RsyncProgress):
                            last_bytes = rec.bytes
                            on_progress(rec.bytes, rec.percent, current)
            for rec in parser.flush():
                if isinstance(rec, RsyncProgress):
                    last_bytes = rec.bytes
            code = proc.wait()
        finally:
            sel.close()
            if proc.poll() is None:
                _stop(proc)
            proc.stdout.close()
            proc.stderr.close()
        errors = stderr.decode(errors="replace").strip()
        if errors:
            log.debug("rsync stderr:\n%s", errors)
        if code == 24:  # vanished files: cannot happen on a read-only source, but is not fatal
            return JobResult(last_bytes, (f"rsync: {describe_exit(code)}\n{errors[-1000:]}",))
        if code != 0:
            raise TransferError(
                f"copying {job.mountpoint or job.source_path} failed: rsync {describe_exit(code)}"
                + (f"\n{errors[-1500:]}" if errors else "")
            )
        return JobResult(last_bytes, ())


def _stop(proc: subprocess.Popen[bytes]) -> None:
    """End rsync (and, through it, its ssh): SIGTERM, then SIGKILL."""
    if proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
