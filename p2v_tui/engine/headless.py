"""One migration from answers to result, without a screen.

The flow is the same for a real machine and the built-in demo; what differs
(real SSH target or simulated, probed machine or example) comes in as
:class:`Parts`, chosen once by the composition root (app).
"""

from __future__ import annotations

import contextlib
import json
import logging
import signal
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import TextIO

from ..model.answers import Answers
from ..model.describe import describe_fixups, describe_machine, describe_plan
from ..model.events import Event, Finished, event_to_json
from ..model.validate import printable
from ..system.answers_io import dump_answers
from ..system.report import Report
from ..system.runner import CommandError
from ..system.target import TargetError, TargetLost
from ..system.transfer import Cancelled, TransferError
from .console import ConsoleRenderer
from .executor import ExecutionError
from .prepare import PrepareError
from .session import Parts, PlanRefused, Session, stopped

log = logging.getLogger(__name__)

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_NOT_CONFIRMED = 3
EXIT_STOPPED = 4
"""Stopped before the end, resumable: cancelled (Ctrl-C) or the link to
the target lost. The source is untouched; the same command again resumes."""


@dataclass(frozen=True)
class Options:
    report_dir: Path
    yes: bool = False
    dry_run: bool = False
    events: TextIO | None = None
    console: TextIO | None = None
    verbose: bool = False


@contextlib.contextmanager
def _sigint_cancels(cancel: threading.Event) -> Iterator[None]:
    """First Ctrl-C asks the executor to stop safely; a second one aborts."""

    def handler(signum: int, frame: FrameType | None) -> None:
        if cancel.is_set():
            raise KeyboardInterrupt
        cancel.set()

    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def run(answers: Answers, parts: Parts, options: Options) -> int:
    report = Report(options.report_dir)
    console = ConsoleRenderer(options.console, verbose=options.verbose)
    cancel = threading.Event()

    def emit(event: Event) -> None:
        report.event(event)
        console(event)
        if options.events is not None:
            options.events.write(json.dumps(event_to_json(event)) + "\n")
            options.events.flush()

    try:
        with _sigint_cancels(cancel):
            code = _run(answers, parts=parts, options=options, report=report, emit=emit, cancel=cancel)
    finally:
        report.close()
    return code


def _say(out: TextIO | None, text: str) -> None:
    if out is not None:
        out.write(printable(text, lines=True))  # names, labels and diffs from the source
        out.flush()


def _run(
    answers: Answers,
    *,
    parts: Parts,
    options: Options,
    report: Report,
    emit: Callable[[Event], None],
    cancel: threading.Event,
) -> int:
    out = options.console
    if parts.label:
        _say(out, parts.label + "\n")
    report.write_text("answers.yaml", dump_answers(answers))
    destructive = not options.dry_run
    if destructive and not (answers.confirm or options.yes):
        message = (
            "refusing to erase the target disks: put 'confirm: true' in the answers file or pass --yes "
            "(or use --dry-run to see the plan)"
        )
        emit(Finished(False, message, str(report.directory)))
        return EXIT_NOT_CONFIRMED
    session = Session(parts, report, emit, cancel)
    try:
        session.connect(answers)
        machine = session.probe(answers)
        _say(out, describe_machine(machine))
        try:
            prepared = session.prepare(answers)
        except PlanRefused as e:
            report.write_result(f"failed before any write:\n{e}\n")
            emit(Finished(False, str(e), str(report.directory)))
            return EXIT_FAILED
        _say(out, describe_plan(prepared.plan, prepared.facts))
        _say(out, describe_fixups(prepared.fixups))
        for edit in prepared.fixups.edits:
            _say(out, edit.shown_diff())
        if prepared.refusal:
            report.write_result(f"failed before any write:\n{prepared.refusal}\n")
            emit(Finished(False, f"refused, nothing was written: {prepared.refusal}", str(report.directory)))
            return EXIT_FAILED
        if options.dry_run:
            report.write_result("dry run: nothing was written\n")
            emit(
                Finished(
                    True, f"dry run: nothing was written; report in {report.directory}", str(report.directory)
                )
            )
            return EXIT_OK
        outcome = session.execute(answers, prepared)
        facts = outcome.prepared.facts
        result = outcome.next_steps
        emit(Finished(True, f"{machine.os.hostname or 'the source'} migrated into {facts.name}.\n{result}\n"
                      f"Report: {report.directory}", str(report.directory)))  # fmt: skip
        return EXIT_OK
    except (Cancelled, TargetLost) as e:
        reason = f"cancelled: {e}" if isinstance(e, Cancelled) else str(e)
        emit(Finished(False, stopped(report, reason), str(report.directory), resumable=True))
        return EXIT_STOPPED
    except (TargetError, CommandError, PrepareError, ExecutionError, TransferError, OSError) as e:
        log.debug("failure", exc_info=True)
        report.write_result(f"failed: {e}\n")
        emit(Finished(False, f"{e}\nDebug log: {report.directory / 'debug.log'}", str(report.directory)))
        return EXIT_FAILED
    finally:
        session.close()
