"""The live image's console launcher (livecd/p2v_live.py) and the build's
pin check (livecd/check_pins.py): kernel command line parsing, the p2v
command it runs, the console size fix on a real pty, the answers download
from a real HTTP server on 127.0.0.1."""

from __future__ import annotations

import fcntl
import http.server
import os
import struct
import subprocess
import termios
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from livecd import check_pins, p2v_live
from livecd.p2v_live import AnswersLocation, LiveSettings, LocationError
from p2v_tui.engine.exits import (
    EXIT_CODES,
    EXIT_FAILED,
    EXIT_NOT_CONFIRMED,
    EXIT_OK,
    EXIT_STOPPED,
    EXIT_USAGE,
)

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("/p2v/answers.yaml", AnswersLocation("path", path="/p2v/answers.yaml")),
        ("/p2v//sub/./answers.yaml", AnswersLocation("path", path="/p2v/sub/answers.yaml")),
        ("LABEL=P2V:/answers.yaml", AnswersLocation("label", path="/answers.yaml", label="P2V")),
        ("LABEL=my stick:/dir/a.yaml", AnswersLocation("label", path="/dir/a.yaml", label="my stick")),
        ("LABEL=USB:/a:b.yaml", AnswersLocation("label", path="/a:b.yaml", label="USB")),
        ("http://10.0.2.100:8080/answers.yaml", AnswersLocation("url", url="http://10.0.2.100:8080/answers.yaml")),
        ("https://deploy.example.org/p2v/web01.yaml",
         AnswersLocation("url", url="https://deploy.example.org/p2v/web01.yaml")),
    ],
)  # fmt: skip
def test_answers_locations(spec: str, expected: AnswersLocation) -> None:
    assert p2v_live.parse_answers_location(spec) == expected


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("answers.yaml", "expected /path, LABEL=name:/path or an http(s) URL"),
        ("/p2v/", "expected /path"),
        ("LABEL=P2V", "expected LABEL=name:/path/answers.yaml"),
        ("LABEL=:/answers.yaml", "expected LABEL=name:/path/answers.yaml"),
        ("LABEL=P2V:answers.yaml", "must be absolute"),
        ("LABEL=P2V:/../etc/shadow", "'..' is not allowed"),
        ("/run/live/medium/../../etc/shadow", "'..' is not allowed"),
        ("http://", "needs a host and a file path"),
        ("http://server/", "needs a host and a file path"),
        ("ftp://server/answers.yaml", "expected /path"),
    ],
)
def test_bad_answers_locations_say_why(spec: str, message: str) -> None:
    with pytest.raises(LocationError, match=message.replace("(", r"\(").replace(")", r"\)")):
        p2v_live.parse_answers_location(spec)


@pytest.mark.parametrize(
    ("cmdline", "words"),
    [
        ("BOOT_IMAGE=/live/vmlinuz boot=live quiet\n", ["BOOT_IMAGE=/live/vmlinuz", "boot=live", "quiet"]),
        ('a p2v.answers="LABEL=my stick:/a.yaml" b', ["a", "p2v.answers=LABEL=my stick:/a.yaml", "b"]),
        ("  x   y ", ["x", "y"]),
        ('e=""', ["e="]),
        ("", []),
    ],
)
def test_split_cmdline(cmdline: str, words: list[str]) -> None:
    assert p2v_live.split_cmdline(cmdline) == words


@pytest.mark.parametrize(
    ("cmdline", "settings"),
    [
        ("boot=live quiet console=ttyS0,115200n8", LiveSettings(None, dry_run=False)),
        ("boot=live p2v.answers=/p2v/answers.yaml",
         LiveSettings(AnswersLocation("path", path="/p2v/answers.yaml"), dry_run=False)),
        ("p2v.answers=http://10.0.2.100:8080/a.yaml p2v.dryrun=1",
         LiveSettings(AnswersLocation("url", url="http://10.0.2.100:8080/a.yaml"), dry_run=True)),
        ("p2v.answers=LABEL=P2V:/a.yaml p2v.dryrun", LiveSettings(
            AnswersLocation("label", path="/a.yaml", label="P2V"), dry_run=True)),
        ("p2v.dryrun=0 p2v.answers=/a.yaml p2v.answers=", LiveSettings(None, dry_run=False)),
        ("xp2v.answers=/a.yaml p2v.answersx=/b.yaml", LiveSettings(None, dry_run=False)),
    ],
)  # fmt: skip
def test_settings_from_the_kernel_command_line(cmdline: str, settings: LiveSettings) -> None:
    assert p2v_live.parse_settings(cmdline) == settings


