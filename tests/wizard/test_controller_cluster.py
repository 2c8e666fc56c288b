"""The wizard's controller with a Ganeti cluster: the demo, the real RAPI
client against the replayed Ganeti answers and a loopback sshd for the
boot proof (tests/lab/cluster_demo.py, as the headless cluster run). The
cluster is checked when the plan is made, nothing is created before the
migration starts, and the run ends with the proof; a read-only RAPI user
is refused while planning, before anything is created."""

from __future__ import annotations

import shutil
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import TypeVar

import pytest
import yaml

from p2v_tui.demo import DemoNetwork
from p2v_tui.engine.ending import Ending
from p2v_tui.engine.prepare import Prepared
from p2v_tui.engine.session import Session
from p2v_tui.model.answers import answers_from_doc
from p2v_tui.model.cluster_fields import ClusterFields
from p2v_tui.model.events import Event
from p2v_tui.system.report import Report
from p2v_tui.tui.controller import Controller, Done, Failed, Result, inline
from p2v_tui.tui.screens.confirm import ConfirmScreen
from tests.lab.cluster_demo import ADDRESS, BASE, NAME, NODE, ClusterDemo, cluster_demo
from tests.lab.rapi_replay import Answer, Cert, make_cert
from tests.lab.sshd import loopback_sshd
from tests.tui.render import screen
from tests.tui.screens.support import FakeNav

if not shutil.which("rsync") or not shutil.which("sshd"):
    pytest.skip("needs rsync and sshd", allow_module_level=True)

T = TypeVar("T")


@pytest.fixture(scope="module")
def cert(tmp_path_factory: pytest.TempPathFactory) -> Cert:
    return make_cert(tmp_path_factory.mktemp("rapi-cert"))


@pytest.fixture
def world(tmp_path: Path, cert: Cert) -> Iterator[tuple[Controller, ClusterDemo]]:
    with cluster_demo(tmp_path, cert) as demo:
        plain = dict(demo.doc)
        del plain["cluster"]  # the wizard starts without one: the Target screen gives it
        report = Report(tmp_path / "report")
        session = Session(demo.parts, report, report.event, threading.Event())
        controller = Controller(session, answers_from_doc(plain), DemoNetwork(), spawn=inline)
        yield controller, demo
        controller.close()
        report.close()


def fields(demo: ClusterDemo) -> ClusterFields:
    """What a person types on the Target screen."""
    return ClusterFields(
        rapi="https://127.0.0.1",
        user="p2vw",
        password_file=str(demo.password_file),
        certificate=str(demo.cert.pin),
        name=NAME,
        address=ADDRESS,
        migrated_address="127.0.0.1",
        pnode=NODE,
    )


def value(result: Result[T]) -> T:
    assert isinstance(result, Done), result
    return result.value


def test_the_wizard_creates_migrates_hands_over_and_proves(
    world: tuple[Controller, ClusterDemo], tmp_path: Path
) -> None:
    controller, demo = world
    controller.set_cluster(fields(demo), str(demo.identity))
    assert controller.on_cluster and controller.connected is None
    controller.probe(value)
    got: list[Result[Prepared]] = []
    controller.plan(got.append)
    prepared = value(got[0])
    assert prepared.facts.name == NAME and controller.instance_name == NAME
    ready = controller.cluster_ready
    assert ready is not None and ready.spec.pnode == NODE
    assert demo.creates() == ["POST /2/instances?dry-run=1"]  # checked, nothing created
    controller.plan(value)  # a plan again: the cluster is not asked again
    assert demo.creates() == ["POST /2/instances?dry-run=1"]
    confirm = ConfirmScreen(controller, FakeNav())
    confirm.enter()
    shown = " ".join(screen(confirm.frame, rows=40).split())
    assert f"CREATED on the Ganeti cluster https://127.0.0.1:5080: instance {NAME}" in shown
    assert f"on node {NODE}" in shown and f"ERASED on instance {NAME}" in shown
    assert "proves it booted: SSH at 127.0.0.1" in shown and f"Create {NAME}" in shown
    events: list[Event] = []
    finished: list[Ending] = []
    with loopback_sshd(tmp_path / "migrated", demo.source_key.private, demo.sshd_port):
        controller.start(events.append, finished.append)
    assert finished and finished[0].ok, finished
    assert f"Booted: {NAME} answered SSH at 127.0.0.1 with the source's host key" in finished[0].next_steps
    assert demo.creates() == [
        "POST /2/instances?dry-run=1",
        "POST /2/instances",
        f"PUT {BASE}/startup",
        f"PUT {BASE}/shutdown",
        f"PUT {BASE}/modify",
        f"PUT {BASE}/startup",
    ]
    assert events and (tmp_path / "target" / "target" / "etc" / "fstab").exists()
    written = yaml.safe_load((tmp_path / "report" / "answers.yaml").read_text())
    assert written["cluster"]["instance"]["name"] == NAME and "host" not in written["target"]
    assert written["cluster"]["password_file"] == str(demo.password_file)
    assert (tmp_path / "report" / "boot-proof.json").exists()


def test_a_read_only_user_is_refused_while_planning(world: tuple[Controller, ClusterDemo]) -> None:
    controller, demo = world
    demo.replay.on("GET", "/2/jobs/0/wait", Answer.of("probe-read-only.json"))
    controller.set_cluster(fields(demo), str(demo.identity))
    controller.probe(value)
    got: list[Result[Prepared]] = []
    controller.plan(got.append)
    assert isinstance(got[0], Failed) and "has read-only access" in got[0].message
    assert controller.cluster_ready is None and controller.prepared is None
    assert demo.creates() == []


def test_back_to_an_existing_instance_drops_the_cluster(world: tuple[Controller, ClusterDemo]) -> None:
    controller, demo = world
    controller.set_cluster(fields(demo), str(demo.identity))
    controller.set_no_cluster()
    assert not controller.on_cluster and controller.answers.cluster is None
