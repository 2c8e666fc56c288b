"""Reading a small file a person named (an answers file, a key, a
password, a certificate): a regular file of at most a few KiB, opened
without blocking, so that a FIFO or a device given by mistake neither
hangs nor is read until memory runs out. Each caller says the problem in
its own words."""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Literal

Problem = Literal["unreadable", "not-regular", "too-large"]


class SmallFileError(Exception):
    def __init__(self, problem: Problem, reason: str = "") -> None:
        super().__init__(problem if not reason else f"{problem}: {reason}")
        self.problem: Problem = problem
        self.reason = reason
        """For ``unreadable``: the system's words (``No such file or directory``)."""


def read_small_file(path: str | Path, limit: int) -> bytes:
    """The whole content of ``path``, at most ``limit`` bytes
    (:class:`SmallFileError` otherwise)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC)
    except OSError as e:
        raise SmallFileError("unreadable", e.strerror or str(e)) from None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise SmallFileError("not-regular")
        data = b""
        while len(data) <= limit:
            chunk = os.read(fd, limit + 1 - len(data))
            if not chunk:
                break
            data += chunk
    except OSError as e:
        raise SmallFileError("unreadable", e.strerror or str(e)) from None
    finally:
        os.close(fd)
    if len(data) > limit:
        raise SmallFileError("too-large")
    return data