def test_bad_location_on_the_command_line_is_an_error() -> None:
    with pytest.raises(LocationError, match="relative"):
        p2v_live.parse_settings("p2v.answers=relative.yaml")


def test_headless_command_never_confirms_by_itself() -> None:
    """The answers file's 'confirm:' decides whether the target is erased."""
    argv = p2v_live.p2v_argv("/run/p2v/answers/a.yaml", "/var/log/p2v/r", dry_run=False)
    assert argv == [
        "/usr/local/bin/p2v",
        "--answers-file",
        "/run/p2v/answers/a.yaml",
        "--report",
        "/var/log/p2v/r",
    ]
    assert "--yes" not in argv
    dry = p2v_live.p2v_argv("/a.yaml", "/var/log/p2v/r", dry_run=True)
    assert dry[-1] == "--dry-run" and "--yes" not in dry


@pytest.mark.parametrize(
    ("code", "dry_run", "start"),
    [(0, True, "dry run done"), (0, False, "migration done"), (1, False, "FAILED"),
     (3, False, "NOT CONFIRMED"), (4, True, "STOPPED"), (9, False, "FAILED with exit code 9")],
)  # fmt: skip
def test_outcome_lines(code: int, dry_run: bool, start: str) -> None:
    assert p2v_live.outcome(code, dry_run=dry_run).startswith(start)


def test_outcome_lines_are_p2vs_exit_codes() -> None:
    """The launcher runs before p2v_tui is known to import, so it writes
    its lines out: one for each exit code p2v defines, saying the same."""
    assert set(p2v_live.OUTCOMES) == {code for code, _meaning in EXIT_CODES}
    assert p2v_live.outcome(EXIT_OK, dry_run=False) == "migration done"
    assert p2v_live.outcome(EXIT_FAILED, dry_run=False).startswith("FAILED")
    assert p2v_live.outcome(EXIT_USAGE, dry_run=False) == "FAILED: wrong command line"
    assert p2v_live.outcome(EXIT_NOT_CONFIRMED, dry_run=False).startswith("NOT CONFIRMED")
    assert p2v_live.outcome(EXIT_STOPPED, dry_run=False).startswith("STOPPED")


def test_report_name_is_utc_time() -> None:
    assert p2v_live.report_name(0) == "p2v-report-19700101-000000"


def _size(fd: int) -> tuple[int, int]:
    rows, cols, _, _ = struct.unpack("HHHH", fcntl.ioctl(fd, termios.TIOCGWINSZ, b"\0" * 8))
    return rows, cols


def test_serial_console_size_zero_becomes_80x24() -> None:
    main, follower = os.openpty()
    try:
        assert _size(follower) == (0, 0)  # what a serial console reports
        p2v_live.ensure_terminal_size(follower)
        assert _size(follower) == (24, 80)
        fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 50, 132, 0, 0))
        p2v_live.ensure_terminal_size(follower)
        assert _size(follower) == (50, 132)  # a real size is kept
    finally:
        os.close(main)
        os.close(follower)


