"""One migration's steps, in the order a person or an answers file takes them.

Headless mode calls them one after another; the wizard calls each from the
screen that needs it (target → connect, source → probe, layout → plan,
transfer → execute). Both therefore talk to the target, probe the source,
plan and run the one executor the same way, and the report holds the same
files whichever drove the run.
"""

from __future__ import annotations

import logging
import shlex
import tempfile
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from ..model.answers import Answers, TargetAnswers
from ..model.describe import describe_fixups, describe_plan
from ..model.events import Event, Log
from ..model.fixups import plan_fixups
from ..model.machine import Machine
from ..model.plan import LayoutError
from ..model.target import InstanceFacts, TargetDisk
from ..model.validate import printable
from ..system.host import boot_id
from ..system.measure import measure_exclusions, space_hint
from ..system.report import Report
from ..system.sources import SourceAccess
from ..system.target import Target
from ..system.transfer import Transfer
from .executor import Executor, Migration
from .prepare import Prepared, ensure_other_machine, make_plan, read_facts, target_disks

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Parts:
    """The side of the world a run talks to, chosen once by the composition
    root (app): a real machine and SSH target, or the built-in demo."""

    connect: Callable[[Answers], Target]
    probe: Callable[[Answers], Machine]
    sources: Callable[[Machine], SourceAccess]
    transfer: Callable[[Target, Answers, Path], Transfer]
    scan_host_key: Callable[[TargetAnswers], str] | None = None
    """The target's host key (``"TYPE SHA256:..."``) before any pin, for a
    person to compare with the console; None where there is nothing to scan."""
    label: str = ""
    """Shown first, e.g. that the target is simulated."""


@dataclass(frozen=True)
class Connected:
    target: Target
    facts: InstanceFacts
    disks: tuple[TargetDisk, ...]
    """The instance's disks with the sizes the target reports."""


@dataclass(frozen=True)
class Outcome:
    prepared: Prepared
    """As executed: a UUID that could not be kept changes plan and fixups."""
    after: str
    """What the bootstrap OS was really told to do at the end."""
    next_steps: str
    """The Ganeti commands the person runs now (also in result.txt)."""


def next_steps(after: str, name: str, boot: str) -> str:
    """What the person does next, in Ganeti commands (``after``: what the
    bootstrap OS was really told to do). The name is quoted for a shell:
    these lines are copied into one."""
    name = shlex.quote(name)
    if boot == "own":
        hv = f"gnt-instance modify -H kernel_path=,initrd_path= {name}   (boot from the instance's own disk)"
    else:
        hv = (
            f"gnt-instance modify -H initrd_path=<the cluster's normal initrd> {name}   (not the ramboot one)"
        )
    stop = {
        "none": f"gnt-instance shutdown {name}",
        "poweroff": "(the bootstrap OS powers itself off)",
        "reboot": "(the bootstrap OS reboots; do the modify first)",
    }[after]
    return "Next:\n" + "\n".join(
        f"  {line}" for line in (stop, hv, f"gnt-instance start {name}", f"gnt-instance console {name}")
    )


def stopped(report: Report, reason: str, *, resume: str = "run the same command again to resume") -> str:
    """For a run stopped before its end (cancelled, or the link to the
    target lost): writes result.txt and returns what the person is told
    (``resume``: how to go on from where it stopped)."""
    report.write_result(f"stopped: {reason}\n")
    return printable(f"{reason}. The source is untouched; {resume}.", lines=True)


class PlanRefused(Exception):
    """The data does not fit (or the layout is impossible); nothing was
    written. The message says how much is missing and what could be excluded."""


def _both(first: Callable[[Event], None], second: Callable[[Event], None]) -> Callable[[Event], None]:
    def emit(event: Event) -> None:
        first(event)
        second(event)

    return emit


