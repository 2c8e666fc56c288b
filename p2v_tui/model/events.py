"""Events the executor emits. The wizard renders them, headless mode prints
them, ``--events`` writes them as JSON lines, the report keeps them all."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from .validate import printable

Level = Literal["debug", "info", "warning", "error"]


@dataclass(frozen=True)
class StepStarted:
    step: str
    """Stable id: ``preflight``, ``partition``, ``mkfs``, ``mount``, ``copy``,
    ``swapfiles``, ``fixups``, ``bootloader``, ``unmount``, ``after``."""
    title: str


@dataclass(frozen=True)
class StepFinished:
    step: str
    ok: bool
    message: str = ""
    skipped: bool = False


@dataclass(frozen=True)
class Progress:
    step: str
    done: int
    """Bytes done over all copy jobs."""
    total: int
    rate: float
    """Bytes per second, smoothed."""
    eta: float | None
    """Seconds left, None until a rate is known."""
    current: str = ""
    """File being copied, relative to the migrated system's root."""


@dataclass(frozen=True)
class Log:
    level: Level
    message: str


@dataclass(frozen=True)
class FileChanged:
    """A fixup was applied on the target; ``diff`` is what changed."""

    path: str
    fixup: str
    diff: str


@dataclass(frozen=True)
class Finished:
    ok: bool
    message: str
    report: str = ""
    resumable: bool = False
    """Stopped before the end (cancelled, or the link to the target lost),
    the source untouched: the same run again resumes."""


Event = StepStarted | StepFinished | Progress | Log | FileChanged | Finished

_TYPES: dict[type, str] = {
    StepStarted: "step_started",
    StepFinished: "step_finished",
    Progress: "progress",
    Log: "log",
    FileChanged: "file_changed",
    Finished: "finished",
}


def event_to_json(event: Event) -> dict[str, Any]:
    """``{"type": "progress", "done": ..., ...}`` for JSON-lines consumers."""
    return {"type": _TYPES[type(event)], **dataclasses.asdict(event)}


EventSink = Callable[[Event], None]

_SEVERAL_LINES = frozenset({"message", "diff"})


def printable_event(event: Event) -> Event:
    """``event`` as a person is shown it: every text made printable
    (model.validate.printable). Messages carry the target's stderr, progress
    the source's file names; either may hold escape sequences. Messages and
    diffs keep their lines; names and titles are one line."""
    changes: dict[str, Any] = {
        f.name: printable(value, lines=f.name in _SEVERAL_LINES)
        for f in dataclasses.fields(event)
        if isinstance(value := getattr(event, f.name), str)
    }
    return dataclasses.replace(event, **changes)
