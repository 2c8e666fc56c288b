"""The record a warm pass leaves on the target, and what a later run makes of it.

A warm pass copies a server while it runs. It writes :data:`WARM_RECORD` on
the target (the bootstrap OS's RAM, beside the filesystems it prepared):
which server, which filesystems (mount point, UUID, type), the layout as
fixed sizes, and each pass (when, how long, how much). The next pass and
the cutover (the same answers on the live image) read it back and plan with
that layout, so that the target's partitions and filesystems are the plan's
and the executor resumes instead of starting over; a filesystem that grew
out of its partition is refused, with the reason, before anything is
written.
"""

from __future__ import annotations

import dataclasses
import json
import time
from dataclasses import dataclass
from typing import Any

from .machine import Machine
from .plan import SIDE_MOUNTS, LayoutChoices, LayoutRequest, Plan
from .serialize import from_jsonable, to_jsonable
from .units import format_size
from .validate import printable

WARM_RECORD = f"{SIDE_MOUNTS}/warm.json"
RECORD_LIMIT = 256 * 1024
"""Bytes read at most of the record (it is a few KiB)."""
VERSION = 1
MAX_PASSES = 1000


class WarmRecordError(ValueError):
    """The record on the target is not one p2v wrote."""


@dataclass(frozen=True)
class WarmFilesystem:
    mountpoint: str
    uuid: str
    fstype: str


@dataclass(frozen=True)
class WarmPass:
    started: int
    """When it started, seconds since the epoch (this machine's clock)."""
    source_clock: int
    """The source's clock when it started: files changed after it (their
    ctime, the source's clock) are what the next pass sends."""
    seconds: float
    bytes: int
    """Bytes of file contents rsync handled."""
    filesystems: tuple[str, ...]
    """Mount points it copied."""


@dataclass(frozen=True)
class WarmRecord:
    version: int
    source: str
    """The server's hostname, as it said it."""
    filesystems: tuple[WarmFilesystem, ...]
    table: str
    layout: tuple[LayoutRequest, ...]
    passes: tuple[WarmPass, ...] = ()

    @property
    def last(self) -> WarmPass | None:
        return self.passes[-1] if self.passes else None


def new_record(machine: Machine, plan: Plan, layout: tuple[LayoutRequest, ...]) -> WarmRecord:
    planned = {p.mountpoint for p in plan.partitions if p.mountpoint}
    filesystems = tuple(
        WarmFilesystem(fs.mountpoint, fs.uuid, fs.fstype)
        for fs in machine.filesystems
        if fs.mountpoint and fs.mountpoint in planned
    )
    table = plan.disks[0].table if plan.disks else "auto"
    return WarmRecord(VERSION, machine.os.hostname, filesystems, table, layout)


def with_pass(record: WarmRecord, done: WarmPass) -> WarmRecord:
    return dataclasses.replace(record, passes=(*record.passes, done)[-MAX_PASSES:])


def record_text(record: WarmRecord) -> str:
    return json.dumps(to_jsonable(record), indent=1) + "\n"


def parse_record(data: bytes) -> WarmRecord:
    """The record as written by :func:`record_text`; anything else raises
    :class:`WarmRecordError`."""
    if len(data) > RECORD_LIMIT:
        raise WarmRecordError(f"{WARM_RECORD} is larger than {RECORD_LIMIT} bytes")
    try:
        doc: Any = json.loads(data.decode("utf-8"))
        record = from_jsonable(WarmRecord, doc)
    except (UnicodeDecodeError, json.JSONDecodeError, ValueError, TypeError, RecursionError) as e:
        raise WarmRecordError(f"{WARM_RECORD} is not a record p2v wrote: {str(e)[:200]}") from None
    if record.version != VERSION:
        raise WarmRecordError(f"{WARM_RECORD} has version {record.version!r}, this p2v reads {VERSION}")
    if record.table not in ("gpt", "msdos"):
        raise WarmRecordError(f"{WARM_RECORD}: table {printable(str(record.table))!r} is not gpt or msdos")
    for r in record.layout:
        if r.mode != "size" or not isinstance(r.size, int) or r.size <= 0 or r.size > 2**50:
            raise WarmRecordError(
                f"{WARM_RECORD}: the layout of {printable(str(r.mountpoint))} is not a size"
            )
        if not isinstance(r.disk, int) or not 0 <= r.disk < 16:
            raise WarmRecordError(f"{WARM_RECORD}: disk {r.disk!r} of {printable(str(r.mountpoint))}")
    for fs in record.filesystems:
        if not isinstance(fs.mountpoint, str) or not fs.mountpoint.startswith("/"):
            raise WarmRecordError(f"{WARM_RECORD}: a filesystem without a mount point")
    for p in record.passes:
        numbers = (p.started, p.source_clock, p.bytes)
        if not all(isinstance(n, int) and 0 <= n < 2**62 for n in numbers) or not p.seconds >= 0:
            raise WarmRecordError(f"{WARM_RECORD}: a pass with impossible numbers")
    return record


def other_source(record: WarmRecord, machine: Machine) -> str:
    """Why the warm copy is not of this machine's filesystems; "" when it is."""
    for fs in record.filesystems:
        now = machine.filesystem_at(fs.mountpoint)
        if now is None:
            return f"the warm copy holds {fs.mountpoint}, which this source does not mount"
        if fs.uuid and now.uuid.lower() != fs.uuid.lower():
            return (
                f"the warm copy's {fs.mountpoint} has UUID {fs.uuid}, this source's has {now.uuid or 'none'}"
            )
    return ""


def warm_layout(choices: LayoutChoices, record: WarmRecord) -> LayoutChoices:
    """The layout the warm copy was made with, as fixed sizes: the same
    plan again, so that the target is resumed. No headroom: the question
    now is only whether the data still fits."""
    return dataclasses.replace(
        choices,
        explicit=record.layout,
        table=record.table,  # type: ignore[arg-type]  # checked by parse_record
        headroom=0.0,
    )


def _when(epoch: int) -> str:
    return time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(epoch))


def describe_record(record: WarmRecord) -> str:
    """One or two lines for the console, the wizard and the report."""
    last = record.last
    source = printable(record.source) or "the source"
    if last is None:
        return f"a warm copy of {source} was prepared on the target, but no pass finished"
    count = len(record.passes)
    return (
        f"a warm copy of {source} is on the target: {count} pass{'es' if count > 1 else ''}, "
        f"the last started {_when(last.started)} ({format_size(last.bytes)} in {last.seconds:.0f} s)"
    )


@dataclass(frozen=True)
class WarmState:
    """A warm copy found on the target, and what the final pass will send."""

    record: WarmRecord
    files: int | None = None
    """Files changed on the source since the last pass started (None: not measured)."""
    bytes: int | None = None


def warm_summary(state: WarmState) -> list[str]:
    """Lines for the plan and the Confirm screen."""
    lines = [describe_record(state.record) + "."]
    last = state.record.last
    if last is not None and state.files is not None and state.bytes is not None:
        lines.append(
            f"The final pass sends about {format_size(state.bytes)} ({state.files} files changed since "
            f"{_when(last.source_clock)}); the partitions and filesystems are kept."
        )
    return lines


def refit_refusal(record: WarmRecord, why: str) -> str:
    """The refusal when the source no longer fits the warm copy's layout."""
    return (
        f"the source no longer fits the layout of the warm copy on the target: {why}\n"
        f"({describe_record(record)}.) Nothing was written. To migrate with a new layout, remove "
        f"{WARM_RECORD} on the target and run again: the target disks are then prepared from scratch "
        "and everything is copied again."
    )
