"""The wizard's controller drives the same session as headless mode: the
built-in demo (real rsync into a directory, simulated disk commands) from
connect to done, and the answers it writes replay headless to the same plan;
a link to the target lost mid-run ends retryable, and a retry connects again
and completes; what the controller keeps changes on the UI loop only."""

from __future__ import annotations

import io
import json
import shutil
import subprocess
import threading
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import TypeVar

import pytest

from p2v_tui.demo import DemoNetwork, demo_parts, example_file
from p2v_tui.engine.ending import Ending
from p2v_tui.engine.headless import Options, run
from p2v_tui.engine.prepare import Prepared
from p2v_tui.engine.session import Connected, Parts, Session
from p2v_tui.model.answers import Answers
from p2v_tui.model.events import Event, Log, Progress, StepFinished
from p2v_tui.model.machine import Machine
from p2v_tui.model.netconfig import NetworkState, StaticConfig
from p2v_tui.system.answers_io import load_answers
from p2v_tui.system.report import Report
from p2v_tui.tui.controller import Controller, Done, Failed, Result, inline

from ..engine.linkcut import Link, cuttable_demo

if not shutil.which("rsync"):
    pytest.skip("needs rsync", allow_module_level=True)

T = TypeVar("T")


@pytest.fixture
def parts(tmp_path: Path) -> Parts:
    return demo_parts(tmp_path / "source", tmp_path / "target")


@pytest.fixture
def controller(parts: Parts, tmp_path: Path) -> Iterator[Controller]:
    report = Report(tmp_path / "report")
    session = Session(parts, report, report.event, threading.Event())
    yield Controller(session, load_answers(str(example_file("answers.yaml"))), DemoNetwork(), spawn=inline)
    session.close()
    report.close()


def value(result: Result[T]) -> T:
    assert isinstance(result, Done), result
    return result.value


def test_a_whole_run_from_connect_to_done(controller: Controller, tmp_path: Path) -> None:
    got: dict[str, object] = {}
    controller.scan_host_key(lambda r: got.update(scan=value(r)))
    assert str(got["scan"]).startswith("ssh-ed25519 SHA256:")
    controller.connect(lambda r: got.update(connected=value(r)))
    controller.probe(lambda r: got.update(machine=value(r)))
    controller.plan(lambda r: got.update(prepared=value(r)))
    events: list[Event] = []
    finished: list[Ending] = []
    controller.start(events.append, finished.append)
    assert finished and finished[0].ok, finished
    assert "gnt-instance start" in finished[0].next_steps
    assert any(isinstance(e, Progress) for e in events)
    assert all(e.ok for e in events if isinstance(e, StepFinished))
    assert (tmp_path / "target" / "target" / "etc" / "fstab").exists()
    assert (tmp_path / "report" / "answers.yaml").exists()


def test_the_written_answers_replay_headless_to_the_same_plan(controller: Controller, tmp_path: Path) -> None:
    controller.connect(value)
    controller.plan(value)
    controller.start(lambda e: None, lambda f: None)
    written = tmp_path / "report" / "answers.yaml"
    replay = load_answers(str(written))
    code = run(
        replay,
        demo_parts(tmp_path / "source2", tmp_path / "target2"),
        Options(report_dir=tmp_path / "replay", dry_run=True, console=io.StringIO()),
    )
    assert code == 0
    assert json.loads((tmp_path / "replay" / "plan.json").read_text()) == json.loads(
        (tmp_path / "report" / "plan.json").read_text()
    )


def test_a_plan_that_does_not_fit_fails_with_the_reason(controller: Controller) -> None:
    controller.connect(value)
    controller.set_layout(replace(controller.answers.layout, headroom=1000.0))
    got: list[Result[Prepared]] = []
    controller.plan(got.append)
    assert isinstance(got[0], Failed)
    assert "more than /dev/vda" in got[0].message and "exclude" in got[0].message


def test_an_unreachable_target_is_a_failure_not_a_crash(tmp_path: Path) -> None:
    def refuse(a: object) -> object:
        raise ConnectionRefusedError(111, "Connection refused")

    parts = demo_parts(tmp_path / "source", tmp_path / "target")
    report = Report(tmp_path / "report")
    session = Session(replace(parts, connect=refuse), report, report.event, threading.Event())  # type: ignore[arg-type]
    controller = Controller(
        session, load_answers(str(example_file("answers.yaml"))), DemoNetwork(), spawn=inline
    )
    got: list[Result[Connected]] = []
    controller.connect(got.append)
    report.close()
    assert isinstance(got[0], Failed) and "refused" in got[0].message.lower()


