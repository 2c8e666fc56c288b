"""What the wizard's screens ask for, without any widget.

Screens are thin: they show data and call the controller. The controller
keeps the person's choices as an :class:`~p2v_tui.model.answers.Answers`
(so every run can be written as an answers file that replays headless to the
same plan) and drives the same :class:`~p2v_tui.engine.session.Session` as
headless mode. Slow work (connecting, probing, measuring, the migration)
runs in a worker; its result comes back through ``post``, which the urwid
application sets to hand callables to its main loop (``watch_pipe``), so no
widget is ever touched from a worker. What the screens show of the run (the
connection, the machine, the plan) is the session's; a worker's result is
kept in the session on the main loop, so it never changes under a screen.
A run ends in :mod:`p2v_tui.engine.ending`, as in headless mode. Tests run
workers inline.
"""

from __future__ import annotations

import dataclasses
import logging
import shutil
import tempfile
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Generic, Protocol, TypeVar

from ..engine import ending
from ..engine.cluster import ClusterReady
from ..engine.ending import EXPECTED_FAILURES, SAME_TARGET, Ending
from ..engine.exits import internal_error
from ..engine.prepare import Prepared
from ..engine.session import Connected, Session
from ..model.answers import Answers, TargetAnswers
from ..model.cluster_fields import ClusterFields, with_cluster
from ..model.edits import FixupChoices
from ..model.events import Event, printable_event
from ..model.fixups.bootloader import possible_boot
from ..model.machine import Machine
from ..model.netconfig import NetworkState, StaticConfig
from ..model.plan import LayoutChoices
from ..model.validate import printable
from ..model.warm import WarmState
from ..system.answers_io import answers_schema
from ..system.keyfile import store_pasted_key
from ..system.target import TargetError

log = logging.getLogger(__name__)

T = TypeVar("T")


class NetworkRefused(Exception):
    """A static network setting that does not validate; nothing was changed."""


@dataclass(frozen=True)
class Failed:
    """A step that did not work, said so a person knows what to check."""

    message: str


@dataclass(frozen=True)
class Done(Generic[T]):
    value: T


Result = Done[T] | Failed


Spawn = Callable[[Callable[[], None]], None]
Post = Callable[[Callable[[], None]], None]


class Network(Protocol):
    """The live system's network (real: system.netlive.LiveNetwork)."""

    def state(self) -> NetworkState: ...
    def apply(self, cfg: StaticConfig) -> NetworkState: ...


def thread_spawn(work: Callable[[], None]) -> None:
    threading.Thread(target=work, name="p2v-worker", daemon=True).start()


def inline(work: Callable[[], None]) -> None:
    work()


