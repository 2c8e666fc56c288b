"""The p2v command line, run as a user would: --help, --validate, --demo."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
EXAMPLES = sorted((REPO / "examples" / "answers").glob("*.yaml"))


def p2v(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "p2v_tui", *args], capture_output=True, text=True, timeout=300, cwd=cwd or REPO
    )


def test_help_answers_the_questions() -> None:
    out = p2v("--help")
    assert out.returncode == 0
    for text in (
        "--answers-file",
        "--validate",
        "--demo",
        "--dry-run",
        "--yes",
        "--events",
        "exit codes",
        "p2v-target",
        "--warm",
    ):
        assert text in out.stdout, text


@pytest.mark.parametrize("args", [("--warm", "--wizard"), ("--warm", "--demo")])
def test_a_warm_pass_is_headless_only(args: tuple[str, ...]) -> None:
    out = p2v(*args)
    assert out.returncode == 2 and "--warm runs headless" in out.stderr


def test_no_arguments_shows_usage() -> None:
    out = p2v()
    assert out.returncode == 2 and "usage: p2v" in out.stdout


@pytest.mark.parametrize("example", EXAMPLES, ids=[e.stem for e in EXAMPLES])
def test_examples_validate(example: Path) -> None:
    out = p2v("--validate", str(example))
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == f"{example}: valid"


def test_validate_rejects_with_key_paths(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "version: 1\ntarget:\n  port: 0\n  identity: /k\n  host_key: x\nswap: lots\nafter: later\n"
    )
    out = p2v("--validate", str(bad))
    assert out.returncode == 1
    assert "target.host: required" in out.stderr
    assert (
        "target.port:" in out.stderr
        and "swap: expected" in out.stderr
        and "after: expected one of" in out.stderr
    )


def test_validate_reports_yaml_errors_with_position(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("version: 1\ntarget: [unclosed\n")
    out = p2v("--validate", str(bad))
    assert out.returncode == 1 and "line " in out.stderr and "not valid YAML" in out.stderr


def test_validate_missing_file(tmp_path: Path) -> None:
    out = p2v("--validate", str(tmp_path / "nope.yaml"))
    assert out.returncode == 1 and "cannot read" in out.stderr


def test_demo_runs_the_whole_flow(tmp_path: Path) -> None:
    """The README's first command: plan, diffs, a real rsync with progress,
    fixups applied in the simulated target's tree, a report."""
    report = tmp_path / "demo"
    out = p2v("--demo", "--report", str(report), "--events", str(tmp_path / "events.jsonl"))
    assert out.returncode == 0, out.stdout + out.stderr
    assert "SIMULATED target" in out.stdout and "DONE" in out.stdout
    assert "--- a/etc/fstab" in out.stdout
    migrated = report / "simulated-target" / "target"
    fstab = (migrated / "etc/fstab").read_text()
    assert "UUID=5d2e8b71-43c9-4f0a-b1e6-9a7c3d5e8f02\t/" in fstab.replace("       ", "\t").replace(
        " /", "\t/"
    ) or ("UUID=5d2e8b71-43c9-4f0a-b1e6-9a7c3d5e8f02 " in fstab)
    assert "ttyS0" in (migrated / "etc/inittab").read_text()
    assert "aa:00:00:4f:1e:02" in (migrated / "etc/udev/rules.d/70-persistent-net.rules").read_text()
    assert (migrated / "etc/hostname").read_text() == "web01\n"
    assert len(list((migrated / "usr/share/doc").rglob("*.txt"))) == 1200  # the sample tree was copied
    assert not any((migrated / "var/cache/apt/archives").iterdir())  # excluded
    events = [json.loads(line) for line in (tmp_path / "events.jsonl").read_text().splitlines()]
    progress = [e for e in events if e["type"] == "progress"]
    assert len(progress) >= 3 and progress[-1]["done"] == progress[-1]["total"]
    assert events[-1] == {**events[-1], "type": "finished", "ok": True}
    for name in ("plan.json", "plan.txt", "events.jsonl", "debug.log", "answers.yaml", "result.txt"):
        assert (report / name).exists(), name
    assert list((report / "diffs").glob("*fstab.diff"))


def test_an_unexpected_error_is_one_line_naming_the_log(tmp_path: Path) -> None:
    """A defect (here: the YAML reader made to fail with an error no code
    path expects, which nothing real can provoke) ends in one line that
    names the file holding the traceback, never a traceback on the console."""
    script = (
        "import sys, p2v_tui.system.answers_io as io\n"
        "def broken(text): raise ZeroDivisionError('a defect')\n"
        "io.parse_answers_yaml = broken\n"
        "from p2v_tui.app import main\n"
        "sys.exit(main(sys.argv[1:]))\n"
    )
    example = str(EXAMPLES[0])
    out = subprocess.run([sys.executable, "-c", script, "--validate", example],
                         capture_output=True, text=True, timeout=60, cwd=tmp_path)  # fmt: skip
    assert out.returncode == 1
    lines = (out.stdout + out.stderr).splitlines()
    assert len(lines) == 1 and "Traceback" not in lines[0], lines
    assert lines[0].startswith("p2v: internal error (ZeroDivisionError: a defect); details in "), lines
    log = Path(lines[0].rsplit(" ", 1)[1])
    try:
        assert "Traceback" in log.read_text() and "ZeroDivisionError: a defect" in log.read_text()
    finally:
        log.unlink()
