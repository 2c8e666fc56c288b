"""The warm copy's record (model/warm.py): its round trip, what a target
that lies about it gets, and that its layout plans the same partitions
again, or refuses when the data outgrew them."""

from __future__ import annotations

import dataclasses
import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from p2v_tui.demo import build_sample_tree, demo_machine
from p2v_tui.model.describe import confirm_summary
from p2v_tui.model.edits import FixupSet
from p2v_tui.model.layout import plan_layout
from p2v_tui.model.layout_edit import requests_from_plan
from p2v_tui.model.machine import Machine
from p2v_tui.model.plan import LayoutChoices, LayoutError, Plan
from p2v_tui.model.target import TargetDisk
from p2v_tui.model.units import GiB
from p2v_tui.model.warm import (
    WarmPass,
    WarmRecord,
    WarmRecordError,
    WarmState,
    describe_record,
    new_record,
    other_source,
    parse_record,
    record_text,
    warm_layout,
    warm_summary,
    with_pass,
)

if not shutil.which("du"):
    pytest.skip("needs du (the demo measures its sample tree)", allow_module_level=True)

DISK = (TargetDisk(0, "/dev/vda", 10 * GiB),)
PASS = WarmPass(
    started=1796686390, source_clock=1796686388, seconds=13.2, bytes=815911135, filesystems=("/",)
)


@pytest.fixture(scope="module")
def machine(tmp_path_factory: pytest.TempPathFactory) -> Machine:
    return demo_machine(build_sample_tree(Path(tmp_path_factory.mktemp("demo"))))


def _record(machine: Machine) -> tuple[Plan, WarmRecord]:
    plan = plan_layout(machine, DISK, LayoutChoices())
    return plan, with_pass(new_record(machine, plan, requests_from_plan(plan, machine)), PASS)


def test_the_record_reads_back_as_written(machine: Machine) -> None:
    _plan, record = _record(machine)
    again = parse_record(record_text(record).encode())
    assert again == record
    assert "2 pass" not in describe_record(
        again
    ) and "1 pass, the last started 2026-12-07" in describe_record(again)


def test_its_layout_plans_the_same_partitions_again(machine: Machine) -> None:
    plan, record = _record(machine)
    again = plan_layout(machine, DISK, warm_layout(LayoutChoices(), record))
    geometry = [(p.device, p.start, p.size, p.fstype, p.uuid) for p in plan.partitions]
    assert [(p.device, p.start, p.size, p.fstype, p.uuid) for p in again.partitions] == geometry


def test_a_filesystem_that_outgrew_its_partition_is_refused(machine: Machine) -> None:
    plan, record = _record(machine)
    root = next(p for p in plan.partitions if p.mountpoint == "/")
    grown = dataclasses.replace(
        machine,
        filesystems=tuple(
            dataclasses.replace(fs, used=root.size + 1) if fs.mountpoint == "/" else fs
            for fs in machine.filesystems
        ),
    )
    with pytest.raises(LayoutError, match="/"):
        plan_layout(grown, DISK, warm_layout(LayoutChoices(), record))


def test_another_source_is_named(machine: Machine) -> None:
    _plan, record = _record(machine)
    assert other_source(record, machine) == ""
    other = dataclasses.replace(
        machine,
        filesystems=tuple(
            dataclasses.replace(fs, uuid="00000000-0000-4000-8000-000000000000") for fs in machine.filesystems
        ),
    )
    assert "UUID" in other_source(record, other)


def _doc(machine: Machine) -> dict[str, Any]:
    _plan, record = _record(machine)
    doc: dict[str, Any] = json.loads(record_text(record))
    return doc


@pytest.mark.parametrize(
    ("change", "said"),
    [
        (lambda d: d.update(version=2), "version"),
        (lambda d: d.update(table="bsd"), "table"),
        (lambda d: d.update(extra=1), "unknown keys"),
        (lambda d: d["layout"][0].update(size=-5), "not a size"),
        (lambda d: d["layout"][0].update(mode="rest"), "not a size"),
        (lambda d: d["layout"][0].update(disk=99), "disk"),
        (lambda d: d["passes"][0].update(bytes=-1), "impossible"),
        (lambda d: d["filesystems"][0].update(mountpoint="etc"), "mount point"),
        (lambda d: d.update(passes="many"), "not a record"),
    ],
)
def test_a_record_p2v_did_not_write_is_refused(
    machine: Machine, change: Callable[[dict[str, Any]], None], said: str
) -> None:
    doc = _doc(machine)
    change(doc)
    with pytest.raises(WarmRecordError, match=said):
        parse_record(json.dumps(doc).encode())


@pytest.mark.parametrize("data", [b"\xff\xfe", b"[" * 100000, b"{}", b"x" * (300 * 1024), b"null"])
def test_garbage_is_refused(data: bytes) -> None:
    with pytest.raises(WarmRecordError):
        parse_record(data)


def test_the_confirm_screen_says_what_the_final_pass_sends(machine: Machine) -> None:
    plan, record = _record(machine)
    state = WarmState(record, 4, 556)
    assert "556 B (4 files changed since 2026-12-07" in warm_summary(state)[1]
    lines = [line for _kind, line in confirm_summary(plan, FixupSet(), "poweroff", "web01", state)]
    assert lines[0] == "A warm copy is on web01:" and "The final pass sends about 556 B" in lines[2]
    assert lines[0] != next(line for _kind, line in confirm_summary(plan, FixupSet(), "poweroff", "web01"))
