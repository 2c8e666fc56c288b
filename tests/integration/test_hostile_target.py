"""A hostile bootstrap OS through the real program: a real sshd whose
instance.json lies ends the headless run with exit 1 and one clear line,
no traceback, no escape sequence on the console, nothing written."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from p2v_tui.model.units import MiB
from tests.integration.harness import image_hash, migration_target, run_p2v, source_machine
from tests.lab.disks import require

pytestmark = [pytest.mark.root, pytest.mark.slow]

FACTS = "/etc/p2v-target/instance.json"


@pytest.mark.parametrize(
    ("facts", "says"),
    [
        pytest.param(
            {"name": "web01\x1b[2J\x1b]0;owned\x07;reboot|sh.example.org"},
            f"{FACTS} on the target is malformed: name: text with the control character U+001B",
            id="name-with-escapes-and-shell",
        ),
        pytest.param(
            "[" * 100_000 + "]" * 100_000,
            f"{FACTS} on the target is malformed: JSON nested more than 32 deep",
            id="nested",
        ),
        pytest.param(
            '{"name": "' + "a" * 300_000 + '"}',
            f"{FACTS} on the target is larger than 256 KiB: refusing to read it",
            id="huge",
        ),
        pytest.param(
            {"disks": [{"index": 0, "path": "/dev/vda", "size": 2**60}]},
            f"{FACTS} on the target is malformed: disks[0].size: a size of {2**60} bytes is more than "
            "2^50 (1 PiB)",
            id="absurd-size",
        ),
    ],
)
def test_a_hostile_instance_json_ends_in_one_line(
    facts: str | dict[str, Any], says: str, tmp_path: Path
) -> None:
    require("rsync", "sshd")
    with (
        source_machine("swapfile", tmp_path, small_files=20) as source,
        migration_target(tmp_path, 800 * MiB, facts=facts) as target,
    ):
        before = image_hash(target.image)
        run = run_p2v(target, target.answers(source), tmp_path)
        assert run.returncode == 1, run.output[-3000:]
        assert "Traceback" not in run.output
        assert "\x1b" not in run.output and "\x07" not in run.output
        (failed,) = [line for line in run.output.splitlines() if line.startswith("FAILED: ")]
        assert failed == f"FAILED: {says}", failed
        result = (run.report / "result.txt").read_text()
        assert result == f"failed: {says}\n"
        assert image_hash(target.image) == before
