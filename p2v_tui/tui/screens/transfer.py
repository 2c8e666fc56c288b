"""Transfer: the migration running, shown as the executor's steps, the
copy's progress and the log. Cancelling asks first, then lets the executor
stop at a safe point (the target stays resumable, the source untouched).
When the link to the target is lost the screen says so and stays: Retry
connects again and runs the executor again, which resumes; Continue goes
to Done.

Events arrive on the urwid loop, many per second during a copy; drawing
each would slow the terminal (a serial console at 115200 baud draws a full
screen in about 0.2 s). :class:`RedrawThrottle` decides when to draw.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import urwid

from ...engine.ending import Ending
from ...model.events import Event, FileChanged, Log, Progress, StepFinished, StepStarted
from ..controller import Controller
from ..widgets.dialogs import ask
from ..widgets.frame import WizardFrame
from ..widgets.progress import LogPane, StepChecklist, TransferProgress
from .base import STEPS, Navigator

EXECUTOR_STEPS = [
    ("preflight", "Checking the target"),
    ("partition", "Partitioning the target disks"),
    ("mkfs", "Creating filesystems"),
    ("mount", "Preparing the target filesystems"),
    ("copy", "Copying, filesystem by filesystem"),
    ("swapfiles", "Creating swap files"),
    ("fixups", "Adapting the configuration"),
    ("bootloader", "Initramfs and bootloader"),
    ("unmount", "Unmounting the target"),
    ("after", "After the transfer"),
]
"""The executor's steps in its order, shown before they start (each
StepStarted brings the executor's own title)."""

KEYS = [("Esc", "cancel"), ("Up/Down", "scroll the log"), ("End", "follow the log")]
LOST_KEYS = [("Esc", "retry"), ("F2", "continue to Done"), ("Up/Down", "scroll the log")]
"""While the link is lost the Back button is Retry (Esc presses it)."""

MIN_INTERVAL = 0.25
"""Seconds between redraws: at most about four a second."""


class RedrawThrottle:
    """Whether an event should be drawn now. Routine events (progress, info
    lines) are drawn when ``min_interval`` passed since the last draw, so
    while they keep coming the screen changes about four times a second and
    never less than once a second (events come at least that often during a
    copy); urgent ones (a step starts or ends, a warning) are drawn at once."""

    def __init__(self, min_interval: float = MIN_INTERVAL) -> None:
        self.min_interval = min_interval
        self._last: float | None = None
        self.pending = False
        """Something was not drawn yet."""

    def event(self, now: float, urgent: bool = False) -> bool:
        if urgent or self._last is None or now - self._last >= self.min_interval:
            self._last = now
            self.pending = False
            return True
        self.pending = True
        return False


def is_urgent(event: Event) -> bool:
    if isinstance(event, StepStarted | StepFinished):
        return True
    return isinstance(event, Log) and event.level in ("warning", "error")


class _TransferFrame(WizardFrame):
    """F10 while the migration runs means stop it (asked first), never
    leave it running behind the back of the person."""

    on_f10: Callable[[], bool] = staticmethod(lambda: False)

    def keypress(self, size: tuple[int, int], key: str) -> str | None:
        if key == "f10" and not self.modal_open and self.on_f10():
            return None
        return super().keypress(size, key)


