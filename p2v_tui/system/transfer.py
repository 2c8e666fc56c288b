"""Running rsync for one copy job, with progress and cancellation."""

from __future__ import annotations

import logging
import os
import selectors
import shlex
import signal
import subprocess
import tempfile
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Protocol

from ..model.bulk import (
    FIND_FORMAT,
    Scan,
    classify,
    excluded,
    remote_command,
    tar_create_argv,
    tar_extract_argv,
    tar_member,
    tar_progress,
)
from ..model.plan import CopyJob
from ..model.rsync import (
    ProgressParser,
    RsyncName,
    RsyncProgress,
    describe_exit,
    rsync_argv,
    sparse_argv,
)

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
        self,
        job: CopyJob,
        source_dir: str,
        on_progress: ProgressCallback,
        cancel: threading.Event,
        *,
        resume: bool = False,
    ) -> JobResult:
        """Copy one job. ``resume``: the target may hold part of it already
        (an earlier run); only what is missing or different is sent."""
        ...

    def close(self) -> None:
        """After the last job, also after a failure: remove what the
        transfer put on the target for the copy."""
        ...


class RsyncTransfer:
    """Copies jobs with rsync (and tar for large files), to a remote target
    (``remote_shell`` and ``login`` given) or to a local directory (the
    demo's simulated target, where ``local_root`` prefixes every
    destination)."""

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

    def close(self) -> None:
        pass  # its ssh master ends by itself (ControlPersist)

    def destination(self, job: CopyJob) -> str:
        if self.remote_shell is not None:
            return f"{self.login}:{job.dest}"
        return self.local_root + job.dest

    def copy(
        self,
        job: CopyJob,
        source_dir: str,
        on_progress: ProgressCallback,
        cancel: threading.Event,
        *,
        resume: bool = False,
    ) -> JobResult:
        """Up to three passes (model/bulk.py): sparse files with --sparse,
        large files through tar, then rsync over everything, which finds the
        first two up to date and sets every attribute. Progress counts all."""
        destination = self.destination(job)
        where = job.mountpoint or job.source_path
        scan = scan_files(source_dir)
        done = 0
        warnings: list[str] = []

        def shifted(n: int, percent: int | None, current: str) -> None:
            on_progress(done + n, None if done else percent, current)

        with tempfile.TemporaryDirectory(prefix="p2v-lists-") as tmp:
            if scan.sparse:
                log.info("%s: %d sparse files are copied first, with their holes", where, len(scan.sparse))
                listed = _write_list(Path(tmp) / "sparse", scan.sparse)
                argv = sparse_argv(job, source_dir, destination, listed, remote_shell=self.remote_shell,
                                   bwlimit_kib=self.bwlimit_kib)  # fmt: skip
                first = _run_rsync(argv, where, shifted, cancel)
                done += first.bytes
                warnings += first.warnings
            bulk = [p for p in scan.bulk if not excluded(p.decode(errors="surrogateescape"), job.excludes)]
            # tar sends whole files: not when resuming (rsync skips what is
            # already there) nor under a bandwidth limit (rsync's option)
            if bulk and not resume and not self.bwlimit_kib:
                log.info("%s: %d large files are streamed with tar", where, len(bulk))
                listed = _write_list(Path(tmp) / "bulk", bulk)
                done += self._tar(job, source_dir, listed, where=where, on_progress=shifted, cancel=cancel)
        main = _run_rsync(
            rsync_argv(
                job, source_dir, destination, remote_shell=self.remote_shell, bwlimit_kib=self.bwlimit_kib
            ),
            where,
            shifted,
            cancel,
        )
        return JobResult(done + main.bytes, (*warnings, *main.warnings))

    def _tar(
        self,
        job: CopyJob,
        source_dir: str,
        listed: str,
        *,
        where: str,
        on_progress: ProgressCallback,
        cancel: threading.Event,
    ) -> int:
        """``tar | ssh tar`` (or a local tar) for the listed files; bytes sent."""
        create = tar_create_argv(source_dir, listed)
        if self.remote_shell is not None:
            extract = [*self.remote_shell, self.login, remote_command(tar_extract_argv(job.dest))]
        else:
            extract = tar_extract_argv(self.local_root + job.dest)
        log.info("copy: %s | %s", shlex.join(create), shlex.join(extract))
        env = dict(os.environ, LC_ALL="C")
        # own sessions: a Ctrl-C on the terminal reaches p2v, which stops them in order
        sender = subprocess.Popen(
            create, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, start_new_session=True
        )
        assert sender.stdout is not None and sender.stderr is not None
        receiver = subprocess.Popen(
            extract,
            stdin=sender.stdout,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            env=env,
            start_new_session=True,
        )
        assert receiver.stderr is not None
        sender.stdout.close()  # the receiver holds the pipe now
        sent = 0
        messages = bytearray()
        pending = bytearray()  # tar writes a checkpoint line in several pieces

        current = ""

        def lines(data: bytes) -> None:
            nonlocal sent, current
            for line in data.splitlines(keepends=True):
                count = tar_progress(line)
                member = tar_member(line) if count is None else None
                if count is not None:
                    sent = count
                elif member is not None:
                    current = member
                else:
                    messages.extend(line)
                    continue
                on_progress(sent, None, current)

        def progress(data: bytes) -> None:
            pending.extend(data)
            complete = pending.rfind(b"\n") + 1
            if complete:
                lines(bytes(pending[:complete]))
                del pending[:complete]

        _watch({sender.stderr: progress, receiver.stderr: messages.extend}, [sender, receiver], cancel, where)
        lines(bytes(pending))
        codes = (sender.wait(), receiver.wait())
        if cancel.is_set():
            raise Cancelled(f"copy of {where} cancelled")
        if codes != (0, 0):
            text = messages.decode(errors="replace").strip()[-1500:]
            raise TransferError(f"copying the large files of {where} failed (tar exit {codes}): {text}")
        return sent


