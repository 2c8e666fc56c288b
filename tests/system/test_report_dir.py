"""Two runs started in the same second (the live image's wizard on tty1 and
on the serial console) each get a report directory of their own: the
second used to fail with "cannot create the report directory: File exists"."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

CREATE = (
    "import sys; from p2v_tui.system.report import Report, default_report_dir; "
    "r = Report(default_report_dir()); print(r.directory); r.close()"
)


def test_runs_started_in_the_same_second_get_their_own_report(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("P2V_REPORT_BASE", str(tmp_path))
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", CREATE], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        for _ in range(4)
    ]
    results = [p.communicate(timeout=60) for p in procs]
    assert [p.returncode for p in procs] == [0] * 4, results
    dirs = {out.strip() for out, _ in results}
    assert len(dirs) == 4
    assert all(Path(d).parent == tmp_path and Path(d).is_dir() for d in dirs)
