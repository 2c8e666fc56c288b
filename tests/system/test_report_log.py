"""debug.log after the report is closed: a thread that took the handler
just before it was removed (paramiko's transport thread logging "EOF in
transport thread" as the connection closes) writes nothing, and no
"Logging error" traceback reaches the console."""

from __future__ import annotations

import logging
import threading
from pathlib import Path

import pytest

from p2v_tui.system.report import Report


def test_a_record_arriving_after_close_is_dropped_without_a_logging_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    report = Report(tmp_path / "report")
    logging.getLogger("paramiko.transport").debug("before the close")
    late = logging.getLogger().handlers[-1]  # what a thread already iterating the handlers holds
    report.close()
    record = logging.LogRecord(
        "paramiko.transport", logging.DEBUG, __file__, 1, "EOF in transport thread", (), None
    )
    thread = threading.Thread(target=late.handle, args=(record,))
    thread.start()
    thread.join(10)
    err = capsys.readouterr().err
    assert "Logging error" not in err and "Traceback" not in err, err
    text = (tmp_path / "report" / "debug.log").read_text()
    assert "before the close" in text and "EOF in transport thread" not in text
    assert late not in logging.getLogger().handlers
