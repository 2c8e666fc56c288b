"""A QEMU guest's serial port on an 80x24 terminal that a test reads and
types into, as a person at a serial console would.

QEMU's first serial port is a listening Unix socket (a chardev that also
logs everything the guest sends, connected or not); ``socat`` joins it to a
tmux pane (tests/lab/tmux.py) in raw mode, so the guest's ttyS0 sees exactly
the bytes a terminal sends for each key, and the pane shows exactly what the
guest drew. QEMU is ended by its PID, the tmux server (and socat in it) by
its private socket, on the way out.

The log is for finding messages (a boot that failed, a line that scrolled
away), not for exact text: QEMU 7.2 logs a byte a second time whenever the
socket was momentarily full and the serial port sent it again (measured:
about one byte in 300 while the guest prints fast). The terminal's
scrollback is exact.
"""

from __future__ import annotations

import contextlib
import subprocess
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.lab.disks import require
from tests.lab.netns import stop_popen
from tests.lab.tmux import Terminal, terminal

FAILED = ("Kernel panic", "(initramfs)", "Traceback (most recent call last)", "Unable to find a medium")
"""Console lines after which waiting for anything else is pointless."""


def serial_args(socket: Path, log: Path) -> list[str]:
    """QEMU options: the first serial port on a Unix socket that a terminal
    connects to, with every byte the guest sends kept in ``log``."""
    chardev = ",".join(
        [
            "socket",
            "id=ser0",
            f"path={socket}",
            "server=on",  # QEMU listens; socat connects
            "wait=off",  # boot without waiting for the terminal
            f"logfile={log}",  # the whole console, also while nobody is connected
            "logappend=on",
        ]
    )
    return ["-chardev", chardev, "-serial", "chardev:ser0"]


def socat_argv(socket: Path) -> list[str]:
    return [
        "socat",
        "-,raw,echo=0",  # the pane's keys go out byte for byte, as a terminal sends them
        f"UNIX-CONNECT:{socket}",  # the guest's ttyS0
    ]


@dataclass
class SerialConsole:
    """The guest (``proc``), its console as a person sees it (``terminal``)
    and as a log of everything it ever printed (``log``)."""

    proc: subprocess.Popen[bytes]
    terminal: Terminal
    log: Path
    started: float
    socket: Path
    work: Path
    connection: contextlib.ExitStack = field(default_factory=contextlib.ExitStack)
    connections: int = 0

    def connect(self) -> None:
        """A new terminal on the console (the previous one is closed), as
        when a person attaches to it after the guest started: it shows only
        what the guest sends from now on."""
        self.connection.close()
        self.connection = contextlib.ExitStack()
        self.connections += 1
        where = self.work / f"terminal-{self.connections}"
        self.terminal = self.connection.enter_context(terminal(socat_argv(self.socket), where))

    # -- the terminal, as tests/lab/serial_wizard.py's Console -----------------

    def keys(self, *keys: str, pause: float = 0.3) -> None:
        self.terminal.keys(*keys, pause=pause)

    def type(self, text: str) -> None:
        self.terminal.type(text)

    def paste(self, text: str) -> None:
        self.terminal.paste(text)

    def screen(self) -> str:
        return self.terminal.screen()

    def cursor(self) -> tuple[int, int] | None:
        return self.terminal.cursor()

    def scrollback(self, lines: int = 10000) -> str:
        return self.terminal.scrollback(lines)

    # -- the guest ------------------------------------------------------------

    def console(self) -> str:
        """Everything the guest sent on its serial port so far."""
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def check_alive(self) -> None:
        """Fail at once when the guest has stopped or its boot went wrong."""
        console = self.console()
        failed = [m for m in FAILED if m in console]
        assert not failed, f"{failed} on the console:\n{console[-5000:]}"
        assert self.proc.poll() is None, f"QEMU ended ({self.proc.returncode}):\n{console[-5000:]}"

    def wait_for_log(self, text: str, timeout: float) -> float:
        """Seconds since QEMU started until ``text`` is in the console log
        (boot messages scroll off the screen; the log keeps them)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if text in self.console():
                return time.monotonic() - self.started
            self.check_alive()
            time.sleep(1)
        pytest.fail(f"{text!r} not on the console within {timeout:.0f} s:\n{self.console()[-5000:]}")

    def wait_for(self, pattern: str, timeout: float) -> str:
        """The screen once ``pattern`` (a regex) is on it; fails early when
        the guest stopped or panicked."""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            try:
                return self.terminal.wait_for(pattern, timeout=max(0.5, min(left, 10.0)))
            except AssertionError:
                self.check_alive()
                if time.monotonic() >= deadline:
                    raise


def _wait_for_socket(socket: Path, proc: subprocess.Popen[bytes], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not socket.is_socket():
        assert proc.poll() is None, f"QEMU ended ({proc.returncode}) before opening its serial socket"
        assert time.monotonic() < deadline, f"QEMU did not open {socket} within {timeout:.0f} s"
        time.sleep(0.1)


@contextlib.contextmanager
def serial_console(qemu: Sequence[str], work: Path) -> Iterator[SerialConsole]:
    """Run ``qemu`` (a QEMU command line, possibly behind a wrapper such as
    ``ip netns exec``, that ends with QEMU's own options and has no
    ``-serial``) with its first serial port on an 80x24 terminal.

    A filesystem Unix socket is reachable from any network namespace, so
    the guest may run in one the test made. QEMU's stderr goes to
    ``work/qemu.stderr``.
    """
    require("qemu-system-x86_64", "socat", "tmux")
    work.mkdir(parents=True, exist_ok=True)
    socket = work / "serial.sock"
    log = work / "serial.log"
    socket.unlink(missing_ok=True)
    argv = [*qemu, *serial_args(socket, log)]
    with open(work / "qemu.stderr", "wb") as stderr:
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=stderr)
    started = time.monotonic()
    connection = contextlib.ExitStack()
    try:
        _wait_for_socket(socket, proc)
        first = connection.enter_context(terminal(socat_argv(socket), work / "terminal-0"))
        console = SerialConsole(proc, first, log, started, socket, work, connection)
        try:
            yield console
        finally:
            console.connection.close()
    finally:
        connection.close()
        stop_popen(proc, grace=10)
