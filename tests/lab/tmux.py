"""A program on an 80x24 terminal that a test types into and reads, as a
person would: tmux with a private socket, ended by the test."""

from __future__ import annotations

import contextlib
import re
import secrets
import shlex
import shutil
import subprocess
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest


class Terminal:
    def __init__(self, socket: Path, name: str, status: Path) -> None:
        self.socket = socket
        self.name = name
        self.status = status

    def _tmux(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["tmux", "-S", str(self.socket), *args], capture_output=True, text=True, check=False, timeout=30
        )

    def keys(self, *keys: str, pause: float = 0.3) -> None:
        """tmux key names (``F2``, ``Enter``, ``Tab``, ``Escape``), one at a time."""
        for key in keys:
            self._tmux("send-keys", "-t", self.name, key)
            time.sleep(pause)

    def type(self, text: str) -> None:
        self._tmux("send-keys", "-t", self.name, "-l", text)
        time.sleep(0.3)

    def paste(self, text: str) -> None:
        """``text`` as a terminal pastes it: all at once, each line ending
        in a carriage return (the Enter key)."""
        self._tmux("set-buffer", "-b", "paste", "--", text)
        self._tmux("paste-buffer", "-d", "-b", "paste", "-t", self.name)
        time.sleep(0.3)

    def screen(self) -> str:
        return self._tmux("capture-pane", "-p", "-t", self.name).stdout

    def scrollback(self, lines: int = 10000) -> str:
        """The screen and up to ``lines`` lines that scrolled off above it,
        lines the terminal wrapped joined again."""
        return self._tmux("capture-pane", "-p", "-J", "-S", f"-{lines}", "-t", self.name).stdout

    def cursor(self) -> tuple[int, int] | None:
        """(column, row) of the cursor, None while the program hides it:
        where a typed key lands."""
        out = self._tmux("display-message", "-p", "-t", self.name, "#{cursor_x} #{cursor_y} #{cursor_flag}")
        x, y, shown = out.stdout.split()
        return (int(x), int(y)) if shown == "1" else None

    def wait_for(self, pattern: str, timeout: float = 60.0) -> str:
        """The screen once ``pattern`` (a regex) is on it."""
        deadline = time.monotonic() + timeout
        text = ""
        while time.monotonic() < deadline:
            text = self.screen()
            if re.search(pattern, text):
                return text
            if self.exit_code() is not None:
                break
            time.sleep(0.3)
        raise AssertionError(f"{pattern!r} not on the screen after {timeout}s:\n{text}")

    def exit_code(self) -> int | None:
        """The program's exit status once it has ended."""
        text = self.status.read_text().strip() if self.status.exists() else ""
        return int(text) if text else None

    def wait_exit(self, timeout: float = 30.0) -> int:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            code = self.exit_code()
            if code is not None:
                return code
            time.sleep(0.2)
        raise AssertionError(f"the program did not end; screen:\n{self.screen()}")


@contextlib.contextmanager
def terminal(argv: Sequence[str], work: Path, *, env: dict[str, str] | None = None) -> Iterator[Terminal]:
    """Run ``argv`` in a fresh 80x24 tmux server of its own; the server (and
    the program, if still running) is ended on the way out."""
    if shutil.which("tmux") is None:
        pytest.skip("needs tmux")
    work.mkdir(parents=True, exist_ok=True)
    socket = work / "tmux.sock"
    status = work / "exit-status"
    name = f"p2v-{secrets.token_hex(3)}"
    exports = " ".join(f"{k}={shlex.quote(v)}" for k, v in (env or {}).items())
    command = f"env {exports} {shlex.join(argv)}; echo $? > {shlex.quote(str(status))}; sleep 3600"
    subprocess.run(
        ["tmux", "-S", str(socket), "new-session", "-d", "-s", name, "-x", "80", "-y", "24", command],
        check=True,
        timeout=30,
    )
    try:
        yield Terminal(socket, name, status)
    finally:
        subprocess.run(
            ["tmux", "-S", str(socket), "kill-server"], capture_output=True, check=False, timeout=30
        )
