"""One migration's steps, in the order a person or an answers file takes them.

Headless mode calls them one after another; the wizard calls each from the
screen that needs it (target → connect, source → probe, layout → plan,
transfer → execute). Both therefore talk to the target, probe the source,
plan and run the one executor the same way, and the report holds the same
files whichever drove the run.
"""

from __future__ import annotations

import dataclasses
import logging
import shlex
import tempfile
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from ..model.answers import Answers, TargetAnswers
from ..model.cluster_plan import planned_facts, proof_address
from ..model.describe import describe_fixups, describe_plan
from ..model.edits import FixupSet
from ..model.events import Event, Log, Progress
from ..model.fixups import plan_fixups
from ..model.hostkey import pin_text, source_host_pins
from ..model.layout_edit import requests_from_plan
from ..model.machine import Machine
from ..model.plan import LayoutError, Plan
from ..model.target import InstanceFacts, TargetDisk
from ..model.warm import (
    RECORD_LIMIT,
    WARM_RECORD,
    WarmPass,
    WarmRecord,
    WarmRecordError,
    WarmState,
    describe_record,
    new_record,
    other_source,
    parse_record,
    record_text,
    refit_refusal,
    warm_layout,
    warm_summary,
    with_pass,
)
from ..system.answers_io import dump_answers
from ..system.host import boot_id
from ..system.measure import final_pass_estimate, measure_exclusions, space_hint
from ..system.report import Report
from ..system.sources import SourceAccess
from ..system.target import AuthenticationFailed, HostKeyMismatch, Target, TargetError, TargetFileTooLarge
from ..system.transfer import Transfer
from .cluster import (
    BOOTSTRAP_SSH_TIMEOUT,
    ClusterParts,
    ClusterReady,
    ClusterRefused,
    Created,
    Proof,
    booted_steps,
    check_cluster,
    create_bootstrap,
    hand_over,
)
from .executor import Executor, Migration
from .prepare import Prepared, ensure_other_machine, make_plan, read_facts, target_disks

log = logging.getLogger(__name__)

RESUME_ANSWERS = "answers-bootstrap.yaml"
"""In the report of a cluster run: the answers that resume it on the instance created."""

BOOTSTRAP_RETRY = 5.0
"""Seconds between tries to reach a bootstrap that is still booting."""


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
    cluster: ClusterParts | None = None
    """What a run with a ``cluster:`` section talks to; None: such runs are refused."""
    running: RunningParts | None = None
    """For a warm pass: the source is a server that still runs, reached
    over SSH (probe, sources and transfer above are its)."""


@dataclass(frozen=True)
class RunningParts:
    clock: Callable[[], int]
    """The running source's clock, seconds since the epoch."""


@dataclass(frozen=True)
class Connected:
    target: Target
    facts: InstanceFacts
    disks: tuple[TargetDisk, ...]
    """The instance's disks with the sizes the target reports."""
    warm: WarmRecord | None = None
    """The record of a warm copy on the target, if there is one."""


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


class PlanRefused(Exception):
    """The data does not fit (or the layout is impossible); nothing was
    written. The message says how much is missing and what could be excluded."""


def read_warm(target: Target, emit: Callable[[Event], None]) -> WarmRecord | None:
    """The warm copy's record on the target; None when there is none (or
    one p2v cannot read: said, and then not used)."""
    try:
        raw = target.read_file(WARM_RECORD, limit=RECORD_LIMIT)
        if raw is None:
            return None
        record = parse_record(raw)
    except (TargetFileTooLarge, WarmRecordError) as e:
        emit(Log("warning", f"{e}; it is not used"))
        return None
    emit(Log("info", describe_record(record)))
    return record


def write_warm(target: Target, record: WarmRecord) -> None:
    target.run(["mkdir", "-p", WARM_RECORD.rsplit("/", 1)[0]])
    target.write_file(WARM_RECORD, record_text(record).encode(), mode=0o600)


def _both(first: Callable[[Event], None], second: Callable[[Event], None]) -> Callable[[Event], None]:
    def emit(event: Event) -> None:
        first(event)
        second(event)

    return emit


