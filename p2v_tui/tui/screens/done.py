"""Done: how the migration ended and what to do now. On success, the Ganeti
commands that start the instance; on failure or cancel, the error, the last
log lines and how to resume; always where the report is."""

from __future__ import annotations

from typing import Any, Protocol

import urwid

from ...engine.ending import Ending
from ..controller import Controller
from ..widgets.frame import WizardFrame
from .base import STEPS, Navigator
from .confirm import indented

LOG_LINES = 8
"""Log lines shown after a failure (the report's debug.log has all)."""


class TransferResult(Protocol):
    """What the transfer screen leaves behind (TransferScreen is one)."""

    @property
    def outcome(self) -> Ending | None: ...

    @property
    def log_lines(self) -> list[str]: ...


def result_lines(
    outcome: Ending | None, log_lines: list[str], check: str, cross: str
) -> list[tuple[str, str]]:
    """(palette attribute, line) of the whole result."""
    if outcome is None:
        return [("error", f"{cross} The migration did not run.")]
    report = outcome.report or "(no report directory)"
    if outcome.ok:
        out = [("check.done", f"{check} {outcome.message[:1].upper()}{outcome.message[1:]}."), ("body", "")]
        out += [("body", line) for line in outcome.next_steps.splitlines()]
        out += [("body", ""), ("body", f"The report (plan, diffs, answers.yaml, debug.log) is in {report}")]
        return out
    head = (
        "Cancelled"
        if outcome.cancelled
        else "Stopped: the link to the target was lost"
        if outcome.lost
        else "The migration failed"
    )
    out = [("error", f"{cross} {head}:"), ("body", f"  {outcome.message}"), ("body", "")]
    if log_lines:
        out.append(("title", "Last log lines:"))
        out += [("body", f"  {line}") for line in log_lines[-LOG_LINES:]]
        out.append(("body", ""))
    out.append(("title", "What to try:"))
    if outcome.lost:
        out.append(("body", "  When the target is reachable again, run p2v again with the same target:"))
    elif not outcome.cancelled:
        out.append(("body", "  Fix what the error names, then run p2v again with the same target:"))
    out.append(("body", "  a new run resumes (partitions and filesystems already made are kept)."))
    out.append(("body", f"  The details are in {report}/debug.log"))
    return out


class DoneScreen:
    index = STEPS.index("Done")

    def __init__(self, controller: Controller, nav: Navigator, transfer: TransferResult) -> None:
        self.controller = controller
        self.nav = nav
        self.transfer = transfer
        self._walker = urwid.SimpleListWalker([])
        self.frame = WizardFrame(
            STEPS,
            self.index,
            "Done",
            urwid.ListBox(self._walker),
            [("Up/Down", "scroll"), ("Enter", "quit")],
            glyphs=nav.glyphs,
            on_continue=nav.quit,
            back_label=None,
            continue_label="Quit",
        )

    def enter(self) -> None:
        outcome = self.transfer.outcome
        g = self.nav.glyphs
        lines = result_lines(outcome, self.transfer.log_lines, g.check, g.cross)
        rows: list[Any] = [indented(attr, line) for attr, line in lines]
        self._walker[:] = rows
        if outcome is not None and outcome.ok:
            title = "Migrated"
        elif outcome is not None and outcome.cancelled:
            title = "Cancelled: the target can be resumed"
        elif outcome is not None and outcome.lost:
            title = "Stopped: the target can be resumed"
        else:
            title = "The migration failed"
        self.frame.set_title(title)
        self.frame.focus_buttons()
