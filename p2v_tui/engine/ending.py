"""How a run ends, whichever frontend drove it: result.txt, what the person
is told, and the exit code.

Headless mode and the wizard end every run through one of these functions,
so both write the same result.txt, classify a failure the same way and exit
with the same code. A run ends in one of these ways:

======================  ===========================================  ====
how                     result.txt starts with                       exit
======================  ===========================================  ====
migrated                ``migrated into NAME`` and the next steps    0
warm pass done          ``warm pass into NAME done:`` and next steps 0
dry run done            ``dry run: nothing was written``             0
refused before a write  ``failed before any write:``                 1
not confirmed           ``not confirmed: nothing was written``       3
cancelled               ``stopped: cancelled: ...``                  4
the link lost           ``stopped: the link to the target is lost``  4
failed (expected)       ``failed: ...``                              1
failed unexpectedly     ``failed: internal error (...)``             1
======================  ===========================================  ====

Each frontend says an :class:`Ending` its own way: headless mode prints
:attr:`Ending.console` (which also says where the report is), the wizard
shows :attr:`Ending.message` and :attr:`Ending.next_steps` on its Done
screen beside the report's directory.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from ..model.validate import printable
from ..system.report import Report
from ..system.runner import CommandError
from ..system.target import TargetError, TargetLost
from ..system.transfer import Cancelled, TransferError
from .cluster import ClusterRefused, HandOverFailed
from .executor import ExecutionError
from .exits import EXIT_FAILED, EXIT_NOT_CONFIRMED, EXIT_OK, EXIT_STOPPED, internal_error
from .prepare import PrepareError
from .session import Outcome, PlanRefused

log = logging.getLogger(__name__)

EXPECTED_FAILURES = (
    TargetError,
    CommandError,
    PrepareError,
    PlanRefused,
    ExecutionError,
    TransferError,
    ClusterRefused,
    HandOverFailed,
    OSError,
)
"""What a step may fail with in normal use: said to the person, not a crash.
(A :class:`~p2v_tui.system.target.TargetLost`, one of them, stops a run
rather than fails it, as ``Cancelled`` does.)"""

SAME_COMMAND = "run the same command again to resume"
"""How a stopped headless run goes on."""
SAME_TARGET = "p2v run again with the same target resumes"
"""How a stopped wizard run goes on."""

NOT_CONFIRMED = (
    "refusing to erase the target disks: put 'confirm: true' in the answers file or pass --yes "
    "(or use --dry-run to see the plan)"
)


@dataclass(frozen=True)
class Ending:
    """How a run ended, in words a person reads (control characters made
    visible)."""

    ok: bool
    cancelled: bool
    message: str
    """What happened, e.g. ``migrated into web01`` (the wizard shows it)."""
    next_steps: str
    """After a migration: the Ganeti commands the person runs now."""
    report: str
    """The report directory."""
    lost: bool = False
    """The link to the target was lost (or could not be made again)."""
    confirmed: bool = True
    """False: the run ended before erasing the target was confirmed."""
    console: str = ""
    """All headless mode prints: the message, the next steps, where the report is."""

    @property
    def resumable(self) -> bool:
        """Stopped before the end, the source untouched: a new run resumes."""
        return self.cancelled or self.lost

    @property
    def code(self) -> int:
        """The exit code (p2v --help)."""
        if self.ok:
            return EXIT_OK
        if self.resumable:
            return EXIT_STOPPED
        return EXIT_FAILED if self.confirmed else EXIT_NOT_CONFIRMED


def _ending(
    report: Report,
    ok: bool,
    message: str,
    console: str,
    *,
    next_steps: str = "",
    cancelled: bool = False,
    lost: bool = False,
    confirmed: bool = True,
) -> Ending:
    return Ending(
        ok,
        cancelled,
        printable(message, lines=True),
        printable(next_steps, lines=True),
        str(report.directory),
        lost=lost,
        confirmed=confirmed,
        console=printable(console, lines=True),
    )


def migrated(report: Report, outcome: Outcome) -> Ending:
    """The migration ran to its end."""
    prepared = outcome.prepared
    name = prepared.facts.name
    report.write_result(f"migrated into {name}\n{outcome.next_steps}\n")
    message = f"migrated into {name}"
    host = prepared.machine.os.hostname or "the source"
    console = f"{host} {message}.\n{outcome.next_steps}\nReport: {report.directory}"
    return _ending(report, True, message, console, next_steps=outcome.next_steps)


def warm_done(report: Report, name: str, record_line: str) -> Ending:
    """A warm pass ran to its end; the source still runs, the target holds the copy."""
    message = f"warm pass into {name} done: {record_line}"
    steps = (
        "Next:\n"
        "  the same command again: another warm pass sends what changed since this one\n"
        "  for the cutover: stop the services, boot the source from the live image and run\n"
        "  p2v --answers-file THE_SAME_ANSWERS --yes (without --warm): the final pass, fixups, boot"
    )
    report.write_result(f"{message}\n{steps}\n")
    return _ending(report, True, message, f"{message}\n{steps}\nReport: {report.directory}", next_steps=steps)


def dry_run(report: Report) -> Ending:
    """Probed, connected and planned, as asked; nothing written."""
    message = "dry run: nothing was written"
    report.write_result(message + "\n")
    return _ending(report, True, message, f"{message}; report in {report.directory}")


def refused(report: Report, reason: str) -> Ending:
    """A check refused the plan (``Prepared.refusal``) before any write."""
    report.write_result(f"failed before any write:\n{reason}\n")
    message = f"refused, nothing was written: {reason}"
    return _ending(report, False, message, message)


def not_confirmed(report: Report) -> Ending:
    """Ended before erasing the target disks was confirmed: headless mode
    without ``confirm: true`` or ``--yes``, or the wizard left before its
    transfer started."""
    message = "not confirmed: nothing was written to the target"
    report.write_result(message + "\n")
    return _ending(report, False, message, NOT_CONFIRMED, confirmed=False)


def _stopped(report: Report, reason: str, *, resume: str, cancelled: bool = False) -> Ending:
    """Stopped before the end (cancelled, or the link to the target lost);
    ``resume``: how to go on from where it stopped."""
    report.write_result(f"stopped: {reason}\n")
    message = f"{reason}. The source is untouched; {resume}."
    return _ending(report, False, message, message, cancelled=cancelled, lost=not cancelled)


def raised(report: Report, exc: Exception, *, resume: str = SAME_COMMAND) -> Ending:
    """A run that ended with ``exc``: stopped (cancelled, the link lost),
    refused before any write, failed, or failed unexpectedly (a defect: its
    traceback goes to debug.log)."""
    if isinstance(exc, Cancelled):
        return _stopped(report, f"cancelled: {exc}", resume=resume, cancelled=True)
    if isinstance(exc, TargetLost):
        return _stopped(report, str(exc), resume=resume)
    if isinstance(exc, PlanRefused):
        report.write_result(f"failed before any write:\n{exc}\n")
        return _ending(report, False, str(exc), str(exc))
    if isinstance(exc, EXPECTED_FAILURES):
        log.debug("the run failed", exc_info=exc)
        report.write_result(f"failed: {exc}\n")
        return _ending(report, False, str(exc), f"{exc}\nDebug log: {report.directory / 'debug.log'}")
    # debug level: headless mode's console shows p2v's warnings, never a traceback
    log.debug("the run failed unexpectedly", exc_info=exc)
    message = internal_error(exc, report.directory / "debug.log")
    report.write_result(f"failed: {message}\n")
    return _ending(report, False, message, message)


def cluster_raised(
    report: Report, exc: Exception, *, resume: str | None, before: str = SAME_COMMAND
) -> Ending:
    """A cluster run that ended with ``exc``: before the instance was
    created as :func:`raised` (``before``: how to go on); after, a plan the
    instance refuses as :func:`refused`, anything else with ``resume``
    (:attr:`~p2v_tui.engine.session.Session.resume_on_created`)."""
    if resume is None:
        return raised(report, exc, resume=before)
    if isinstance(exc, PlanRefused):
        return refused(report, str(exc))
    return raised(report, exc, resume=resume)


def not_reconnected(report: Report, exc: Exception, *, resume: str) -> Ending:
    """Connecting again to go on after the link was lost failed: the run
    stays stopped (and can be retried), unless ``exc`` is a defect."""
    if not isinstance(exc, EXPECTED_FAILURES):
        return raised(report, exc, resume=resume)
    log.debug("connecting again failed", exc_info=exc)
    return _stopped(report, f"could not connect to the target again: {exc}", resume=resume)
