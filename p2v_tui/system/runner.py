"""Running external commands: argv lists in, captured text out.

Everything in system/ that calls a tool goes through a :class:`CommandRunner`
so that the composition root decides once whether commands run here, over
SSH, or against a fake, and so that every command line lands in the debug log.
"""

from __future__ import annotations

import logging
import os
import shlex
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

log = logging.getLogger(__name__)

#: Tools print English, parseable messages and UTF-8 in this locale.
DEFAULT_ENV: Mapping[str, str] = {"LC_ALL": "C.UTF-8", "LANG": "C.UTF-8"}


@dataclass(frozen=True)
class CommandResult:
    argv: tuple[str, ...]
    returncode: int
    stdout: str
    stderr: str


DETAIL_MAX = 600
"""Characters of a failed command's last words in its error message."""


class CommandError(Exception):
    """A command failed; the message names the command and its last words."""

    def __init__(self, argv: Sequence[str], returncode: int, stderr: str) -> None:
        self.argv = tuple(argv)
        self.returncode = returncode
        self.stderr = stderr
        super().__init__(self.argv, returncode, stderr)

    def __str__(self) -> str:
        lines = [line for line in self.stderr.strip().splitlines() if line.strip()]
        detail = "; ".join(lines[-3:]) if lines else "no error output"
        if len(detail) > DETAIL_MAX:  # a tool (or a target) that prints megabytes
            detail = "..." + detail[-DETAIL_MAX:]
        return f"{shlex.join(self.argv)} failed with exit status {self.returncode}: {detail}"


class CommandNotFoundError(CommandError):
    """The program is not installed (exit status 127, as a shell reports it)."""


class CommandTimeoutError(CommandError):
    """The command ran longer than its timeout and was killed."""


class CommandRunner(Protocol):
    def run(
        self,
        argv: Sequence[str],
        *,
        check: bool = True,
        input: str | None = None,
        timeout: float | None = None,
        env: Mapping[str, str] | None = None,
    ) -> CommandResult:
        """Run ``argv`` (no shell) and return its output.

        With ``check`` a non-zero exit status raises :class:`CommandError`;
        without it the caller inspects ``returncode``. A missing program or a
        timeout raise in both cases. ``env`` adds variables.
        """
        ...


class LocalRunner:
    """Runs commands on this machine with :mod:`subprocess`."""

    def __init__(self, *, timeout: float = 600.0, env: Mapping[str, str] | None = None) -> None:
        self.timeout = timeout
        self.env = {**DEFAULT_ENV, **(env or {})}

    def run(
        self,
        argv: Sequence[str],
        *,
        check: bool = True,
        input: str | None = None,
        timeout: float | None = None,
        env: Mapping[str, str] | None = None,
    ) -> CommandResult:
        args = tuple(argv)
        log.debug("run: %s", shlex.join(args))
        try:
            proc = subprocess.run(
                args,
                input=input,
                capture_output=True,
                text=True,
                encoding="utf-8",
                errors="replace",
                timeout=timeout if timeout is not None else self.timeout,
                env={**os.environ, **self.env, **(env or {})},
                check=False,
            )
        except FileNotFoundError as exc:
            raise CommandNotFoundError(args, 127, f"command not found: {args[0]}") from exc
        except PermissionError as exc:
            raise CommandError(args, 126, f"cannot run {args[0]}: {exc.strerror}") from exc
        except subprocess.TimeoutExpired as exc:
            raise CommandTimeoutError(args, -1, f"timed out after {exc.timeout:g} s") from exc
        result = CommandResult(args, proc.returncode, proc.stdout, proc.stderr)
        if proc.returncode != 0:
            log.debug("exit status %d from %s: %s", proc.returncode, args[0], proc.stderr.strip())
            if check:
                raise CommandError(args, proc.returncode, proc.stderr)
        return result
