"""What the executor needs from the target host, whatever carries it."""

from __future__ import annotations

import shlex
from collections.abc import Callable, Sequence
from typing import Protocol, TypeVar

from ..model.parsers import MountEntry
from ..model.target_output import MalformedOutput
from ..model.units import format_size
from .runner import CommandResult

T = TypeVar("T")


class TargetError(Exception):
    """Reaching or using the target failed; the message says what to check.
    (A command that fails on the target raises runner.CommandError.)"""


class MalformedAnswer(TargetError):
    """A command on the target answered what it never prints: the target is
    broken or lies; the message names the command and what was wrong."""


class TargetFileTooLarge(TargetError):
    """A file on the target is larger than the reader allows."""

    def __init__(self, path: str, limit: int) -> None:
        super().__init__(f"{path} on the target is larger than {format_size(limit)}: refusing to read it")


class _Readable(Protocol):
    def read(self, size: int) -> bytes: ...


def read_at_most(f: _Readable, path: str, limit: int) -> bytes:
    """What ``f`` (``path`` on the target) holds, when that is at most
    ``limit`` bytes; :class:`TargetFileTooLarge` otherwise."""
    data = f.read(limit + 1)
    if len(data) > limit:
        raise TargetFileTooLarge(path, limit)
    return data


class HostKeyMismatch(TargetError):
    """The target presented a host key other than the pinned one."""


class AuthenticationFailed(TargetError):
    """The target refused the key p2v logs in with."""


class TargetLost(TargetError):
    """The link to the target is gone (no answer in time, or the connection
    ended): nothing more can be done there until a new connection. What the
    run did so far stays; the same run again resumes."""


class Target(Protocol):
    description: str

    def run(
        self,
        argv: Sequence[str],
        *,
        input: bytes | None = None,
        timeout: float | None = None,
        check: bool = True,
    ) -> CommandResult: ...

    def read_file(self, path: str, *, limit: int) -> bytes | None:
        """The file's bytes, None when it does not exist; raises
        :class:`TargetFileTooLarge` when it has more than ``limit``."""
        ...

    def mounts(self) -> list[MountEntry]:
        """Everything mounted on the target."""
        ...

    def missing_tools(self, names: Sequence[str]) -> list[str]:
        """Those of ``names`` that are not commands on the target's PATH."""
        ...

    def missing_paths(self, paths: Sequence[str]) -> list[str]:
        """Those of ``paths`` that do not exist on the target."""
        ...

    def write_file(self, path: str, data: bytes, *, mode: int | None = None) -> None: ...

    def symlink(self, link_target: str, path: str) -> None: ...

    def readlink(self, path: str) -> str | None:
        """The symlink's target; None when ``path`` is not a symlink."""
        ...

    def remove(self, path: str) -> None: ...

    def check_link(self) -> None:
        """Raise TargetLost unless the target still answers (bounded in time)."""
        ...

    def close(self) -> None: ...


def ask(target: Target, argv: Sequence[str], parse: Callable[[str], T], *, check: bool = True) -> T:
    """Run ``argv`` on the target and parse what it printed; a malformed
    answer is a :class:`MalformedAnswer` naming the command. With ``check``
    a failing command raises runner.CommandError; without it its output is
    parsed all the same (blkid exits 2 when it finds nothing)."""
    out = target.run(argv, check=check).stdout
    try:
        return parse(out)
    except MalformedOutput as e:
        raise MalformedAnswer(f"{shlex.join(argv)} on the target answered malformed output: {e}") from None
