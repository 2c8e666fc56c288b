"""Which files of a copy job take a faster road than the main rsync pass.

A job is copied in up to three passes (system/transfer.py):

1. sparse files with ``rsync --sparse`` (holes stay holes, without paying
   rsync's zero scanning for every other byte of the job);
2. large files streamed with ``tar | ssh tar``, which moves data at the
   link's speed where rsync's per-byte work would not;
3. ``rsync`` over the whole tree, which finds the files of passes 1 and 2 up
   to date (size and time), copies the rest, and applies every attribute -
   owner, mode, ACLs, xattrs - so the result is rsync's in every case.

The scan is one ``find -printf``; this module classifies its output and
decides exclusions for the tar pass the way rsync does for the other two.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache

FIND_FORMAT = r"%b\t%s\t%n\t%P\0"
"""512-byte blocks, size, link count, path relative to the start point."""

MIN_HOLE = 64 * 1024
"""A file is copied as sparse when its holes add up to at least this much
(smaller gaps are filesystem rounding: inline data, tail packing)."""

MIN_BULK = 8 * 1024 * 1024
"""Files from this size on are streamed by tar (pass 2)."""


@dataclass(frozen=True)
class Scan:
    sparse: tuple[bytes, ...]
    """Sparse files (every path of a hard-linked inode is listed)."""
    bulk: tuple[bytes, ...]
    """Large files with one link and no holes."""


def classify(find_output: bytes, min_hole: int = MIN_HOLE, min_bulk: int = MIN_BULK) -> Scan:
    """Sort the records of ``find -printf FIND_FORMAT``; paths stay bytes,
    as the filesystem has them."""
    sparse, bulk = [], []
    for record in find_output.split(b"\0"):
        if not record:
            continue
        blocks, size, links, path = record.split(b"\t", 3)
        hole = int(size) - int(blocks) * 512
        if hole >= min_hole:
            sparse.append(path)
        elif int(size) >= min_bulk and int(links) == 1:
            bulk.append(path)
    return Scan(tuple(sparse), tuple(bulk))


@cache
def _pattern_regex(pattern: str) -> re.Pattern[str]:
    """An anchored rsync pattern (``/var/cache/*.deb``, ``/home/**``) as a
    regular expression over paths relative to the transfer root: ``*`` and
    ``?`` stay within a name, ``**`` crosses ``/``, ``[...]`` is a class, a
    backslash makes the next character literal."""
    out = []
    i = 0
    body = pattern.lstrip("/")
    while i < len(body):
        c = body[i]
        if c == "\\" and i + 1 < len(body):
            out.append(re.escape(body[i + 1]))
            i += 2
            continue
        if body.startswith("**", i):
            out.append(".*")
            i += 2
            continue
        if c == "*":
            out.append("[^/]*")
        elif c == "?":
            out.append("[^/]")
        elif c == "[":
            end = body.find("]", i + 1)
            if end == -1:
                out.append(re.escape(c))
            else:
                inner = body[i + 1 : end]
                if inner.startswith("!"):
                    inner = "^" + inner[1:]
                out.append(f"[{inner}]")
                i = end
        else:
            out.append(re.escape(c))
        i += 1
    return re.compile("".join(out) + r"\Z", re.DOTALL)


def excluded(path: str, patterns: Sequence[str]) -> bool:
    """Whether rsync, recursing, would leave ``path`` (relative to the
    transfer root) out for these anchored exclude patterns: the path itself
    or one of its parent directories matches."""
    parts = path.strip("/").split("/")
    prefixes = ["/".join(parts[: n + 1]) for n in range(len(parts))]
    return any(_pattern_regex(p).match(prefix) for p in patterns for prefix in prefixes)


def tar_create_argv(source_dir: str, files_from: str) -> list[str]:
    return [
        "tar",
        "--create",
        "--file=-",
        f"--directory={source_dir}",
        "--blocking-factor=512",  # 256 KiB records: measured as fast as cat; 10 KiB ones are not
        "--format=posix",  # nanosecond times, long names, xattrs
        "--numeric-owner",  # the live image's passwd is not the source's
        "--acls",
        "--xattrs",
        "--xattrs-include=*",  # every namespace: security.capability too
        "--checkpoint=40",  # every 40 records (10 MiB) ...
        "--checkpoint-action=echo=%{w}T",  # ... the bytes written so far, on stderr
        "--totals",  # and all of them at the end
        "--verbose",  # each member's name as tar starts it ...
        "--index-file=/dev/stderr",  # ... on stderr (stdout is the archive): the current file
        # positional: these apply to the list that follows them
        "--no-recursion",  # only the listed files
        "--null",  # the list is NUL-separated: any file name works
        f"--files-from={files_from}",
    ]


def tar_extract_argv(dest: str) -> list[str]:
    return [
        "tar",
        "--extract",
        "--file=-",
        f"--directory={dest}",
        "--blocking-factor=512",
        "--read-full-records",  # records arrive in pieces through the pipe
        "--numeric-owner",
        "--same-permissions",
        "--acls",
        "--xattrs",
        "--xattrs-include=*",
        "--delay-directory-restore",  # the final rsync pass sets directories anyway
    ]


def remote_command(argv: Sequence[str]) -> str:
    """One string for ssh, which hands it to the remote shell."""
    return shlex.join(argv)


_COUNT = re.compile(rb"^(?:tar: |Total bytes written: )(\d+) \(", re.MULTILINE)


def tar_member(line: bytes) -> str | None:
    """The member name in a line of ``--verbose --index-file`` output, or
    None for tar's own messages (``tar: ...``) and the totals."""
    if not line.strip() or line.startswith((b"tar: ", b"Total bytes written: ")):
        return None
    return line.rstrip(b"\n").decode(errors="replace")


def tar_progress(stderr_chunk: bytes) -> int | None:
    """The last byte count in tar's checkpoint (``tar: 10229760 (9.8MiB,
    658MiB/s)``) or ``--totals`` (``Total bytes written: 12595200 (13MiB,
    ...)``) output."""
    found = _COUNT.findall(stderr_chunk)
    return int(found[-1]) if found else None