class TransferScreen:
    index = STEPS.index("Transfer")

    def __init__(
        self, controller: Controller, nav: Navigator, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.controller = controller
        self.nav = nav
        self.clock = clock
        self.throttle = RedrawThrottle()
        self.outcome: Ending | None = None
        """How the migration ended, for the Done screen."""
        self._started = False
        self._cancelling = False
        self._title = "Migrating"
        g = nav.glyphs
        self.checklist = StepChecklist(EXECUTOR_STEPS, g)
        self.progress = TransferProgress(g)
        self.log = LogPane(500)
        body = urwid.Pile([("pack", self.checklist), ("pack", self.progress), self.log])
        self.frame = _TransferFrame(
            STEPS,
            self.index,
            "Migrating",
            body,
            KEYS,
            glyphs=g,
            on_back=self._back,
            on_continue=self._continue,
            back_label="Cancel",
        )
        self.frame.on_f10 = self._f10
        self.frame.set_continue(False, "migrating ...")

    @property
    def running(self) -> bool:
        return self._started and self.outcome is None

    @property
    def log_lines(self) -> list[str]:
        return self.log.lines

    def enter(self) -> None:
        """Start the migration, once: coming back here never starts another."""
        if self._started:
            return
        self._started = True
        prepared = self.controller.prepared
        name = prepared.facts.name if prepared is not None else "the instance"
        self._title = f"Migrating this machine into {name}"
        self.frame.set_title(self._title)
        self.frame.set_status("Starting ...")
        self.controller.start(self.on_event, self.finished)

    # -- events from the executor (on the urwid loop) ------------------------------

    def on_event(self, event: Event) -> None:
        if isinstance(event, StepStarted | StepFinished):
            self.checklist.handle(event)
            if isinstance(event, StepStarted) and not self._cancelling:
                self.frame.set_status(f"{event.title} ...")
            if isinstance(event, StepFinished) and not event.ok and not event.skipped:
                self.log.append(f"{event.step} failed: {event.message}", "error")
        elif isinstance(event, Progress):
            self.progress.update(event)
        elif isinstance(event, Log):
            self.log.add(event)
        elif isinstance(event, FileChanged):
            self.log.append(f"changed {event.path} ({event.fixup})")
        if self.throttle.event(self.clock(), is_urgent(event)):
            self.nav.redraw()

    def finished(self, outcome: Ending) -> None:
        self.outcome = outcome
        self.frame.close_modal()  # a cancel question still open is moot
        self.frame.set_continue(True)
        if outcome.lost:
            self._show_lost(outcome)
            self.nav.redraw()
            return
        self.frame.set_status(outcome.message)
        self.nav.redraw()
        self.nav.next()

    # -- a lost link ----------------------------------------------------------------

    def _show_lost(self, outcome: Ending) -> None:
        self.log.append(outcome.message, "error")
        self.frame.set_title("The link to the target was lost: nothing on this machine was changed")
        self.frame.set_error(
            "The link to the target was lost. Retry connects again and resumes the copy; "
            "Continue ends here (p2v run again later resumes too)."
        )
        self.frame.set_back_label("Retry")
        self.frame.set_keys(LOST_KEYS)
        self.frame.focus_back()  # the likely next step, once the link is back

    def retry(self) -> None:
        """Connect again and run the migration again: it resumes."""
        if self.outcome is None or not self.outcome.lost:
            return
        self.outcome = None
        self._cancelling = False
        self.checklist.reset()
        self.log.append("connecting to the target again")
        self.frame.set_title(self._title)
        self.frame.set_back_label("Cancel")
        self.frame.set_keys(KEYS)
        self.frame.set_continue(False, "migrating ...")
        self.frame.set_status("Connecting to the target again ...")
        self.nav.redraw()
        self.controller.retry(self.on_event, self.finished)

    def _back(self) -> None:
        if self.outcome is not None and self.outcome.lost:
            self.retry()
        else:
            self.ask_cancel()

    # -- cancelling -----------------------------------------------------------------

    def ask_cancel(self) -> None:
        if not self.running:
            return
        if self._cancelling:
            self.frame.set_status("Stopping at the next safe point ...")
            return
        ask(
            self.frame,
            "Stop the migration?\n\nIt stops at the next safe point. Nothing on this machine "
            "was changed; running p2v again with the same target resumes the copy.",
            "Stop",
            "Keep going",
            self._cancel_answered,
            title="Cancel",
            danger=True,
        )

    def _cancel_answered(self, yes: bool) -> None:
        if yes and self.running:
            self._cancelling = True
            self.controller.cancel()
            self.frame.set_status("Stopping at the next safe point ...")

    def _f10(self) -> bool:
        if self.running:
            self.ask_cancel()
            return True
        return False

    def _continue(self) -> None:
        if self.outcome is not None:
            self.nav.next()
