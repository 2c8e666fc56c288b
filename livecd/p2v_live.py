#!/usr/bin/python3
"""What the live image runs on each console (tty1, ttyS0) instead of a login.

Without ``p2v.answers=`` on the kernel command line: the wizard, started
again when it ends (or a shell, on request). With ``p2v.answers=``: one
headless run for the whole boot, on whichever console starts first; the
other consoles follow its output. The answers come from

- a path on the live medium (``p2v.answers=/p2v/answers.yaml``; a path that
  is not on the medium is taken in the live system itself),
- a file on a stick found by its filesystem label
  (``p2v.answers=LABEL=P2V:/answers.yaml``), mounted read-only at
  /run/p2v-answers while p2v runs; the report is copied back to
  ``p2v-reports/`` on it afterwards when it can be written,
- or an http(s) URL (``p2v.answers=http://server/answers.yaml``); a key
  file named by a relative ``identity:`` is fetched from beside it (serve
  it only on the deployment network).

p2v runs in the answers file's directory, so a relative ``identity:`` names
a key file beside it. Whether the target disks are erased is the answers
file's ``confirm:`` (never a flag added here); ``p2v.dryrun=1`` adds
``--dry-run``. Reports stay under /var/log/p2v.

The standard library only, and PyYAML (Debian's) to find a key beside an
answers URL: this runs before anything else is known to work.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import struct
import subprocess
import sys
import termios
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import yaml

P2V = "/usr/local/bin/p2v"
LIVE_MEDIUM = Path("/run/live/medium")
RUN_DIR = Path("/run/p2v")
STICK_MOUNT = Path("/run/p2v-answers")
"""Not under /run/p2v: the probe takes mounts there for its own, and this
stick must show as in use (never offered as a source disk)."""
FETCHED = RUN_DIR / "answers"
HEADLESS_LOCK = RUN_DIR / "headless.lock"
HEADLESS_LOG = RUN_DIR / "headless.log"
HEADLESS_DONE = RUN_DIR / "headless.done"
REPORT_BASE = Path("/var/log/p2v")
STICK_REPORTS = "p2v-reports"
WAIT_SECONDS = 60.0
"""How long a stick may take to appear, or the network to answer."""
PRINTK = Path("/proc/sys/kernel/printk")


# --- pure: what the kernel command line asks for -----------------------------


@dataclass(frozen=True)
class AnswersLocation:
    kind: Literal["path", "label", "url"]
    path: str = ""
    """The file: absolute, on the medium or the stick (kinds path, label)."""
    label: str = ""
    url: str = ""


@dataclass(frozen=True)
class LiveSettings:
    answers: AnswersLocation | None
    dry_run: bool


class LocationError(ValueError):
    """``p2v.answers=`` cannot be understood; the message says why."""


def split_cmdline(text: str) -> list[str]:
    """Kernel command line words; double quotes group (``a="b c"``) and go."""
    words: list[str] = []
    current: list[str] = []
    quoted = False
    started = False
    for char in text:
        if char == '"':
            quoted = not quoted
            started = True
        elif char.isspace() and not quoted:
            if started:
                words.append("".join(current))
            current, started = [], False
        else:
            current.append(char)
            started = True
    if started:
        words.append("".join(current))
    return words


def parse_answers_location(spec: str) -> AnswersLocation:
    """``/path``, ``LABEL=name:/path`` or an http(s) URL."""
    if spec.startswith(("http://", "https://")):
        parsed = urllib.parse.urlsplit(spec)
        if not parsed.hostname or parsed.path in ("", "/"):
            raise LocationError(f"p2v.answers={spec}: a URL needs a host and a file path")
        return AnswersLocation("url", url=spec)
    if spec.startswith("LABEL="):
        label, sep, path = spec.removeprefix("LABEL=").partition(":")
        if not sep or not label:
            raise LocationError(f"p2v.answers={spec}: expected LABEL=name:/path/answers.yaml")
        if not path.startswith("/") or path.endswith("/"):
            raise LocationError(
                f"p2v.answers={spec}: the path on the stick must be absolute (:/answers.yaml)"
            )
        return AnswersLocation("label", path=_normal(path, spec), label=label)
    if spec.startswith("/") and not spec.endswith("/"):
        return AnswersLocation("path", path=_normal(spec, spec))
    raise LocationError(f"p2v.answers={spec}: expected /path, LABEL=name:/path or an http(s) URL")


def _normal(path: str, spec: str) -> str:
    if ".." in path.split("/"):
        raise LocationError(f"p2v.answers={spec}: '..' is not allowed in the path")
    return os.path.normpath(path)


def parse_settings(cmdline: str) -> LiveSettings:
    """The p2v settings of a kernel command line (the last of each wins)."""
    answers: AnswersLocation | None = None
    dry_run = False
    for word in split_cmdline(cmdline):
        key, sep, value = word.partition("=")
        if key == "p2v.answers" and sep:
            answers = parse_answers_location(value) if value else None
        elif key == "p2v.dryrun":
            dry_run = value in ("", "1", "yes", "true", "on")
    return LiveSettings(answers, dry_run)


def p2v_argv(answers_file: str, report: str, *, dry_run: bool) -> list[str]:
    """The headless run; no --yes: the answers file's ``confirm:`` decides."""
    return [
        P2V,
        "--answers-file", answers_file,  # the answers as fetched
        "--report", report,  # under /var/log/p2v: known here, to copy it to the stick
        *(["--dry-run"] if dry_run else []),  # p2v.dryrun=1: probe, connect, plan; write nothing
    ]  # fmt: skip


