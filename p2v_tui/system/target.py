"""What the executor needs from the target host, whatever carries it."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from ..model.parsers import MountEntry
from .runner import CommandResult


class TargetError(Exception):
    """Reaching or using the target failed; the message says what to check.
    (A command that fails on the target raises runner.CommandError.)"""


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

    def read_file(self, path: str) -> bytes | None: ...

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
