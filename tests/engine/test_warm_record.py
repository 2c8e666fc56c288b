"""The warm copy's record as a run reads it from the target (read_warm):
one p2v cannot use is said and left alone, never a crash."""

from __future__ import annotations

from typing import Any, cast

from p2v_tui.engine.session import read_warm
from p2v_tui.model.events import Event, Log
from p2v_tui.model.warm import RECORD_LIMIT, VERSION, WARM_RECORD, WarmRecord, record_text
from p2v_tui.system.target import Target, TargetFileTooLarge


class FileTarget:
    """A target that only has files to read (what read_warm asks)."""

    def __init__(self, files: dict[str, bytes]) -> None:
        self.files = files
        self.limits: list[int] = []

    def read_file(self, path: str, *, limit: int) -> bytes | None:
        self.limits.append(limit)
        data = self.files.get(path)
        if data is not None and len(data) > limit:
            raise TargetFileTooLarge(path, limit)
        return data


def _read(files: dict[str, bytes]) -> tuple[WarmRecord | None, list[Event], FileTarget]:
    said: list[Event] = []
    target = FileTarget(files)
    return read_warm(cast(Target, target), said.append), said, target


def _warnings(said: list[Any]) -> list[str]:
    return [e.message for e in said if isinstance(e, Log) and e.level == "warning"]


def test_no_record_is_no_warm_copy() -> None:
    record, said, target = _read({})
    assert record is None and said == [] and target.limits == [RECORD_LIMIT]


def test_a_record_is_read_and_said() -> None:
    written = WarmRecord(VERSION, "oldweb", (), "msdos", ())
    record, said, _ = _read({WARM_RECORD: record_text(written).encode()})
    assert record == written
    assert [e.message for e in said if isinstance(e, Log)] == [
        "a warm copy of oldweb was prepared on the target, but no pass finished"
    ]


def test_a_huge_or_foreign_record_is_said_and_not_used() -> None:
    for data in (b"{" * (RECORD_LIMIT + 1), b'{"version": 1, "source": "\\u001b[2J"}', b"\xff"):
        record, said, _ = _read({WARM_RECORD: data})
        assert record is None
        warnings = _warnings(said)
        assert len(warnings) == 1 and "it is not used" in warnings[0] and "\x1b" not in warnings[0]
