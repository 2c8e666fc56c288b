"""Rendering events for a person at a terminal or a serial console (headless
mode): one line per step, a progress line, warnings and errors."""

from __future__ import annotations

import sys
import time
from typing import TextIO

from ..model.events import (
    Event,
    FileChanged,
    Finished,
    Log,
    Progress,
    StepFinished,
    StepStarted,
    printable_event,
)
from ..model.units import format_size


def format_duration(seconds: float | None) -> str:
    if seconds is None:
        return "--:--"
    s = int(seconds)
    h, rest = divmod(s, 3600)
    m, s = divmod(rest, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m:02d}:{s:02d}"


def format_progress(p: Progress, width: int = 80) -> str:
    pct = 100 * p.done / p.total if p.total else 0.0
    pct = min(pct, 99.9) if p.done < p.total else min(pct, 100.0)
    head = (
        f"{pct:5.1f}% {format_size(p.done)}/{format_size(p.total)} "
        f"{format_size(int(p.rate))}/s ETA {format_duration(p.eta)} "
    )
    room = max(0, width - len(head) - 1)
    current = p.current if len(p.current) <= room else "..." + p.current[-(room - 3) :] if room > 3 else ""
    return head + current


class ConsoleRenderer:
    """Writes events to ``stream``. On a terminal the progress line is
    redrawn in place; otherwise a progress line is printed every
    ``interval`` seconds so logs stay readable."""

    def __init__(
        self, stream: TextIO | None = None, *, interval: float = 10.0, verbose: bool = False
    ) -> None:
        self.stream = stream or sys.stderr
        self.tty = self.stream.isatty()
        self.interval = interval
        self.verbose = verbose
        self._last = 0.0
        self._progress_shown = False

    def _line(self, text: str) -> None:
        if self._progress_shown and self.tty:
            self.stream.write("\r\x1b[K")
            self._progress_shown = False
        self.stream.write(text + "\n")
        self.stream.flush()

    def __call__(self, event: Event) -> None:
        event = printable_event(event)
        if isinstance(event, StepStarted):
            self._line(f"==> {event.title}")
        elif isinstance(event, StepFinished):
            if not event.ok:
                self._line(f"    FAILED: {event.message}")
            elif event.skipped:
                self._line(f"    skipped {event.message}")
        elif isinstance(event, Progress):
            now = time.monotonic()
            if self.tty:
                self.stream.write("\r\x1b[K" + format_progress(event))
                self.stream.flush()
                self._progress_shown = True
            elif now - self._last >= self.interval or (event.total and event.done >= event.total):
                self._last = now
                self._line("    " + format_progress(event, 76))
        elif isinstance(event, Log):
            if event.level in ("warning", "error"):
                self._line(f"    {event.level.upper()}: {event.message}")
            elif event.level == "info" or self.verbose:
                self._line(f"    {event.message}")
        elif isinstance(event, FileChanged):
            self._line(f"    changed {event.path} ({event.fixup})")
        elif isinstance(event, Finished):
            self._line(
                ("DONE: " if event.ok else "STOPPED: " if event.resumable else "FAILED: ") + event.message
            )
