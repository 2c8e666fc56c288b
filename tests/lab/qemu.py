"""QEMU guests for tests: the TCG command line every guest starts from, the
human monitor, and the proof boot of a built server disk (login prompt, then
an ACPI power-off that leaves its filesystems clean)."""

from __future__ import annotations

import re
import socket
import subprocess
import time
from pathlib import Path

FAILURES = ("Kernel panic", "(initramfs)", "[FAILED]", "Gave up waiting")
"""Console text after which a boot is not a working machine."""


def tcg_argv(memory_mib: int) -> list[str]:
    """``qemu-system-x86_64`` under TCG with two vCPUs, no display, and
    ending (not rebooting) when the guest reboots."""
    return [
        "qemu-system-x86_64",
        "-machine", "pc",
        "-accel", "tcg,thread=multi",  # /dev/kvm hangs on these machines
        "-cpu", "max,erms=off,fsrm=off",  # rep movsb/stosb are slow under TCG
        "-smp", "2",
        "-m", str(memory_mib),
        "-display", "none",
        "-no-reboot",  # a reboot ends QEMU instead
    ]  # fmt: skip


def monitor_command(path: Path, command: str) -> None:
    """One command on a human monitor listening at ``path`` (a Unix socket)."""
    with socket.socket(socket.AF_UNIX) as sock:
        sock.settimeout(10)
        sock.connect(str(path))
        sock.sendall(command.encode() + b"\n")
        time.sleep(0.5)


def plain(console: str) -> str:
    """Console text without colour sequences (systemd colours ``[FAILED]``)."""
    return re.sub(r"\x1b\[[0-9;]*m", "", console)


def proof_boot(
    argv: list[str], log: Path, monitor: Path, prompt: str, *, login_timeout: float, poweroff_timeout: float
) -> dict[str, float]:
    """Run ``argv`` (logging the console to ``log``, its monitor at
    ``monitor``) until ``prompt`` shows, fail on :data:`FAILURES`, then press
    the ACPI power button and wait for QEMU to end after a clean power-off."""
    started = time.monotonic()
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        text = ""
        while prompt not in text:
            stuck = any(f in plain(text) for f in FAILURES)
            if stuck or proc.poll() is not None or time.monotonic() - started > login_timeout:
                raise RuntimeError(f"no {prompt!r} on the console:\n{text[-5000:]}")
            time.sleep(1)
            text = log.read_text(errors="replace") if log.exists() else ""
        login = time.monotonic() - started
        failed = [f for f in FAILURES if f in plain(text)]
        if failed:
            raise RuntimeError(f"{failed} on the console:\n{text[-5000:]}")
        monitor_command(monitor, "system_powerdown")
        proc.wait(timeout=poweroff_timeout)
    except BaseException:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        raise
    finally:
        monitor.unlink(missing_ok=True)
    if "reboot: Power down" not in log.read_text(errors="replace"):
        raise RuntimeError("the server did not power off cleanly")
    return {"seconds_to_login": round(login, 1), "seconds_total": round(time.monotonic() - started, 1)}