OUTCOMES = {
    0: "migration done",
    1: "FAILED (or invalid answers): see the messages above and the report",
    2: "FAILED: wrong command line",
    3: "NOT CONFIRMED: put 'confirm: true' in the answers file to erase the target disks",
    4: "STOPPED (cancelled, or the link to the target lost): the source is untouched; boot again to resume",
}
"""One console line for each of p2v's exit codes (``p2v --help``). Written
out here, as this runs before p2v_tui is known to import; a test holds it to
p2v_tui/engine/exits.py."""


def outcome(code: int, *, dry_run: bool) -> str:
    """One line for the console, from p2v's exit code."""
    if code == 0 and dry_run:
        return "dry run done: nothing was written"
    return OUTCOMES.get(code, f"FAILED with exit code {code}")


def relative_identity(answers_text: str) -> str:
    """The answers' ``target.identity`` when it is a plain relative file name
    (fetched from beside the answers URL), else ""."""
    try:
        doc = yaml.safe_load(answers_text)
    except yaml.YAMLError:
        return ""  # p2v itself says what is wrong with the file
    target = doc.get("target") if isinstance(doc, dict) else None
    identity = target.get("identity") if isinstance(target, dict) else None
    if not isinstance(identity, str) or not identity or "/" in identity or identity in (".", ".."):
        return ""
    return identity


def report_name(now: float) -> str:
    return time.strftime("p2v-report-%Y%m%d-%H%M%S", time.gmtime(now))


# --- side effects -------------------------------------------------------------


def say(text: str) -> None:
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


def ensure_terminal_size(fd: int = 0) -> None:
    """A serial console reports 0x0, where urwid draws nothing: say 80x24."""
    with contextlib.suppress(OSError):
        rows, cols, _, _ = struct.unpack("HHHH", fcntl.ioctl(fd, termios.TIOCGWINSZ, b"\0" * 8))
        if rows == 0 or cols == 0:
            fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))


def _run_quiet(argv: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, capture_output=True, text=True, check=False)