def _write_list(path: Path, names: Sequence[bytes]) -> str:
    path.write_bytes(b"\0".join(names) + b"\0")
    return str(path)


def scan_files(directory: str) -> Scan:
    """Sparse and large files below ``directory`` (one filesystem), paths
    relative to it. A failing scan is not fatal: everything then goes
    through the main rsync pass, without holes."""
    argv = [
        "find", directory,
        "-xdev",  # this filesystem only, as rsync --one-file-system
        "-type", "f",
        "-size", "+63k",  # smaller files can be neither sparse enough nor large: not listed
        "-printf", FIND_FORMAT,
    ]  # fmt: skip
    proc = subprocess.run(argv, capture_output=True, check=False)
    if proc.returncode != 0:
        log.warning("scanning %s failed: %s", directory, proc.stderr.decode(errors="replace"))
    return classify(proc.stdout)


class RsyncOutput:
    """rsync's ``--info=progress2,name1`` output, as it arrives, turned
    into progress calls; :meth:`done` gives the bytes it handled."""

    def __init__(self, on_progress: ProgressCallback) -> None:
        self._on_progress = on_progress
        self._parser = ProgressParser()
        self._current = ""
        self.bytes = 0

    def feed(self, data: bytes) -> None:
        for rec in self._parser.feed(data.decode(errors="replace")):
            if isinstance(rec, RsyncName):
                self._current = rec.name
            elif isinstance(rec, RsyncProgress):
                self.bytes = rec.bytes
                self._on_progress(rec.bytes, rec.percent, self._current)

    def done(self) -> int:
        for rec in self._parser.flush():
            if isinstance(rec, RsyncProgress):
                self.bytes = rec.bytes
        return self.bytes


def _run_rsync(
    argv: list[str], where: str, on_progress: ProgressCallback, cancel: threading.Event
) -> JobResult:
    log.info("copy: %s", shlex.join(argv))
    env = dict(os.environ, LC_ALL="C")
    proc = subprocess.Popen(
        argv,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        env=env,
        start_new_session=True,  # Ctrl-C reaches p2v only, which stops rsync itself
    )
    assert proc.stdout is not None and proc.stderr is not None
    progress = RsyncOutput(on_progress)
    stderr = bytearray()
    _watch({proc.stdout: progress.feed, proc.stderr: stderr.extend}, [proc], cancel, where)
    last_bytes = progress.done()
    code = proc.wait()
    if cancel.is_set():
        raise Cancelled(f"copy of {where} cancelled")
    errors = stderr.decode(errors="replace").strip()
    if errors:
        log.debug("rsync stderr:\n%s", errors)
    if code == 24:  # vanished files: cannot happen on a read-only source, but is not fatal
        return JobResult(last_bytes, (f"rsync: {describe_exit(code)}\n{errors[-1000:]}",))
    if code != 0:
        raise TransferError(
            f"copying {where} failed: rsync {describe_exit(code)}" + (f"\n{errors[-1500:]}" if errors else "")
        )
    return JobResult(last_bytes, ())


def _watch(
    streams: Mapping[IO[bytes], Callable[[bytes], object]],
    procs: Sequence[subprocess.Popen[bytes]],
    cancel: threading.Event,
    where: str,
) -> None:
    """Hand what each stream says to its handler until all have closed;
    on cancel, end the processes and raise Cancelled. The streams are closed
    and the processes ended (if still running) on the way out."""
    sel = selectors.DefaultSelector()
    for stream in streams:
        sel.register(stream, selectors.EVENT_READ)
    open_streams = len(streams)
    try:
        while open_streams:
            if cancel.is_set():
                for proc in procs:
                    _stop(proc)
                raise Cancelled(f"copy of {where} cancelled")
            for key, _ in sel.select(timeout=0.25):
                data = os.read(key.fd, 65536)
                if not data:
                    sel.unregister(key.fileobj)
                    open_streams -= 1
                    continue
                streams[key.fileobj](data)  # type: ignore[index]
    finally:
        sel.close()
        if cancel.is_set() or open_streams:
            for proc in procs:
                _stop(proc)
        for stream in streams:
            stream.close()


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
