"""Hostile and careless answers files through the real program.

Every file of tests/data/answers-hostile (EXPECTED.tsv says what its
refusal must say) goes through ``p2v --validate`` and ``p2v --answers-file
... --dry-run``: exit 1, the expected line naming the key path (or the line
and column), no traceback, within 2 s of CPU and 300 MiB of address space
(a hard limit: a file that made p2v allocate more would end in a
MemoryError, not in the expected line).
"""

from __future__ import annotations

import os
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.integration.harness import P2V

HOSTILE = Path(__file__).parent / "data" / "answers-hostile"
MEMORY_LIMIT = 300 * 1024 * 1024
CPU_SECONDS = 2.0
WALL_TIMEOUT = 60.0
"""Only against a hang: the CPU time is what is asserted."""


def _corpus() -> list[tuple[str, str]]:
    rows = []
    for line in (HOSTILE / "EXPECTED.tsv").read_text(encoding="utf-8").splitlines():
        if line and not line.startswith("#"):
            name, expected = line.split("\t", 1)
            rows.append((name, expected))
    return rows


CORPUS = _corpus()


@dataclass(frozen=True)
class Ran:
    code: int
    output: str
    cpu: float
    max_rss_kib: int


def run_limited(argv: list[str], cwd: Path) -> Ran:
    """``argv`` with at most MEMORY_LIMIT of address space; its exit code,
    output (stdout then stderr) and the CPU seconds it used."""
    out, err = cwd / "stdout", cwd / "stderr"
    with out.open("wb") as o, err.open("wb") as e:
        # prlimit sets the limit and runs argv in its place (the same process)
        limited = ["prlimit", f"--as={MEMORY_LIMIT}", "--", *argv]
        proc = subprocess.Popen(limited, stdout=o, stderr=e, stdin=subprocess.DEVNULL, cwd=cwd)
        deadline = time.monotonic() + WALL_TIMEOUT
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            if time.monotonic() > deadline:
                proc.kill()
                proc.wait()
                raise AssertionError(f"{argv} did not end within {WALL_TIMEOUT:.0f} s")
            time.sleep(0.02)
    proc.returncode = os.waitstatus_to_exitcode(status)
    return Ran(proc.returncode, out.read_text(errors="replace") + err.read_text(errors="replace"),
               usage.ru_utime + usage.ru_stime, usage.ru_maxrss)  # fmt: skip


def check_refused(ran: Ran, expected: str) -> None:
    assert ran.code == 1, ran.output
    assert "Traceback" not in ran.output and "internal error" not in ran.output, ran.output
    assert expected in ran.output, f"expected {expected!r} in:\n{ran.output}"
    lines = ran.output.splitlines()
    assert len(lines) <= 6 and all(len(line) <= 400 for line in lines), ran.output
    assert ran.cpu < CPU_SECONDS, f"{ran.cpu:.2f} s of CPU"


def test_the_corpus_covers_every_file() -> None:
    names = {p.name for p in HOSTILE.glob("*.yaml")}
    assert names == {name for name, _ in CORPUS}
    assert len(CORPUS) >= 80


@pytest.mark.parametrize(("name", "expected"), CORPUS, ids=[n for n, _ in CORPUS])
def test_validate_refuses_in_one_clear_message(name: str, expected: str, tmp_path: Path) -> None:
    ran = run_limited([P2V, "--validate", str(HOSTILE / name)], tmp_path)
    check_refused(ran, expected)
    assert ran.output.startswith(f"{HOSTILE / name}: invalid\n"), ran.output


@pytest.mark.parametrize(("name", "expected"), CORPUS, ids=[n for n, _ in CORPUS])
def test_dry_run_refuses_before_anything(name: str, expected: str, tmp_path: Path) -> None:
    report = tmp_path / "report"
    argv = [P2V, "--answers-file", str(HOSTILE / name), "--dry-run", "--report", str(report)]
    ran = run_limited(argv, tmp_path)
    check_refused(ran, expected)
    assert "nothing was touched" in ran.output
    assert not report.exists()