class Session:
    """Holds the target connection and the source access between steps; close
    it once (also after a failure)."""

    def __init__(self, parts: Parts, report: Report, emit: Callable[[Event], None], cancel: threading.Event):
        self.parts = parts
        self.report = report
        self.emit = emit
        self.cancel = cancel
        self.connected: Connected | None = None
        self.machine: Machine | None = None
        self._sources: SourceAccess | None = None
        self._measured: dict[str, int] = {}
        self._probed_disks: tuple[str, ...] | None = None

    def connect(self, answers: Answers) -> Connected:
        """Connect (host key checked before authentication), refuse this very
        machine, read the instance facts and the real disk sizes."""
        t: TargetAnswers = answers.target
        self.emit(Log("info", f"connecting to {t.user}@{t.host}:{t.port}"))
        if self.connected is not None:
            self.connected.target.close()
            self.connected = None
        target = self.parts.connect(answers)
        try:
            ensure_other_machine(target, boot_id())
            facts = read_facts(target, answers)
            disks = target_disks(target, facts)
        except BaseException:
            target.close()
            raise
        self.report.write_json("facts.json", facts)
        sizes = ", ".join(f"{d.path} {d.size} bytes" for d in disks)
        self.emit(Log("info", f"instance {facts.name}: {sizes}"))
        self.connected = Connected(target, facts, disks)
        return self.connected

    def probe(self, answers: Answers) -> Machine:
        """The source machine, read-only; probed again only when the choice
        of source disks changed (the wizard's Source screen)."""
        if self.machine is None or answers.source_disks != self._probed_disks:
            if self._sources is not None:
                self._sources.close()
                self._sources = None
                self._measured.clear()
            self.emit(Log("info", "probing the source disks (read-only)"))
            self.machine = self.parts.probe(answers)
            self._probed_disks = answers.source_disks
            self.report.write_machine(self.machine)
            self._sources = self.parts.sources(self.machine)
        return self.machine

    def exclusion_sizes(self, excludes: Sequence[str]) -> Mapping[str, int]:
        """Bytes each exclusion pattern leaves out of the copy (each measured
        once: the wizard plans again after every change)."""
        machine = self._need_machine()
        assert self._sources is not None
        new = [e for e in excludes if e not in self._measured]
        if new:
            self._measured.update(measure_exclusions(machine, self._sources, new))
        return {e: self._measured[e] for e in excludes if e in self._measured}

    def prepare(self, answers: Answers) -> Prepared:
        """The plan and the fixups for these answers (pure once measured);
        written to the report. Raises :class:`PlanRefused`."""
        connected = self._need_connected()
        machine = self.probe(answers)
        assert self._sources is not None
        sizes = self.exclusion_sizes(answers.layout.exclude)
        try:
            prepared = make_plan(
                machine,
                connected.facts,
                disks=connected.disks,
                layout=answers.layout,
                fixup_choices=answers.fixups,
                exclude_sizes=sizes,
            )
        except LayoutError as e:
            hint = space_hint(machine, self._sources, e) if e.missing else ""
            raise PlanRefused(f"{e}\n{hint}".strip()) from None
        self.write_plan(prepared)
        return prepared

    def write_plan(self, prepared: Prepared) -> None:
        self.report.write_json("plan.json", prepared.plan)
        self.report.write_text("plan.txt", describe_plan(prepared.plan, prepared.facts))
        self.report.write_text("fixups.txt", describe_fixups(prepared.fixups))
        self.report.write_diffs(prepared.fixups)

    def execute(
        self, answers: Answers, prepared: Prepared, *, also: Callable[[Event], None] | None = None
    ) -> Outcome:
        """Partition, format, copy, fix up, unmount, then the ``after`` step;
        raises ``Cancelled`` when :attr:`cancel` is set meanwhile. Events go
        to :attr:`emit` and, when given, to ``also`` (the wizard's screen)."""
        if prepared.refusal:
            raise PlanRefused(prepared.refusal)
        emit = self.emit if also is None else _both(self.emit, also)
        connected = self._need_connected()
        machine = self._need_machine()
        assert self._sources is not None
        facts = connected.facts
        with tempfile.TemporaryDirectory(prefix="p2v-ssh-") as tmp:
            transfer = self.parts.transfer(connected.target, answers, Path(tmp))
            executor = Executor(
                target=connected.target,
                source=self._sources,
                transfer=transfer,
                emit=emit,
                replan_fixups=lambda plan: plan_fixups(machine, plan, facts, prepared.fixup_choices),
                cancel=self.cancel,
            )
            done = executor.run(Migration(machine, prepared.plan, prepared.fixups, answers.after))
        final = Prepared(
            machine,
            connected.facts,
            connected.disks,
            prepared.layout,
            prepared.fixup_choices,
            done.plan,
            done.fixups,
        )
        self.report.write_json("plan.json", final.plan)
        self.report.write_text("plan.txt", describe_plan(final.plan, final.facts))
        self.report.write_diffs(final.fixups)
        steps = next_steps(done.after, final.facts.name, final.plan.boot)
        self.report.write_result(f"migrated into {final.facts.name}\n{steps}\n")
        return Outcome(final, done.after, steps)

    def close(self) -> None:
        if self._sources is not None:
            self._sources.close()
            self._sources = None
        if self.connected is not None:
            self.connected.target.close()
            self.connected = None

    def _need_connected(self) -> Connected:
        if self.connected is None:
            raise RuntimeError("connect to the target first")
        return self.connected

    def _need_machine(self) -> Machine:
        if self.machine is None:
            raise RuntimeError("probe the source first")
        return self.machine