@pytest.fixture
def http_dir(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    served = tmp_path / "served"
    served.mkdir()

    class Handler(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *args: object, **kwargs: object) -> None:
            super().__init__(*args, directory=str(served), **kwargs)  # type: ignore[arg-type]

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", served
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def test_fetch_url_writes_a_private_file(http_dir: tuple[str, Path], tmp_path: Path) -> None:
    base, served = http_dir
    (served / "answers.yaml").write_text("version: 1\n")
    dest = tmp_path / "fetched" / "answers.yaml"
    p2v_live.fetch_url(f"{base}/answers.yaml", dest, wait=5)
    assert dest.read_text() == "version: 1\n"
    assert dest.stat().st_mode & 0o777 == 0o600
    assert dest.parent.stat().st_mode & 0o777 == 0o700


def test_fetch_url_gives_up_with_the_reason(http_dir: tuple[str, Path], tmp_path: Path) -> None:
    base, _ = http_dir
    with pytest.raises(LocationError, match=r"cannot fetch .*missing.yaml: HTTP Error 404"):
        p2v_live.fetch_url(f"{base}/missing.yaml", tmp_path / "x.yaml", wait=0)
    assert not (tmp_path / "x.yaml").exists()


@pytest.mark.parametrize(
    ("debian", "upstream"),
    [
        ("2.12.0-2", "2.12.0"),
        ("6.0-3+b2", "6.0"),
        ("1:2.0-1-2", "2.0-1"),
        ("5.9.4-1+b1", "5.9.4"),
        ("3.12.0", "3.12.0"),
    ],
)
def test_upstream_version(debian: str, upstream: str) -> None:
    assert check_pins.upstream(debian) == upstream


def test_pin_check_names_each_mismatch() -> None:
    installed = {"python3-paramiko": "2.12.0-2", "python3-urwid": "2.2.1-1"}
    pins = ["paramiko==2.12.0", "urwid==2.1.2", "psutil==5.9.4", "requests==2.0"]
    assert check_pins.mismatches(pins, installed) == [
        "urwid==2.1.2: the image has python3-urwid 2.2.1-1",
        "psutil==5.9.4: the image has python3-psutil missing",
        "requests: no Debian package known for it",
    ]


def test_pin_check_passes_on_this_machines_debian_packages(tmp_path: Path) -> None:
    """The build runs it on the image's packages; here on the host's, which
    the tests use (same bookworm archive)."""
    listing = subprocess.run(
        ["dpkg-query", "-W", "-f=${Package} ${Version}\n"], capture_output=True, text=True, check=True
    ).stdout
    packages = tmp_path / "packages"
    packages.write_text(listing)
    proc = subprocess.run(
        [str(REPO / ".venv/bin/python"), str(REPO / "livecd/check_pins.py"), str(REPO / "pyproject.toml"),
         str(packages)], capture_output=True, text=True,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert "python3-paramiko 2.12.0" in proc.stdout
    packages.write_text(listing.replace("python3-urwid 2.1.2", "python3-urwid 2.3.0"))
    bad = subprocess.run(
        [str(REPO / ".venv/bin/python"), str(REPO / "livecd/check_pins.py"), str(REPO / "pyproject.toml"),
         str(packages)], capture_output=True, text=True,
    )  # fmt: skip
    assert bad.returncode == 1 and "urwid==2.1.2: the image has python3-urwid 2.3.0" in bad.stderr


@pytest.mark.parametrize(
    ("text", "identity"),
    [
        ("target: {host: h, identity: id_ed25519}\n", "id_ed25519"),
        ("target: {host: h, identity: /media/key}\n", ""),
        ("target: {host: h, identity: keys/id}\n", ""),
        ("target: {host: h, identity: ..}\n", ""),
        ("target: {host: h}\n", ""),
        ("target: [1, 2]\n", ""),
        ("- a\n", ""),
        ("target: {identity: [\n", ""),
    ],
)
def test_relative_identity_is_fetched_beside_the_answers(text: str, identity: str) -> None:
    assert p2v_live.relative_identity(text) == identity


def test_quiet_consoles_sets_the_console_log_level_only(tmp_path: Path) -> None:
    printk = tmp_path / "printk"
    printk.write_text("7\t4\t1\t7\n")
    p2v_live.quiet_consoles(printk)
    assert printk.read_text() == "1\n"  # what the kernel takes as the first field alone
    p2v_live.quiet_consoles(tmp_path / "missing" / "printk")  # no /proc: the wizard still starts