def _fifo(path: Path) -> Path:
    os.mkfifo(path)
    return path


@pytest.mark.parametrize(
    ("make", "expected"),
    [
        (lambda d: Path("/dev/zero"), "/dev/zero: invalid\n  not a regular file"),
        (lambda d: _fifo(d / "answers.fifo"), "not a regular file"),  # opened without blocking: no hang
        (lambda d: d, "not a regular file"),
        (lambda d: d / "missing.yaml", "cannot read: No such file or directory"),
        (lambda d: (d / "big.yaml").write_text("# x\n" * 20000) and d / "big.yaml", "larger than 64 KiB"),
    ],
    ids=["dev-zero", "fifo", "directory", "missing", "too-large"],
)
def test_validate_refuses_what_is_not_an_answers_file(make, expected: str, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    work = tmp_path / "w"
    work.mkdir()
    path = make(work)
    check_refused(run_limited([P2V, "--validate", str(path)], tmp_path), expected)


def _answers_with(tmp_path: Path, identity: str) -> Path:
    text = (HOSTILE / "fixups-unknown-id.yaml").read_text().replace("fixups:\n  disable: [consol]\n", "")
    path = tmp_path / "answers.yaml"
    path.write_text(text.replace("/nonexistent/p2v-key", identity))
    return path


@pytest.mark.root
@pytest.mark.parametrize(
    ("identity", "expected"),
    [
        ("/dev/zero", "/dev/zero: the key file is not a regular file"),
        ("{dir}", "the key file is not a regular file"),
        ("{big}", "larger than 64 KiB, not a private key file"),
        ("{garbage}", "not a usable private key"),
        ("/nonexistent/p2v-key", "cannot read the key file: No such file or directory"),
    ],
    ids=["dev-zero", "directory", "too-large", "garbage", "missing"],
)
def test_a_key_file_that_is_no_key_is_refused_before_connecting(
    identity: str, expected: str, tmp_path: Path
) -> None:
    """These pass --validate (the key is read where p2v runs, maybe another
    machine); the run refuses them before any connection, in one line."""
    if os.geteuid() != 0:
        pytest.skip("a run needs root")
    big = tmp_path / "big.key"
    big.write_bytes(b"-----BEGIN OPENSSH PRIVATE KEY-----\n" + b"A" * 100_000)
    garbage = tmp_path / "garbage.key"
    garbage.write_bytes(os.urandom(2000))
    path = _answers_with(tmp_path, identity.format(dir=tmp_path, big=big, garbage=garbage))
    assert run_limited([P2V, "--validate", str(path)], tmp_path).code == 0
    ran = run_limited(
        [P2V, "--answers-file", str(path), "--dry-run", "--report", str(tmp_path / "r")], tmp_path
    )
    assert ran.code == 1, ran.output
    assert "Traceback" not in ran.output, ran.output
    assert expected in ran.output, ran.output


@pytest.mark.parametrize(
    ("report", "expected"),
    [
        ("/etc/hostname", "p2v: /etc/hostname exists and is not a directory"),
        ("/", "p2v: / is a directory that is not an earlier p2v report"),
        ("/proc/self", "p2v: /proc/self is a symbolic link"),
    ],
)
def test_a_report_option_that_names_no_report_directory_is_refused(
    report: str, expected: str, tmp_path: Path
) -> None:
    """``--report`` is checked as ``report:`` is; nothing is written there
    (``/`` was chmodded to 0700 once)."""
    if os.geteuid() != 0:
        pytest.skip("a run needs root")
    path = _answers_with(tmp_path, "/nonexistent/p2v-key")
    mode = os.stat(report, follow_symlinks=False).st_mode
    ran = run_limited([P2V, "--answers-file", str(path), "--dry-run", "--report", report], tmp_path)
    assert ran.code == 1 and expected in ran.output and "Traceback" not in ran.output, ran.output
    assert os.stat(report, follow_symlinks=False).st_mode == mode
