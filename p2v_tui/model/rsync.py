"""rsync as the copy engine: the argv we run and the parser of its progress.

The flags are chosen for a faithful, fast first copy of a whole filesystem
into an empty one that can be resumed by running the same command again; the
transfer benchmark (bench/transfer) measured the choices recorded in README.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Sequence
from dataclasses import dataclass

from .plan import CopyJob


def _common(remote_shell: Sequence[str] | None, bwlimit_kib: int) -> list[str]:
    argv = [
        "rsync",
        "--archive",  # recursion, perms, times, owners, groups, devices, specials, symlinks
        "--hard-links",  # package managers and backups use hard links; keep them
        "--acls",  # POSIX ACLs
        "--xattrs",  # extended attributes, incl. security.capability and SELinux labels
        # XFS shows ACLs to root a second time as these xattrs: rsync would
        # delete them (and with them a directory's ACL) on an XFS target and
        # copy them as junk onto other filesystems. --acls carries ACLs.
        "--filter=-x trusted.SGI_ACL_*",
        "--numeric-ids",  # the live image's passwd is not the source's
        "--whole-file",  # the target starts empty: deltas only cost CPU
        "--partial",  # a cancelled big file resumes instead of restarting from scratch
        "--info=progress2,name1",  # overall progress records plus the name of each file
        "--protect-args",  # names with spaces or shell characters reach the target intact
    ]
    if bwlimit_kib:
        argv.append(f"--bwlimit={bwlimit_kib}")  # KiB/s: leave room on a shared link
    if remote_shell is not None:
        argv += ["--rsh", shlex.join(remote_shell)]  # our pinned-key ssh, not the user's config
    return argv


def rsync_argv(
    job: CopyJob,
    source_dir: str,
    destination: str,
    *,
    remote_shell: Sequence[str] | None,
    bwlimit_kib: int = 0,
) -> list[str]:
    """The rsync command that copies one job (after :func:`sparse_argv` has
    copied its sparse files, which this run then finds up to date).

    ``source_dir`` is the local directory holding the job's tree (a read-only
    mount of the source filesystem); ``destination`` is ``user@host:/dir`` when
    ``remote_shell`` is given, a local directory otherwise. No ``--sparse``:
    scanning every byte for zeros costs more than the link on large files,
    and a file that is not sparse on the source must not become so.
    """
    argv = _common(remote_shell, bwlimit_kib)
    argv += [
        "--one-file-system",  # each source filesystem is its own job
        "--delete",  # a resumed copy converges to the source exactly
    ]
    for pattern in job.keep_dirs:
        argv.append(f"--filter=+ {pattern}/")  # an excluded directory stays, empty
        argv.append(f"--filter=- {pattern}/**")  # ... without its contents
    for pattern in job.excludes:
        argv.append(f"--exclude={pattern}")  # anchored at the job root: /cache/apt/archives
    return [*argv, source_dir.rstrip("/") + "/", destination.rstrip("/") + "/"]


def sparse_argv(
    job: CopyJob,
    source_dir: str,
    destination: str,
    files_from: str,
    *,
    remote_shell: Sequence[str] | None,
    bwlimit_kib: int = 0,
) -> list[str]:
    """The rsync command that copies the job's sparse files first, listed in
    ``files_from`` (NUL-separated paths relative to ``source_dir``)."""
    argv = _common(remote_shell, bwlimit_kib)
    argv += [
        "--sparse",  # holes stay holes (VM images, databases, lastlog)
        "--compress",  # rsync still sends the zeros of holes: they compress to nothing
        f"--files-from={files_from}",  # only these files (all paths of a hard-linked inode)
        "--from0",  # the list is NUL-separated: any file name works
    ]
    for pattern in job.excludes:
        # listed files are not pruned by an excluded parent: match both
        argv += [f"--exclude={pattern}", f"--exclude={pattern}/**"]
    return [*argv, source_dir.rstrip("/") + "/", destination.rstrip("/") + "/"]


_PROGRESS = re.compile(
    r"^\s*(?P<bytes>[\d,.]+)\s+(?P<pct>\d+)%\s+(?P<rate>[\d.,]+\S*/s)\s+(?P<time>\d+:\d\d:\d\d)"
    r"(?:\s+\(xfr#(?P<xfr>\d+),\s+(?:to|ir)-chk=(?P<left>\d+)/(?P<total>\d+)\))?\s*$"
)
_ESCAPE = re.compile(r"\\#(\d{3})")


@dataclass(frozen=True)
class RsyncProgress:
    bytes: int
    """Bytes (of file contents, holes included) this rsync run has handled."""
    percent: int
    """rsync's own estimate; with incremental recursion its total grows as
    directories are scanned, so this can go down."""
    files_total: int | None = None
    files_left: int | None = None


@dataclass(frozen=True)
class RsyncName:
    name: str
    """Path relative to the transfer root, as rsync announced it."""


RsyncRecord = RsyncProgress | RsyncName


def _unescape(name: str) -> str:
    r"""rsync prints unprintable bytes of names as ``\#ooo`` (octal)."""
    raw = _ESCAPE.sub(lambda m: chr(int(m.group(1), 8)), name)
    return raw


class ProgressParser:
    """Incremental parser of ``--info=progress2,name1`` output.

    rsync ends progress records with ``\\r`` and names with ``\\n``; the
    chunks read from a pipe split records anywhere, so text is buffered until
    a separator arrives.
    """

    def __init__(self) -> None:
        self._buffer = ""

    def feed(self, chunk: str) -> list[RsyncRecord]:
        self._buffer += chunk
        parts = re.split(r"[\r\n]", self._buffer)
        self._buffer = parts.pop()
        return [rec for part in parts if (rec := parse_record(part)) is not None]

    def flush(self) -> list[RsyncRecord]:
        rest, self._buffer = self._buffer, ""
        rec = parse_record(rest)
        return [rec] if rec is not None else []


def parse_record(text: str) -> RsyncRecord | None:
    if not text.strip():
        return None
    m = _PROGRESS.match(text)
    if m:
        total = m.group("total")
        left = m.group("left")
        return RsyncProgress(
            bytes=int(m.group("bytes").replace(",", "").replace(".", "")),
            percent=int(m.group("pct")),
            files_total=int(total) if total else None,
            files_left=int(left) if left else None,
        )
    return RsyncName(_unescape(text))


# rsync exit codes (rsync(1), EXIT VALUES) worth a sentence of their own.
RSYNC_EXIT = {
    1: "syntax or usage error",
    2: "protocol incompatibility",
    3: "errors selecting input/output files or directories",
    5: "error starting client-server protocol",
    10: "error in socket I/O",
    11: "error in file I/O (is the target filesystem full?)",
    12: "error in rsync protocol data stream (did the connection drop?)",
    20: "received SIGUSR1 or SIGINT (cancelled)",
    23: "partial transfer due to error (some files could not be read or written)",
    24: "partial transfer: some source files vanished",
    30: "timeout in data send/receive",
    35: "timeout waiting for daemon connection",
    255: "the ssh connection failed",
}


def describe_exit(code: int) -> str:
    return RSYNC_EXIT.get(code, f"exit code {code}")
