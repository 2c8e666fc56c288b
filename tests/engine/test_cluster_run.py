"""A headless run with a ``cluster:`` section, on the built-in demo (real
rsync into a directory, a simulated target), with the real RAPI client
talking HTTPS to a local server that answers as the lab's Ganeti 3.0.2 did
(tests/lab/rapi_replay.py: recorded answers), and the boot proof made by
the real handshake against an sshd on loopback holding the source's host
key. (Ganeti itself runs in the lab: tests/ganeti and make lab.)

What is proven here is the order and the content of what p2v asks the
cluster: every check before anything is created, Ganeti's dry run before
the creation, the secret host key only in the create requests, the
hand-over (stop, modify, start) and its proof; and each refusal before any
create."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest
import yaml

from p2v_tui.engine.headless import Options, run
from p2v_tui.engine.session import Parts
from p2v_tui.model.answers import Answers, answers_from_doc
from p2v_tui.model.hostkey import GeneratedHostKey
from tests.lab.cluster_demo import BASE, NAME, PASSWORD, cluster_demo, job
from tests.lab.rapi_replay import Answer, Cert, Replay, make_cert
from tests.lab.sshd import loopback_sshd


@dataclass
class World:
    parts: Parts
    answers: Answers
    replay: Replay
    source_key: GeneratedHostKey
    sshd_port: int
    tmp: Path

    def run(self, *, dry_run: bool = False, answers: Answers | None = None) -> tuple[int, str, Path]:
        out = io.StringIO()
        report = self.tmp / f"report-{len(list(self.tmp.glob('report-*')))}"
        code = run(answers or self.answers, self.parts, Options(report, dry_run=dry_run, console=out))
        return code, out.getvalue(), report

    def requests(self) -> list[str]:
        return [f"{s.method} {s.path}" for s in self.replay.seen]

    def body(self, request: str) -> Any:
        return json.loads(next(s.body for s in self.replay.seen if f"{s.method} {s.path}" == request))


@pytest.fixture(scope="module")
def cert(tmp_path_factory: pytest.TempPathFactory) -> Cert:
    return make_cert(tmp_path_factory.mktemp("rapi-cert"))


@pytest.fixture
def world(tmp_path: Path, cert: Cert) -> Iterator[World]:
    with cluster_demo(tmp_path, cert) as demo:
        yield World(
            demo.parts, answers_from_doc(demo.doc), demo.replay, demo.source_key, demo.sshd_port, tmp_path
        )


def test_created_migrated_handed_over_and_proven(world: World) -> None:
    with loopback_sshd(world.tmp / "migrated", world.source_key.private, world.sshd_port):
        code, out, report = world.run()
    assert code == 0, out
    seen = world.requests()
    creates = [i for i, r in enumerate(seen) if r.startswith("POST /2/instances")]
    assert [seen[i] for i in creates] == ["POST /2/instances?dry-run=1", "POST /2/instances"]
    assert seen.index("GET /2/jobs/0/wait") < seen.index(f"GET {BASE}") < creates[0]
    hand = [r for r in seen if r.startswith(f"PUT {BASE}")]
    assert hand == [
        f"PUT {BASE}/startup",
        f"PUT {BASE}/shutdown",
        f"PUT {BASE}/modify",
        f"PUT {BASE}/startup",
    ]
    create = world.body("POST /2/instances")
    assert create == world.body("POST /2/instances?dry-run=1")
    secret = create["osparams_secret"]["ssh_host_key"]
    assert secret.startswith("-----BEGIN OPENSSH PRIVATE KEY-----")
    assert create["osparams"]["ssh_key"].startswith("ssh-ed25519 ")
    assert create["osparams"]["address"] == "198.51.100.20/24"
    assert create["nics"] == [{"link": "gntbr0", "ip": "198.51.100.20"}]
    assert create["hvparams"]["initrd_path"].endswith("p2v-bootstrap-initrd.img")
    assert world.body(f"PUT {BASE}/modify") == {
        "hvparams": {"kernel_path": "", "initrd_path": ""},
        "beparams": {"maxmem": 2048, "minmem": 2048},
    }
    result = (report / "result.txt").read_text()
    assert (
        f"Booted: {NAME} answered SSH at 127.0.0.1 with the source's host key (ssh-ed25519 SHA256:" in result
    )
    proof = json.loads((report / "boot-proof.json").read_text())
    assert proof["address"] == "127.0.0.1" and proof["host_key"].startswith("ssh-ed25519 SHA256:")
    resume = yaml.safe_load((report / "answers-bootstrap.yaml").read_text())
    assert "cluster" not in resume and resume["target"]["host"] == "198.51.100.20"
    assert resume["target"]["host_key"].startswith("ssh-ed25519 AAAA")
    body = "".join(secret.splitlines()[1:-1])
    for path in report.rglob("*"):
        if path.is_file():
            text = path.read_text(errors="replace")
            assert body not in text and PASSWORD not in text, path
    assert body not in out and PASSWORD not in out


def test_the_dry_run_creates_nothing(world: World) -> None:
    code, out, report = world.run(dry_run=True)
    assert code == 0, out
    assert "creates instance p2v1.gntlab.test (stopped), on node node1.gntlab.test" in out
    assert "nothing was created" in out
    assert [r for r in world.requests() if r.startswith(("POST", "PUT"))] == ["POST /2/instances?dry-run=1"]
    assert (report / "plan.json").exists() and not (report / "answers-bootstrap.yaml").exists()


@pytest.mark.parametrize(
    ("route", "answer", "says"),
    [
        (("GET", "/2/jobs/0/wait"), Answer.of("probe-read-only.json"), "has read-only access"),
        (("GET", "/2/jobs/0/wait"), Answer.of("probe-bad-password.json"), "401"),
        (
            ("GET", BASE),
            Answer.of("instance-p2v1-running.json"),
            f"the cluster has an instance {NAME} already",
        ),
        (("GET", "/2/jobs/5"), job("job-ipolicy-violated.json", 5), "violates policy"),
    ],
    ids=["read-only", "bad-password", "exists", "policy"],
)
def test_a_refusal_comes_before_anything_is_created(
    world: World, route: tuple[str, str], answer: Answer, says: str
) -> None:
    world.replay.on(*route, answer)
    code, out, report = world.run()
    assert code == 1, out
    assert says in out and "Traceback" not in out
    assert "POST /2/instances" not in world.requests()
    assert not [r for r in world.requests() if r.startswith("PUT")]
    assert "failed" in (report / "result.txt").read_text()


def test_a_wrong_certificate_sends_nothing(world: World, tmp_path: Path) -> None:
    other = make_cert(tmp_path)
    doc_cluster = replace(world.answers.cluster, pin=other.pin)  # type: ignore[type-var]
    code, out, _report = world.run(answers=replace(world.answers, cluster=doc_cluster))
    assert code == 1 and "certificate" in out.lower(), out
    assert world.replay.seen == []


def test_a_server_that_does_not_come_up_is_left_stopped_and_the_way_back_said(world: World) -> None:
    code, out, report = world.run()  # no sshd: nothing answers at the migrated address
    assert code == 1, out
    assert f"the migrated {NAME} did not prove it booted" in out
    assert "the instance is stopped" in out and "the source's disks were never written" in out
    hand = [r for r in world.requests() if r.startswith(f"PUT {BASE}")]
    assert hand[-2:] == [f"PUT {BASE}/startup", f"PUT {BASE}/shutdown"]
    assert "did not prove it booted" in (report / "result.txt").read_text()
