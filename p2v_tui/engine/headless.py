"""One migration from answers to result, without a screen.

The flow is the same for a real machine and the built-in demo; what differs
(real SSH target or simulated, probed machine or example) comes in as
:class:`Parts`, chosen once by the composition root (app). The run ends
as the wizard's does, in :mod:`p2v_tui.engine.ending` (result.txt, the last
line, the exit code).
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
from ..model.describe import describe_cluster, describe_fixups, describe_machine, describe_plan
from ..model.events import Event, Finished, event_to_json
from ..model.validate import printable
from ..model.warm import describe_record
from ..system.report import Report
from . import ending
from .prepare import Prepared
from .session import Parts, Session
from .terminal import ConsoleRenderer

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Options:
    report_dir: Path
    yes: bool = False
    dry_run: bool = False
    events: TextIO | None = None
    console: TextIO | None = None
    verbose: bool = False
    warm: bool = False
    """A warm pass from the running source (``source.running``)."""


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
    if parts.label:
        _say(options.console, parts.label + "\n")
    session = Session(parts, report, emit, cancel)
    try:
        try:
            ended = _migrate(answers, session, options)
        except Exception as e:  # a defect too: said in one line, its traceback in debug.log
            ended = ending.raised(report, e)
        emit(Finished(ended.ok, ended.console, ended.report, resumable=ended.resumable))
        return ended.code
    finally:
        session.close()


def _migrate(answers: Answers, session: Session, options: Options) -> ending.Ending:
    """Every step, showing the machine, the plan and the changes; how the
    run ended (a failure raises)."""
    out = options.console
    report = session.report
    session.write_answers(answers)
    if not options.dry_run and not (answers.confirm or options.yes):
        return ending.not_confirmed(report)
    if answers.cluster is not None:
        return _migrate_on_cluster(answers, session, options)
    if options.warm:
        return _warm_pass(answers, session, options)
    session.connect(answers)
    machine = session.probe(answers)
    _say(out, describe_machine(machine))
    prepared = session.prepare(answers)
    _show_prepared(out, prepared)
    if prepared.refusal:
        return ending.refused(report, prepared.refusal)
    if options.dry_run:
        return ending.dry_run(report)
    return ending.migrated(report, session.execute(answers, prepared))


def _warm_pass(answers: Answers, session: Session, options: Options) -> ending.Ending:
    """A warm pass: the same connection, probe (of the running source) and
    plan as a migration, then the copy alone; the source keeps running."""
    out = options.console
    connected = session.connect(answers)
    if connected.warm is not None:
        _say(out, describe_record(connected.warm) + "\n")
    machine = session.probe(answers)
    _say(out, describe_machine(machine))
    prepared = session.prepare(answers)
    _say(out, describe_plan(prepared.plan, prepared.facts))
    if options.dry_run:
        return ending.dry_run(session.report)
    session.warm_pass(answers, prepared)
    record = session.connected.warm if session.connected is not None else None
    line = describe_record(record) if record is not None else "no record"
    return ending.warm_done(session.report, prepared.facts.name, line)


def _show_prepared(out: TextIO | None, prepared: Prepared) -> None:
    """The plan, the changes and each diff (secrets masked), before any write."""
    _say(out, describe_plan(prepared.plan, prepared.facts))
    _say(out, describe_fixups(prepared.fixups))
    for edit in prepared.fixups.edits:
        _say(out, edit.shown_diff())


def _migrate_on_cluster(answers: Answers, session: Session, options: Options) -> ending.Ending:
    """The same run on an instance p2v creates: every check and the plan
    on the instance as it will be before anything is created, then the
    creation, the migration, and the hand-over with its proof."""
    out = options.console
    report = session.report
    cluster = answers.cluster
    assert cluster is not None  # the caller's test
    machine = session.probe(answers)
    _say(out, describe_machine(machine))
    ready = session.check_cluster(answers)
    _say(out, describe_cluster(cluster, ready.spec))
    preview = session.plan_on(answers, ready)
    _say(out, describe_plan(preview.plan, preview.facts))
    if preview.refusal:
        return ending.refused(report, preview.refusal)
    if options.dry_run:
        _say(out, "dry run: the cluster accepts the instance (Ganeti's own dry run); nothing was created\n")
        return ending.dry_run(report)

    try:
        outcome = session.migrate_on_cluster(answers, ready, planned=lambda p: _show_prepared(out, p))
    except Exception as e:  # stopped or failed: a new run goes on from the instance created
        return ending.cluster_raised(report, e, resume=session.resume_on_created)
    return ending.migrated(report, outcome)