def find_label(label: str, wait: float = WAIT_SECONDS) -> str:
    """The device holding the filesystem labelled ``label`` (USB sticks can
    take a while to show up)."""
    deadline = time.monotonic() + wait
    while True:
        found = _run_quiet(["blkid", "--label", label]).stdout.strip()
        if found:
            return found.splitlines()[0]
        if time.monotonic() > deadline:
            raise LocationError(f"no filesystem labelled {label} found within {wait:.0f} s")
        time.sleep(2)


def fetch_url(url: str, dest: Path, wait: float = WAIT_SECONDS) -> None:
    """Download ``url`` (retrying while DHCP settles) into ``dest`` (0600)."""
    deadline = time.monotonic() + wait
    while True:
        try:
            with urllib.request.urlopen(url, timeout=15) as response:  # noqa: S310 (http(s) only, checked)
                data = response.read()
            break
        except OSError as exc:
            if time.monotonic() > deadline:
                raise LocationError(f"cannot fetch {url}: {exc}") from exc
            time.sleep(3)
    dest.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd = os.open(dest, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)


@contextlib.contextmanager
def answers_file(location: AnswersLocation) -> Iterator[tuple[Path, Path | None]]:
    """(the answers file, the stick's mount point or None) while p2v runs."""
    if location.kind == "url":
        dest = FETCHED / (Path(urllib.parse.urlsplit(location.url).path).name or "answers.yaml")
        fetch_url(location.url, dest)
        key = relative_identity(dest.read_text(errors="replace"))
        if key:
            fetch_url(urllib.parse.urljoin(location.url, key), FETCHED / key)
        yield dest, None
        return
    if location.kind == "path":
        on_medium = LIVE_MEDIUM / location.path.lstrip("/")
        path = on_medium if on_medium.is_file() else Path(location.path)
        if not path.is_file():
            raise LocationError(f"{location.path}: not found on the live medium nor in the live system")
        yield path, None
        return
    device = find_label(location.label)
    STICK_MOUNT.mkdir(parents=True, exist_ok=True)
    mount = _run_quiet(["mount", "-o", "ro", device, str(STICK_MOUNT)])
    if mount.returncode != 0:
        raise LocationError(f"cannot mount {device} (label {location.label}): {mount.stderr.strip()}")
    try:
        path = STICK_MOUNT / location.path.lstrip("/")
        if not path.is_file():
            raise LocationError(f"{location.path}: not found on {device} (label {location.label})")
        yield path, STICK_MOUNT
    finally:
        _run_quiet(["umount", str(STICK_MOUNT)])


def copy_report_to_stick(report: Path, stick: Path) -> str:
    """Copy the report directory onto the stick (remounted read-write for it)."""
    if _run_quiet(["mount", "-o", "remount,rw", str(stick)]).returncode != 0:
        return f"the report was not copied: {stick} cannot be written"
    try:
        dest = stick / STICK_REPORTS / report.name
        shutil.copytree(report, dest, dirs_exist_ok=True)
        os.sync()
        return f"report copied to the stick: {STICK_REPORTS}/{report.name}"
    except OSError as exc:
        return f"the report was not copied to the stick: {exc}"
    finally:
        _run_quiet(["mount", "-o", "remount,ro", str(stick)])


class Tee:
    """p2v's output to this console and to the log the other consoles follow."""

    def __init__(self, log: Path) -> None:
        self.log = open(log, "ab", buffering=0)  # noqa: SIM115 (closed in close())

    def write(self, text: str) -> None:
        data = text.encode("utf-8", "replace")
        sys.stdout.buffer.write(data)
        sys.stdout.flush()
        self.log.write(data)

    def close(self) -> None:
        self.log.close()