def test_network_state_and_a_static_setting(controller: Controller) -> None:
    got: list[Result[NetworkState]] = []
    controller.network_state(got.append)
    state = value(got[0])
    assert state.dhcp.get("eth0")
    controller.apply_network(StaticConfig("eth0", "192.0.2.77/24", "192.0.2.1", ("192.0.2.53",)), got.append)
    after = value(got[1])
    iface = after.interface("eth0")
    assert iface is not None and iface.addresses == ("192.0.2.77/24",)
    controller.apply_network(StaticConfig("eth9", "192.0.2.77/24"), got.append)
    assert isinstance(got[2], Failed) and "eth9" in got[2].message


def test_changing_the_source_disks_probes_again(parts: Parts, tmp_path: Path) -> None:
    probed: list[tuple[str, ...] | None] = []

    def probe(a: Answers) -> Machine:
        probed.append(a.source_disks)
        return parts.probe(a)

    report = Report(tmp_path / "report")
    session = Session(replace(parts, probe=probe), report, report.event, threading.Event())
    controller = Controller(
        session, load_answers(str(example_file("answers.yaml"))), DemoNetwork(), spawn=inline
    )
    controller.probe(value)
    controller.probe(value)
    controller.set_source_disks(("/dev/sda",))
    controller.probe(value)
    controller.close()
    report.close()
    assert probed == [None, ("/dev/sda",)]


def test_a_source_without_grub_starts_from_the_cluster_kernel_and_plans(parts: Parts, tmp_path: Path) -> None:
    """The wizard does not start from a boot mode it would refuse: a source
    without GRUB 2 is planned with the cluster's kernel, and says why."""

    def probe(a: Answers) -> Machine:
        machine = parts.probe(a)
        return replace(machine, os=replace(machine.os, bootloader="none", grub_install=""))

    report = Report(tmp_path / "report")
    session = Session(replace(parts, probe=probe), report, report.event, threading.Event())
    answers = load_answers(str(example_file("answers.yaml")))
    assert answers.layout.boot == "own"
    controller = Controller(session, answers, DemoNetwork(), spawn=inline)
    try:
        controller.connect(value)
        controller.probe(value)
        assert controller.answers.layout.boot == "cluster"
        got: list[Result[Prepared]] = []
        controller.plan(got.append)
        prepared = value(got[0])
        assert prepared.refusal is None
        assert prepared.plan.boot == "cluster"
        assert any("the source has no GRUB 2" in n for n in prepared.fixups.notes)
    finally:
        controller.close()
        report.close()


def test_a_pasted_key_is_named_by_its_file_name_in_the_written_answers(
    controller: Controller, tmp_path: Path
) -> None:
    """The pasted key's private copy is gone when the wizard ends: the
    written answers name it relative to where p2v runs and say so, and a
    replay with the key saved under that name plans the same."""
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(tmp_path / "k")], check=True)
    key_text = (tmp_path / "k").read_text()
    stored = controller.store_pasted_key(key_text)
    target = replace(controller.answers.target, identity=str(stored))
    controller.answers = replace(controller.answers, target=target)
    controller.connect(value)
    controller.plan(value)
    controller.start(lambda e: None, lambda f: None)
    controller.close()
    assert not stored.exists()
    written = tmp_path / "report" / "answers.yaml"
    text = written.read_text()
    assert str(stored.parent) not in text
    assert f"# save it as {stored.name} in the directory p2v runs in" in text
    replay = load_answers(str(written))
    assert replay.target.identity == stored.name
    (tmp_path / stored.name).write_text(key_text)
    code = run(
        replace(replay, target=replace(replay.target, identity=str(tmp_path / replay.target.identity))),
        demo_parts(tmp_path / "source2", tmp_path / "target2"),
        Options(report_dir=tmp_path / "replay", dry_run=True, console=io.StringIO()),
    )
    assert code == 0
    assert json.loads((tmp_path / "replay" / "plan.json").read_text()) == json.loads(
        (tmp_path / "report" / "plan.json").read_text()
    )