class Controller:
    """One wizard run. ``answers`` starts from defaults or a pre-filled
    answers file and is replaced (never mutated) as the person chooses."""

    def __init__(
        self,
        session: Session,
        answers: Answers,
        network: Network,
        *,
        spawn: Spawn = thread_spawn,
        post: Post = inline,
    ) -> None:
        self.session = session
        self.network = network
        self.answers = answers
        self.spawn = spawn
        self.post = post
        self._key_directory: Path | None = None
        self._checked: tuple[tuple[object, ...], ClusterReady] | None = None
        """The cluster checked for these answers (see :meth:`_cluster_key`), kept on the UI loop."""

    # -- what the screens show (the session's, changed on the UI loop only) --

    @property
    def connected(self) -> Connected | None:
        return self.session.connected

    @property
    def machine(self) -> Machine | None:
        return self.session.machine

    @property
    def prepared(self) -> Prepared | None:
        return self.session.prepared

    @property
    def warm(self) -> WarmState | None:
        """The warm copy on the target the plan completes, if any."""
        return self.session.warm

    @property
    def on_cluster(self) -> bool:
        """The instance is created on a Ganeti cluster (not connected to)."""
        return self.answers.cluster is not None

    @property
    def cluster_ready(self) -> ClusterReady | None:
        """The cluster as checked for the current choices: what will be created."""
        if self._checked is None or self._checked[0] != self._cluster_key(self.answers):
            return None
        return self._checked[1]

    @property
    def instance_name(self) -> str:
        """The instance whose disks are erased: as the target said when
        connecting, or as it will be created."""
        connected = self.connected
        if connected is not None and not self.on_cluster:
            return connected.facts.name
        prepared = self.prepared
        return prepared.facts.name if prepared is not None else ""

    # -- running slow work --------------------------------------------------

    def _background(
        self,
        work: Callable[[], T],
        done: Callable[[Result[T]], object],
        keep: Callable[[T], object] | None = None,
    ) -> None:
        """``work`` in a worker; on the UI loop, ``keep`` stores its value
        in the session (what a screen shows changes only there), then
        ``done`` gets the result."""

        def run() -> None:
            result: Result[T]
            try:
                result = Done(work())
            except (NetworkRefused, *EXPECTED_FAILURES) as e:
                log.debug("step failed", exc_info=True)
                result = Failed(printable(str(e), lines=True))
            except Exception as e:
                # a defect: the screen must still hear back (it would wait
                # forever), and the traceback belongs in debug.log
                log.exception("unexpected failure")
                result = Failed(internal_error(e, "debug.log"))

            def deliver() -> None:
                if keep is not None and isinstance(result, Done):
                    keep(result.value)
                done(result)

            self.post(deliver)

        self.spawn(run)

    # -- the live system's network -------------------------------------------

    def network_state(self, done: Callable[[Result[NetworkState]], object]) -> None:
        self._background(self.network.state, done)

    def apply_network(self, cfg: StaticConfig, done: Callable[[Result[NetworkState]], object]) -> None:
        """Set a static address; ``Failed`` lists what is wrong with ``cfg``
        (nothing was changed then)."""

        def work() -> NetworkState:
            try:
                return self.network.apply(cfg)
            except ValueError as e:
                raise NetworkRefused(str(e)) from None

        self._background(work, done)

    # -- target -------------------------------------------------------------

    def set_target(self, target: TargetAnswers) -> None:
        self.answers = dataclasses.replace(self.answers, target=target)

    def set_cluster(self, fields: ClusterFields, identity: str) -> None:
        """Create the instance on a cluster: the fields as an answers file's
        ``cluster:`` section, checked as one is; raises
        ``ClusterFieldsError`` (one line a problem, by the field's label)."""
        self.answers = with_cluster(self.answers, fields, identity, answers_schema())

    def set_no_cluster(self) -> None:
        """Migrate into an instance that exists (connected to)."""
        self.answers = dataclasses.replace(self.answers, cluster=None)

    def scan_host_key(self, done: Callable[[Result[str]], object]) -> None:
        """The target's host key before it is pinned (``"TYPE SHA256:..."``)."""
        scan = self.session.parts.scan_host_key
        target = self.answers.target

        def work() -> str:
            if scan is None:
                raise TargetError("this target cannot be scanned: give its host key fingerprint")
            return scan(target)

        self._background(work, done)

    def store_pasted_key(self, text: str) -> Path:
        """A pasted private key as a 0600 file in a private directory this
        controller removes on :meth:`close` (never in the report); raises
        ``PastedKeyError`` saying what is wrong with the paste."""
        if self._key_directory is None:
            self._key_directory = Path(tempfile.mkdtemp(prefix="p2v-key-"))
        return store_pasted_key(text, self._key_directory)

    def close(self) -> None:
        """Forget pasted keys; close the session (target, source mounts)."""
        if self._key_directory is not None:
            shutil.rmtree(self._key_directory, ignore_errors=True)
            self._key_directory = None
        self.session.close()

    def connect(self, done: Callable[[Result[Connected]], object]) -> None:
        """Connect with the current target answers (host key pinned)."""
        answers = self.answers
        self._background(lambda: self.session.reach(answers), done, self.session.keep_connected)

    # -- source -------------------------------------------------------------

    def probe(self, done: Callable[[Result[Machine]], object]) -> None:
        answers = self.answers
        self._background(lambda: self.session.read_source(answers), done, self._keep_machine)

    def _keep_machine(self, machine: Machine) -> None:
        self.session.keep_machine(machine)
        # a source without GRUB 2 can only start with the cluster's kernel:
        # the wizard starts from that choice, not from one it would refuse
        layout = self.answers.layout
        boot = possible_boot(machine.os, layout.boot)
        if boot != layout.boot:
            log.info("boot: the cluster's kernel (the source has no GRUB 2 to boot its own disk)")
            self.answers = dataclasses.replace(self.answers, layout=dataclasses.replace(layout, boot=boot))

    def set_source_disks(self, disks: tuple[str, ...] | None) -> None:
        self.answers = dataclasses.replace(self.answers, source_disks=disks)

    def measure_exclusions(
        self, paths: tuple[str, ...], done: Callable[[Result[Mapping[str, int]]], object]
    ) -> None:
        """Bytes under each path (what leaving it out saves; the session
        measures each path once)."""
        self._background(lambda: self.session.exclusion_sizes(paths), done)

    # -- layout and fixups ----------------------------------------------------

    def set_layout(self, layout: LayoutChoices) -> None:
        self.answers = dataclasses.replace(self.answers, layout=layout)

    def set_fixups(self, fixups: FixupChoices) -> None:
        self.answers = dataclasses.replace(self.answers, fixups=fixups)

    def plan(self, done: Callable[[Result[Prepared]], object]) -> None:
        """The plan and fixups for the current choices; ``Failed`` says why
        the data does not fit (and what could be excluded)."""
        answers = self.answers
        if answers.cluster is not None:
            self._plan_on_cluster(answers, done)
            return
        self._background(lambda: self.session.plan(answers), done, self.session.keep_prepared)

    @staticmethod
    def _cluster_key(answers: Answers) -> tuple[object, ...]:
        """What the cluster's checks depend on (the disk sizes follow the
        layout and the source disks; the key becomes the instance's)."""
        return (answers.cluster, answers.layout, answers.source_disks, answers.target.identity)

    def _plan_on_cluster(self, answers: Answers, done: Callable[[Result[Prepared]], object]) -> None:
        """Every check of the instance to create (RAPI, Ganeti's dry run),
        then the plan on it as it will be; nothing is created. The checks
        run again only when what they depend on changed."""
        key = self._cluster_key(answers)
        checked = self._checked if self._checked is not None and self._checked[0] == key else None
        session = self.session

        def work() -> tuple[ClusterReady, Prepared]:
            ready = checked[1] if checked is not None else session.check_cluster(answers)
            return ready, session.plan_on(answers, ready)

        def keep(value: tuple[ClusterReady, Prepared]) -> None:
            self._checked = (key, value[0])
            session.keep_prepared(value[1])

        def planned(result: Result[tuple[ClusterReady, Prepared]]) -> None:
            done(Done(result.value[1]) if isinstance(result, Done) else result)

        self._background(work, planned, keep)

    # -- the migration ------------------------------------------------------

    def _replayable(self, answers: Answers) -> tuple[Answers, str | None]:
        """``answers`` as a file can hold them: a pasted key's private copy is
        removed when the wizard ends, so the file names the key by its file
        name (a path relative to where p2v runs) and says so."""
        identity = Path(answers.target.identity)
        if self._key_directory is None or identity.parent != self._key_directory:
            return answers, None
        target = dataclasses.replace(answers.target, identity=identity.name)
        note = (
            "target.identity: the private key was pasted into the wizard and is not kept;\n"
            f"save it as {identity.name} in the directory p2v runs in, or put its path in target.identity"
        )
        return dataclasses.replace(answers, target=target), note

    def start(self, on_event: Callable[[Event], None], done: Callable[[Ending], None]) -> None:
        """Run the executor with the confirmed answers; every event is posted
        to ``on_event`` in order, then ``done`` once."""
        if self.prepared is None:
            raise RuntimeError("plan first")
        answers = dataclasses.replace(self.answers, confirm=True)
        self.answers = answers
        # the choices, replayable headless: p2v --answers-file answers.yaml --yes
        # (written unconfirmed: a replay erases the target only when told again)
        written, note = self._replayable(dataclasses.replace(answers, confirm=False, interactive=False))
        self.session.write_answers(written, note)
        self._execute(on_event, done)

    def retry(self, on_event: Callable[[Event], None], done: Callable[[Ending], None]) -> None:
        """After the link was lost: connect again (the host key checked
        again), then, once the new connection is kept on the UI loop, run
        the executor again with the same plan, which resumes. Events and
        ``done`` as for :meth:`start`. A cancel asked for before the link
        was found lost is forgotten: retrying is asking to go on."""
        if self.prepared is None:
            raise RuntimeError("plan first")
        self.session.cancel.clear()
        answers = self.answers
        session = self.session

        def work() -> None:
            try:
                fresh = session.reach(answers)
            except Exception as e:
                ended = ending.not_reconnected(session.report, e, resume=SAME_TARGET)
                self.post(lambda: done(ended))
                return

            def go_on() -> None:
                session.keep_connected(fresh)
                self._execute(on_event, done)

            self.post(go_on)

        self.spawn(work)

    def _execute(self, on_event: Callable[[Event], None], done: Callable[[Ending], None]) -> None:
        prepared = self.prepared
        assert prepared is not None
        answers = self.answers
        session = self.session

        def on_worker(event: Event) -> None:
            shown = printable_event(event)
            self.post(lambda: on_event(shown))

        ready = self.cluster_ready if answers.cluster is not None else None
        if answers.cluster is not None and ready is None:
            raise RuntimeError("plan on the cluster first")

        def work() -> None:
            try:
                if ready is not None:
                    outcome = session.migrate_on_cluster(answers, ready, also=on_worker)
                else:
                    outcome = session.execute(answers, prepared, also=on_worker)
                ended = ending.migrated(session.report, outcome)
            except Exception as e:  # a defect too: the screen must still hear back
                if ready is not None:
                    ended = ending.cluster_raised(
                        session.report, e, resume=session.resume_on_created, before=SAME_TARGET
                    )
                else:
                    ended = ending.raised(session.report, e, resume=SAME_TARGET)
            self.post(lambda: done(ended))

        self.spawn(work)

    def cancel(self) -> None:
        """Ask the executor to stop safely (the target stays resumable)."""
        self.session.cancel.set()