def headless(settings: LiveSettings) -> int:
    """The one headless run of this boot; every console shows its output."""
    assert settings.answers is not None
    RUN_DIR.mkdir(parents=True, exist_ok=True)
    lock = open(HEADLESS_LOCK, "w")  # noqa: SIM115 (held for the whole run)
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        follow(HEADLESS_LOG, lock)
        return 0
    if HEADLESS_DONE.exists():
        sys.stdout.write(HEADLESS_LOG.read_text(errors="replace"))
        return int(HEADLESS_DONE.read_text().strip() or 1)
    tee = Tee(HEADLESS_LOG)
    code = 1
    try:
        code = _headless_run(settings, settings.answers, tee)
    except LocationError as exc:
        tee.write(f"p2v-live: {exc}\np2v-live: {outcome(1, dry_run=settings.dry_run)}\n")
    finally:
        HEADLESS_DONE.write_text(f"{code}\n")
        tee.close()
    return code


def _headless_run(settings: LiveSettings, location: AnswersLocation, tee: Tee) -> int:
    report = REPORT_BASE / report_name(time.time())
    tee.write(f"p2v-live: headless run with the answers from {location.url or location.path}"
              f"{' (label ' + location.label + ')' if location.label else ''}"
              f"{', dry run' if settings.dry_run else ''}\n")  # fmt: skip
    with answers_file(location) as (path, stick):
        argv = p2v_argv(str(path), str(report), dry_run=settings.dry_run)
        tee.write(f"p2v-live: {' '.join(argv)}\n")
        with subprocess.Popen(
            argv, cwd=path.parent, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
        ) as proc:
            assert proc.stdout is not None
            for line in iter(proc.stdout.readline, b""):
                tee.write(line.decode("utf-8", "replace"))
        code = proc.returncode
        tee.write(f"p2v-live: {outcome(code, dry_run=settings.dry_run)}\n")
        tee.write(f"p2v-live: report in {report}\n")
        if stick is not None and report.is_dir():
            tee.write(f"p2v-live: {copy_report_to_stick(report, stick)}\n")
    tee.write(f"p2v-live: finished with exit code {code}\n")
    return code


def follow(log: Path, lock: object) -> None:
    """Show the headless run's output as it grows, until that run ends."""
    say("p2v-live: the headless run is on another console; its output follows")
    offset = 0
    while True:
        done = HEADLESS_DONE.exists()
        with contextlib.suppress(FileNotFoundError), open(log, "rb") as f:
            f.seek(offset)
            data = f.read()
            offset += len(data)
            sys.stdout.buffer.write(data)
            sys.stdout.flush()
        if done:
            return
        time.sleep(1)


def after_menu(again: str) -> str:
    """Enter: ``again``; 's': a shell. Waits on the console."""
    say(f"\nEnter: {again}    s then Enter: a root shell")
    try:
        return sys.stdin.readline().strip().lower()
    except (OSError, KeyboardInterrupt):
        return ""


def quiet_consoles(printk: Path = PRINTK) -> None:
    """Only emergencies on the consoles while the wizard runs: a kernel message
    scrolls its screen, and a serial terminal is not repainted (Ctrl-L does).
    The messages stay in the kernel log (``dmesg``); ``dmesg -n 7`` shows them again."""
    with contextlib.suppress(OSError):
        printk.write_text("1\n")  # the first field: the console log level


def main() -> int:
    ensure_terminal_size()
    with contextlib.suppress(OSError):
        os.environ.setdefault("TERM", "vt220" if os.ttyname(0).startswith("/dev/ttyS") else "linux")
    try:
        settings = parse_settings(Path("/proc/cmdline").read_text())
    except LocationError as exc:
        say(f"p2v-live: {exc}; starting the wizard instead")
        settings = LiveSettings(None, dry_run=False)
    if settings.answers is not None and not HEADLESS_DONE.exists():
        headless(settings)
    elif settings.answers is not None:
        sys.stdout.write(HEADLESS_LOG.read_text(errors="replace"))
    else:
        quiet_consoles()
        code = subprocess.run([P2V, "--wizard"], check=False).returncode
        say(f"p2v-live: the wizard ended (exit code {code})")
    again = "start the wizard" if settings.answers is None else "show the result again"
    if after_menu(again) == "s":
        os.execv("/bin/bash", ["-bash"])  # noqa: S606 (a login shell on request, by path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
