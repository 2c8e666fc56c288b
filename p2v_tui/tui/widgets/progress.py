"""What the transfer screen shows while the executor works: the steps as a
checklist, the copy's progress, and the log.

The widgets only hold state and draw it; the screen feeds them the
executor's events on the urwid loop (never from the worker thread).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import urwid

from ...model.events import Level, Log, Progress, StepFinished, StepStarted
from ...model.units import format_size
from .common import FitLine, Markup, last_page_top, truncate_end, truncate_middle
from .theme import Glyphs


def format_eta(seconds: float | None) -> str:
    """``h:mm:ss``, or ``--`` while no rate is known."""
    if seconds is None or not math.isfinite(seconds) or seconds < 0:
        return "--"
    total = round(seconds)
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}"


def percent(done: int, total: int) -> int:
    """Whole percent, 100 only when done; 0 when the total is unknown."""
    if total <= 0:
        return 0
    if done >= total:
        return 100
    return min(99, done * 100 // total)


def bar_text(done: int, total: int, width: int, glyphs: Glyphs) -> tuple[str, str]:
    """The filled and empty parts of a ``width``-cell progress bar."""
    filled = 0 if total <= 0 else min(width, done * width // total)
    return glyphs.progress_done * filled, glyphs.progress_todo * (width - filled)


class TransferProgress(urwid.WidgetWrap):  # type: ignore[misc]
    """Bytes done/total with percentage, a bar, rate and ETA, current file."""

    def __init__(self, glyphs: Glyphs) -> None:
        self.glyphs = glyphs
        self._event: Progress | None = None
        self._file = ""
        self._lines = [FitLine(make) for make in (self._totals, self._bar, self._speed, self._current)]
        super().__init__(urwid.Pile(self._lines))

    def update(self, event: Progress, current_file: str | None = None) -> None:
        self._event = event
        self._file = current_file if current_file is not None else event.current
        for line in self._lines:
            line.invalidate()

    def _totals(self, width: int) -> Markup:
        e = self._event
        if e is None:
            return " Waiting for the copy to start"
        pct = percent(e.done, e.total)
        return truncate_end(f" {format_size(e.done)} of {format_size(e.total)} ({pct}%)", width, "")

    def _bar(self, width: int) -> Markup:
        e = self._event
        done, total = (e.done, e.total) if e is not None else (0, 0)
        label = f" {percent(done, total):3d}%"
        filled, empty = bar_text(done, total, max(0, width - len(label) - 1), self.glyphs)
        return [" ", ("progress.done", filled), ("progress.todo", empty), label]

    def _speed(self, width: int) -> Markup:
        e = self._event
        rate = f"{format_size(int(e.rate))}/s" if e is not None and e.rate > 0 else "--"
        eta = format_eta(e.eta if e is not None else None)
        return truncate_end(f" Rate {rate}   ETA {eta}", width, "")

    def _current(self, width: int) -> Markup:
        prefix = " File "
        return prefix + truncate_middle(self._file, width - len(prefix), self.glyphs.ellipsis)


StepState = str
"""``pending``, ``running``, ``done``, ``failed`` or ``skipped``."""


@dataclass
class _Step:
    title: str
    state: StepState = "pending"
    message: str = ""


class StepChecklist(urwid.WidgetWrap):  # type: ignore[misc]
    """The executor's steps, each with its mark; a failed step shows its
    message. Steps not announced up front are added when they start."""

    def __init__(self, steps: Sequence[tuple[str, str]], glyphs: Glyphs) -> None:
        self.glyphs = glyphs
        self._steps: dict[str, _Step] = {sid: _Step(title) for sid, title in steps}
        self._pile = urwid.Pile([])
        self._redraw()
        super().__init__(self._pile)

    def state(self, step_id: str) -> StepState:
        return self._steps[step_id].state

    def reset(self) -> None:
        """Every step pending again (a run started anew)."""
        for step in self._steps.values():
            step.state = "pending"
            step.message = ""
        self._redraw()

    def start(self, step_id: str, title: str | None = None) -> None:
        step = self._steps.setdefault(step_id, _Step(title or step_id))
        if title:
            step.title = title
        step.state = "running"
        step.message = ""
        self._redraw()

    def finish(self, step_id: str, ok: bool, message: str = "", skipped: bool = False) -> None:
        step = self._steps.setdefault(step_id, _Step(step_id))
        step.state = "skipped" if skipped else "done" if ok else "failed"
        step.message = message
        self._redraw()

    def handle(self, event: StepStarted | StepFinished) -> None:
        """Apply one executor event."""
        if isinstance(event, StepStarted):
            self.start(event.step, event.title)
        else:
            self.finish(event.step, event.ok, event.message, event.skipped)

    def _mark(self, state: StepState) -> tuple[str, str]:
        g = self.glyphs
        return {
            "pending": ("body", g.pending),
            "running": ("check.running", g.arrow),
            "done": ("check.done", g.check),
            "failed": ("check.failed", g.cross),
            "skipped": ("check.skipped", g.skipped),
        }[state]

    def _redraw(self) -> None:
        rows = []
        for step in self._steps.values():
            attr, mark = self._mark(step.state)
            markup: list[Markup] = [" ", (attr, mark), " ", step.title]
            if step.message:
                markup += ["  ", (attr, step.message)]
            rows.append((urwid.Text(markup), self._pile.options()))
        self._pile.contents[:] = rows


_PREFIX: dict[Level, str] = {"debug": "", "info": "", "warning": "warning: ", "error": "error: "}


class LogPane(urwid.WidgetWrap):  # type: ignore[misc]
    """The last ``max_lines`` log lines. It follows new lines unless the
    person scrolled up to read, and follows again once back at the end
    (End, or scrolling down to it). Warnings and errors say so in words
    too, for monochrome terminals."""

    def __init__(self, max_lines: int = 500) -> None:
        self.max_lines = max_lines
        self._walker = urwid.SimpleListWalker([])
        self._listbox = urwid.ListBox(self._walker)
        self._follow = True
        self._top = 0
        super().__init__(self._listbox)

    def append(self, message: str, level: Level = "info") -> None:
        self._walker.append(urwid.Text((f"log.{level}", _PREFIX[level] + message)))
        excess = len(self._walker) - self.max_lines
        if excess > 0:
            del self._walker[:excess]
            self._top = max(0, self._top - excess)
        self._invalidate()

    def add(self, event: Log) -> None:
        self.append(event.message, event.level)

    @property
    def lines(self) -> list[str]:
        return [str(t.text) for t in self._walker]

    @property
    def following(self) -> bool:
        return self._follow

    def selectable(self) -> bool:
        return True

    def render(self, size: tuple[int, int], focus: bool = False) -> Any:
        if self._walker:
            if self._follow:
                self._listbox.set_focus(len(self._walker) - 1)
                self._listbox.set_focus_valign("bottom")
            else:
                self._listbox.set_focus(min(self._top, len(self._walker) - 1))
                self._listbox.set_focus_valign("top")
        return super().render(size, focus)

    def keypress(self, size: tuple[int, int], key: str) -> str | None:
        cols, rows = size
        last = last_page_top(list(self._walker), cols, rows)
        top = last if self._follow else self._top
        page = max(1, rows - 1)
        moves = {"up": top - 1, "down": top + 1, "page up": top - page, "page down": top + page, "home": 0}
        if key == "end":
            self._follow = True
        elif key in moves:
            self._top = max(0, min(last, moves[key]))
            self._follow = self._top >= last
        else:
            return key
        self._invalidate()
        return None