class Loop:
    """The UI loop as the controller sees it: ``post`` queues, ``drain``
    runs what was posted (workers run inline, at once)."""

    def __init__(self) -> None:
        self.posted: list[Callable[[], None]] = []

    def post(self, work: Callable[[], None]) -> None:
        self.posted.append(work)

    def drain(self) -> None:
        while self.posted:
            self.posted.pop(0)()


@pytest.fixture
def cut(tmp_path: Path) -> Iterator[tuple[Controller, Link, Loop]]:
    """A controller over the demo whose link to the target can be cut,
    connected, probed and planned."""
    link = Link()
    report = Report(tmp_path / "report")
    session = Session(cuttable_demo(tmp_path, link), report, report.event, threading.Event())
    loop = Loop()
    controller = Controller(
        session, load_answers(str(example_file("answers.yaml"))), DemoNetwork(), spawn=inline, post=loop.post
    )
    for step in (controller.connect, controller.probe, controller.plan):
        step(value)
        loop.drain()
    yield controller, link, loop
    controller.close()
    report.close()


def test_a_lost_link_ends_resumable_and_retry_connects_again_and_completes(
    cut: tuple[Controller, Link, Loop], tmp_path: Path
) -> None:
    controller, link, loop = cut
    link.cut_in_copy = True
    finished: list[Ending] = []
    controller.start(lambda e: None, finished.append)
    assert finished == []  # nothing reaches the screen but through the UI loop
    loop.drain()
    (lost,) = finished
    assert lost.lost and not lost.ok and not lost.cancelled
    assert lost.message.startswith("the link to the target is lost")
    assert (
        (tmp_path / "report" / "result.txt").read_text().startswith("stopped: the link to the target is lost")
    )

    # still cut: connecting again fails, and the run stays retryable
    controller.retry(lambda e: None, finished.append)
    loop.drain()
    assert finished[1].lost and finished[1].message.startswith("could not connect to the target again")

    link.restore()
    before = controller.connected
    events: list[Event] = []
    controller.retry(events.append, finished.append)
    assert controller.connected is before  # changed on the UI loop only
    loop.drain()
    assert controller.connected is not before and controller.connected is not None
    assert finished[2].ok and "gnt-instance start" in finished[2].next_steps
    logs = [e.message for e in events if isinstance(e, Log)]
    assert "unmounting what an earlier run left mounted on the target: /target" in logs
    assert all(e.ok for e in events if isinstance(e, StepFinished))
    assert (tmp_path / "report" / "result.txt").read_text().startswith("migrated into web01.example.org")


def test_a_retry_goes_on_even_after_a_cancel_asked_while_the_link_was_dying(
    cut: tuple[Controller, Link, Loop],
) -> None:
    controller, link, loop = cut
    link.cut_at_command = "mkswap"
    finished: list[Ending] = []
    controller.start(lambda e: None, finished.append)
    controller.cancel()  # as if pressed while the hung command waited for the link timeout
    loop.drain()
    assert finished[0].lost
    link.restore()
    controller.retry(lambda e: None, finished.append)
    loop.drain()
    assert finished[1].ok, finished[1]


def test_state_changes_reach_the_controller_on_the_ui_loop_only(tmp_path: Path) -> None:
    """Each step's result is kept by the session, and shown by the
    controller, only once the UI loop runs what the worker posted."""
    report = Report(tmp_path / "report")
    session = Session(cuttable_demo(tmp_path, Link()), report, report.event, threading.Event())
    loop = Loop()
    controller = Controller(
        session, load_answers(str(example_file("answers.yaml"))), DemoNetwork(), spawn=inline, post=loop.post
    )
    got: list[object] = []
    for step, shown in (
        (controller.connect, lambda: controller.connected),
        (controller.probe, lambda: controller.machine),
        (controller.plan, lambda: controller.prepared),
    ):
        before = len(got)
        step(got.append)
        assert len(got) == before and shown() is None  # the worker's result waits for the loop
        loop.drain()
        (result,) = got[before:]
        assert isinstance(result, Done) and shown() is result.value
    assert (controller.connected, controller.machine, controller.prepared) == (
        session.connected,
        session.machine,
        session.prepared,
    )
    controller.close()
    report.close()