@dataclass(frozen=True)
class _Probed:
    """The source as probed for a choice of disks, and its files (mounted
    read-only as the steps need them)."""

    machine: Machine
    access: SourceAccess
    disks: tuple[str, ...] | None


class Session:
    """Holds the target connection and the source access between steps; close
    it once (also after a failure).

    What a screen shows (:attr:`connected`, :attr:`machine`,
    :attr:`prepared`) changes only in the ``keep_*`` methods. Headless mode
    calls :meth:`connect`, :meth:`probe` and :meth:`prepare`, which do a step
    and keep its result at once. The wizard does the step in a worker
    (:meth:`reach`, :meth:`read_source`, :meth:`plan`: they keep nothing a
    screen shows) and keeps the result on its UI loop, so nothing on a screen
    changes under it."""

    def __init__(self, parts: Parts, report: Report, emit: Callable[[Event], None], cancel: threading.Event):
        self.parts = parts
        self.report = report
        self.emit = emit
        self.cancel = cancel
        self._connected: Connected | None = None
        self._machine: Machine | None = None
        self._prepared: Prepared | None = None
        self._probed: _Probed | None = None
        self._measured: dict[str, int] = {}
        self._resume: str | None = None
        self._warm: WarmState | None = None

    @property
    def connected(self) -> Connected | None:
        """The target the steps use."""
        return self._connected

    @property
    def machine(self) -> Machine | None:
        """The source machine as probed."""
        return self._machine

    @property
    def prepared(self) -> Prepared | None:
        """The last plan made (a plan that does not fit is not kept)."""
        return self._prepared

    @property
    def warm(self) -> WarmState | None:
        """The warm copy the last plan was made for, with the final pass's
        expected size; None when the target holds none."""
        return self._warm

    def write_answers(self, answers: Answers, note: str | None = None) -> None:
        """answers.yaml: the choices the run goes with (``note``: said in the
        file), replayable headless."""
        self.report.write_text("answers.yaml", dump_answers(answers, note))

    # -- the target ------------------------------------------------------------

    def connect(self, answers: Answers) -> Connected:
        """:meth:`reach` the target and keep the connection."""
        return self.keep_connected(self.reach(answers))

    def reach(self, answers: Answers) -> Connected:
        """Connect (host key checked before authentication), refuse this very
        machine, read the instance facts and the real disk sizes."""
        t: TargetAnswers = answers.target
        self.emit(Log("info", f"connecting to {t.user}@{t.host}:{t.port}"))
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
        warm = read_warm(target, self.emit)
        return Connected(target, facts, disks, warm)

    def keep_connected(self, connected: Connected) -> Connected:
        """The connection the steps use from now on; the one before is closed."""
        before, self._connected = self._connected, connected
        if before is not None and before is not connected:
            before.target.close()
        return connected

    # -- the source ------------------------------------------------------------

    def probe(self, answers: Answers) -> Machine:
        """:meth:`read_source` and keep the machine."""
        return self.keep_machine(self.read_source(answers))

    def read_source(self, answers: Answers) -> Machine:
        """The source machine, read-only; probed again only when the choice
        of source disks changed (the wizard's Source screen)."""
        probed = self._probed
        if probed is not None and probed.disks == answers.source_disks:
            return probed.machine
        if probed is not None:
            self._probed = None
            self._measured.clear()
            probed.access.close()
        self.emit(Log("info", "probing the source disks (read-only)"))
        machine = self.parts.probe(answers)
        self.report.write_machine(machine)
        self._probed = _Probed(machine, self.parts.sources(machine), answers.source_disks)
        return machine

    def keep_machine(self, machine: Machine) -> Machine:
        """The source machine a screen shows from now on."""
        self._machine = machine
        return machine

    def exclusion_sizes(self, excludes: Sequence[str]) -> Mapping[str, int]:
        """Bytes each exclusion pattern leaves out of the copy (each measured
        once: the wizard plans again after every change)."""
        probed = self._need_probed()
        if self.parts.running is not None:
            # a running source's files are not here to measure: the plan
            # counts what is excluded as used (more room, never less)
            return {}
        new = [e for e in excludes if e not in self._measured]
        if new:
            self._measured.update(measure_exclusions(probed.machine, probed.access, new))
        return {e: self._measured[e] for e in excludes if e in self._measured}

    # -- the plan --------------------------------------------------------------

    def prepare(self, answers: Answers) -> Prepared:
        """:meth:`plan` and keep the plan."""
        return self.keep_prepared(self.plan(answers))

    def plan(self, answers: Answers) -> Prepared:
        """The plan and the fixups for these answers (the source probed
        first when it was not for these disks; pure once measured); written
        to the report. Raises :class:`PlanRefused`."""
        connected = self._need_connected()
        machine = self.read_source(answers)
        sizes = self.exclusion_sizes(answers.layout.exclude)
        layout = answers.layout
        warm = connected.warm
        if warm is not None:
            why = other_source(warm, machine)
            if why:
                raise PlanRefused(
                    f"{why}: the target holds a warm copy of another source ({describe_record(warm)}). "
                    f"Nothing was written. Remove {WARM_RECORD} on the target to prepare it from scratch."
                )
            layout = warm_layout(layout, warm)
        try:
            prepared = make_plan(
                machine,
                connected.facts,
                disks=connected.disks,
                layout=layout,
                fixup_choices=answers.fixups,
                exclude_sizes=sizes,
            )
        except LayoutError as e:
            if warm is not None:
                raise PlanRefused(refit_refusal(warm, str(e))) from None
            self._warm = None
            local = self.parts.running is None
            hint = space_hint(machine, self._need_probed().access, e) if e.missing and local else ""
            raise PlanRefused(f"{e}\n{hint}".strip()) from None
        self._warm = None if warm is None else self._warm_state(warm)
        self.write_plan(prepared)
        return prepared

    def _warm_state(self, record: WarmRecord) -> WarmState:
        """The record, with what changed on the source since its last pass
        (measured once per record, where the source's files are here)."""
        last = record.last
        if self._warm is not None and self._warm.record == record:
            return self._warm
        if last is None or self.parts.running is not None:
            return WarmState(record)
        probed = self._need_probed()
        files, size = final_pass_estimate(probed.machine, probed.access, last.source_clock)
        state = WarmState(record, files, size)
        for line in warm_summary(state)[1:]:  # the first was said when connecting
            self.emit(Log("info", line))
        return state

    def keep_prepared(self, prepared: Prepared) -> Prepared:
        """The plan the person confirms and the migration runs, and the
        machine it is for."""
        self._prepared = prepared
        self.keep_machine(prepared.machine)
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
        connected = self._need_connected()
        machine = self._need_probed().machine
        facts = connected.facts
        migration = Migration(machine, prepared.plan, prepared.fixups, answers.after)
        done = self._run_executor(
            answers,
            migration,
            self.emit if also is None else _both(self.emit, also),
            lambda plan: plan_fixups(machine, plan, facts, prepared.fixup_choices),
        )
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
        return Outcome(final, done.after, steps)

    def _run_executor(
        self,
        answers: Answers,
        migration: Migration,
        emit: Callable[[Event], None],
        replan_fixups: Callable[[Plan], FixupSet],
    ) -> Migration:
        """The one executor over the connected target, the probed source and
        a transfer made for this run (closed after it, also on failure)."""
        connected = self._need_connected()
        with tempfile.TemporaryDirectory(prefix="p2v-ssh-") as tmp:
            transfer = self.parts.transfer(connected.target, answers, Path(tmp))
            try:
                executor = Executor(
                    target=connected.target,
                    source=self._need_probed().access,
                    transfer=transfer,
                    emit=emit,
                    replan_fixups=replan_fixups,
                    cancel=self.cancel,
                )
                return executor.run(migration)
            finally:
                transfer.close()

    # -- a warm pass: the source still runs -------------------------------------

    def warm_pass(
        self, answers: Answers, prepared: Prepared, *, also: Callable[[Event], None] | None = None
    ) -> WarmPass:
        """Prepare the target as the plan says (or resume it) and copy the
        running source into it, then unmount; the record on the target says
        what was copied and when. Nothing else is changed on the target and
        nothing at all on the source."""
        running = self.parts.running
        if running is None:
            raise RuntimeError("a warm pass needs the running source's parts")
        connected = self._need_connected()
        record = connected.warm
        if record is None:
            requests = requests_from_plan(prepared.plan, prepared.machine)
            record = new_record(prepared.machine, prepared.plan, requests)
            # written first: a pass stopped after mkfs is resumed with this layout
            write_warm(connected.target, record)
        emit = self.emit if also is None else _both(self.emit, also)
        progress: list[int] = [0]

        def counted(event: Event) -> None:
            if isinstance(event, Progress) and event.total:
                progress[0] = max(progress[0], event.done)
            emit(event)

        source_clock = running.clock()
        started = time.time()
        migration = Migration(self._need_probed().machine, prepared.plan, prepared.fixups, "none", warm=True)
        self._run_executor(answers, migration, counted, lambda plan: prepared.fixups)
        done = WarmPass(
            started=int(started),
            source_clock=source_clock,
            seconds=round(time.time() - started, 1),
            bytes=progress[0],
            filesystems=tuple(j.mountpoint or j.source_path for j in prepared.plan.copies),
        )
        record = with_pass(record, done)
        write_warm(connected.target, record)
        self.keep_connected(dataclasses.replace(connected, warm=record))
        self.report.write_text("warm.json", record_text(record))
        return done

    # -- a cluster run: the instance p2v creates --------------------------------

    def _cluster_parts(self) -> ClusterParts:
        if self.parts.cluster is None:
            raise ClusterRefused("this p2v cannot reach a Ganeti cluster (no RAPI client here)")
        return self.parts.cluster

    def check_cluster(self, answers: Answers) -> ClusterReady:
        """Every check of the instance p2v would create, nothing created
        (the source probed first: the disk sizes follow the plan); then the
        plan on the instance as it will be, so that a plan the run would
        refuse is refused before the instance exists."""
        cluster = answers.cluster
        if cluster is None:
            raise RuntimeError("no cluster section in the answers")
        parts = self._cluster_parts()
        machine = self.read_source(answers)
        layout = dataclasses.replace(
            answers.layout, exclude_sizes=dict(self.exclusion_sizes(answers.layout.exclude))
        )
        try:
            public_key = parts.public_key(answers.target.identity)
        except (OSError, ValueError) as e:
            raise ClusterRefused(f"target.identity: {e}") from None
        ready = check_cluster(
            parts.rapi(cluster),
            cluster,
            machine,
            layout,
            public_key=public_key,
            host_key=parts.new_host_key(),
            source_macs=parts.source_macs(),
            emit=self.emit,
        )
        self._write_cluster(ready)
        return ready

    def _write_cluster(self, ready: ClusterReady, created: Created | None = None) -> None:
        """cluster.json: the instance as asked for (never the secret), and where it runs once created."""
        record: dict[str, object] = {
            "rapi": str(ready.cluster.rapi),
            "user": ready.cluster.user,
            "instance": ready.spec,
        }
        if created is not None:
            record["created"] = {
                "name": created.name,
                "address": created.address,
                "host_key": created.host_key,
            }
        self.report.write_json("cluster.json", record)

    def plan_on(self, answers: Answers, ready: ClusterReady) -> Prepared:
        """The plan on the instance ``ready`` will create (not kept: the
        one the migration runs is made on what the instance reports)."""
        facts = planned_facts(ready.spec)
        machine = self.read_source(answers)
        try:
            prepared = make_plan(
                machine,
                facts,
                disks=facts.disks,
                layout=answers.layout,
                fixup_choices=answers.fixups,
                exclude_sizes=self.exclusion_sizes(answers.layout.exclude),
            )
        except LayoutError as e:
            raise PlanRefused(str(e)) from None
        self.write_plan(prepared)
        return prepared

    def create_bootstrap(self, answers: Answers, ready: ClusterReady) -> Answers:
        """Create and start the bootstrap instance; the answers to connect
        to it with (its address, the generated host key pinned)."""
        created: Created = create_bootstrap(ready, self.emit)
        self._write_cluster(ready, created)
        self._resume = (
            f"p2v --answers-file {self.report.directory / RESUME_ANSWERS} --yes resumes on {created.name}"
        )
        target = dataclasses.replace(answers.target, host=created.address, host_key=created.host_key)
        bootstrap = dataclasses.replace(answers, target=target)
        # a stopped run goes on from here, on the instance created (the
        # same answers again would be refused: the name exists now)
        self.report.write_text(
            RESUME_ANSWERS,
            dump_answers(
                dataclasses.replace(bootstrap, cluster=None, after="poweroff"),
                f"the bootstrap of {created.name}, created by p2v: resume with p2v --answers-file THIS_FILE",
            ),
        )
        return bootstrap

    @property
    def resume_on_created(self) -> str | None:
        """How a new run goes on from the instance this run created; None
        while nothing was created."""
        return self._resume

    def migrate_on_cluster(
        self,
        answers: Answers,
        ready: ClusterReady,
        *,
        planned: Callable[[Prepared], None] | None = None,
        also: Callable[[Event], None] | None = None,
    ) -> Outcome:
        """Create and start the bootstrap ``ready`` checked, connect to it,
        plan again on what it reports (``planned`` sees that plan before
        anything is written), migrate, then hand over and prove the boot.
        Raises :class:`PlanRefused` for a plan the real instance refuses;
        once the instance exists, :attr:`resume_on_created` says how to go on."""
        answers = self.create_bootstrap(answers, ready)
        self.keep_connected(self.reach_bootstrap(answers, BOOTSTRAP_SSH_TIMEOUT))
        prepared = self.prepare(answers)
        if planned is not None:
            planned(prepared)
        if prepared.refusal:
            raise PlanRefused(prepared.refusal)
        # p2v stops the bootstrap itself (a guest powering off is restarted by
        # Ganeti's watcher with the ramboot parameters still set)
        outcome = self.execute(dataclasses.replace(answers, after="none"), prepared, also=also)
        return self.hand_over(answers, ready, outcome)

    def reach_bootstrap(self, answers: Answers, within: float) -> Connected:
        """:meth:`reach` the bootstrap just started: connection refusals and
        timeouts are tried again until ``within`` seconds have passed (it
        boots meanwhile); a wrong host key or a refused login at once."""
        deadline = time.monotonic() + within
        while True:
            try:
                return self.reach(answers)
            except (HostKeyMismatch, AuthenticationFailed):
                raise
            except TargetError as e:
                if time.monotonic() + BOOTSTRAP_RETRY > deadline or self.cancel.is_set():
                    raise TargetError(
                        f"the bootstrap at {answers.target.host} did not answer SSH within {within:g} s: {e}"
                    ) from None
                log.debug("bootstrap not reachable yet: %s", e)
                self.cancel.wait(BOOTSTRAP_RETRY)

    def hand_over(self, answers: Answers, ready: ClusterReady, outcome: Outcome) -> Outcome:
        """Start the migrated server and prove it booted; the outcome with
        what the person is told then."""
        machine = outcome.prepared.machine
        pins = source_host_pins(machine.config.files)
        address = proof_address(ready.cluster, answers.fixups.static)
        parts = self._cluster_parts()
        proof: Proof = hand_over(
            ready,
            boot=outcome.prepared.plan.boot,
            address=address,
            pins=pins,
            prove=lambda host, within: parts.prove(host, pins, within),
            emit=self.emit,
        )
        proven = {
            "address": proof.address,
            "host_key": pin_text(proof.pin),
            "seconds": round(proof.seconds, 1),
        }
        self.report.write_json("boot-proof.json", proven)
        return dataclasses.replace(outcome, next_steps=booted_steps(ready.spec.name, proof))

    def close(self) -> None:
        if self._probed is not None:
            self._probed.access.close()
            self._probed = None
        if self._connected is not None:
            self._connected.target.close()
            self._connected = None

    def _need_connected(self) -> Connected:
        if self._connected is None:
            raise RuntimeError("connect to the target first")
        return self._connected

    def _need_probed(self) -> _Probed:
        if self._probed is None:
            raise RuntimeError("probe the source first")
        return self._probed
