"""The built-in demo with a Ganeti cluster beside it: the real RAPI client
over HTTPS to a local server replaying the lab's recorded Ganeti answers
(tests/lab/rapi_replay.py), a source with an SSH host key, and the boot
proof made by a real handshake with an sshd on loopback holding that key
(tests/lab/sshd.loopback_sshd at :attr:`ClusterDemo.sshd_port`). Shared by
the headless and the wizard's cluster runs."""

from __future__ import annotations

import contextlib
import copy
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import yaml

from p2v_tui.demo import demo_parts, example_file
from p2v_tui.engine.cluster import ClusterParts
from p2v_tui.engine.session import Parts
from p2v_tui.model.answers import Answers
from p2v_tui.model.hostkey import GeneratedHostKey, HostKeyPin
from p2v_tui.model.machine import ConfigSnapshot, Machine
from p2v_tui.model.rapi_requests import RapiEndpoint
from p2v_tui.system.keyfile import generate_host_key, public_key_line
from p2v_tui.system.rapi import RapiClient
from p2v_tui.system.ssh import prove_host_key

from .rapi_replay import Answer, Cert, Replay, recorded, replay_server
from .sshd import free_port

NAME = "p2v1.gntlab.test"
BASE = f"/2/instances/{NAME}"
PASSWORD = "Wr1te-Only-Lab-Pw"  # test-only
NODE = "node1.gntlab.test"
ADDRESS = "198.51.100.20/24"
"""The bootstrap's address."""


def job(name: str, job_id: int) -> Answer:
    doc: dict[str, Any] = copy.deepcopy(recorded(name)["body"])
    doc["id"] = job_id
    return Answer.json(doc)


def cluster_routes(replay: Replay) -> None:
    """A cluster that accepts everything: the lab's recorded answers."""
    replay.on("GET", "/2/jobs/0/wait", Answer.of("probe-write.json"))
    replay.on("GET", "/2/features", Answer.of("features.json"))
    replay.on("GET", "/2/info", Answer.of("cluster-info.json"))
    replay.on("GET", "/2/groups?bulk=1", Answer.json([recorded("group-default.json")["body"]]))
    replay.on("GET", "/2/nodes?bulk=1", Answer.of("nodes-bulk.json"))
    replay.on("GET", BASE, Answer.of("error-404.json"), Answer.of("instance-p2v1-running.json"))
    replay.on("POST", "/2/instances?dry-run=1", Answer.json(5))
    replay.on("GET", "/2/jobs/5", job("job-dry-run-success.json", 5))
    replay.on("POST", "/2/instances", Answer.json(15))
    replay.on("GET", "/2/jobs/15", job("job-create-success.json", 15))
    replay.on("PUT", f"{BASE}/startup", Answer.json(61), Answer.json(63))
    replay.on("GET", "/2/jobs/61", job("job-startup-success.json", 61))
    replay.on("GET", "/2/jobs/63", job("job-startup-success.json", 63))
    replay.on("PUT", f"{BASE}/shutdown", Answer.json(62), Answer.json(64))
    replay.on("GET", "/2/jobs/62", job("job-startup-success.json", 62))
    replay.on("GET", "/2/jobs/64", job("job-startup-success.json", 64))
    replay.on("PUT", f"{BASE}/modify", Answer.json(19))
    replay.on("GET", "/2/jobs/19", job("job-modify-success.json", 19))


@dataclass
class ClusterDemo:
    parts: Parts
    doc: dict[str, Any]
    """The demo's answers document with a cluster section (and no target host)."""
    replay: Replay
    source_key: GeneratedHostKey
    sshd_port: int
    identity: Path
    password_file: Path
    cert: Cert

    def requests(self) -> list[str]:
        return [f"{s.method} {s.path}" for s in self.replay.seen]

    def creates(self) -> list[str]:
        """What was asked of the cluster that creates or changes something."""
        return [r for r in self.requests() if r.startswith(("POST", "PUT"))]


@contextlib.contextmanager
def cluster_demo(tmp: Path, cert: Cert) -> Iterator[ClusterDemo]:
    """The demo (source and target under ``tmp``) with a cluster replaying
    :func:`cluster_routes`; the sshd is the caller's to start."""
    identity = tmp / "id_ed25519"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(identity)], check=True)
    password_file = tmp / "rapi-password"
    password_file.write_text(PASSWORD + "\n")
    source_key = generate_host_key()
    demo = demo_parts(tmp / "source", tmp / "target")

    def probe(a: Answers) -> Machine:  # the demo source, with its SSH host key
        m = demo.probe(a)
        files = {**m.config.files, "/etc/ssh/ssh_host_ed25519_key.pub": source_key.public + " root@web01\n"}
        return replace(m, config=ConfigSnapshot(files=files, links=m.config.links))

    sshd_port = free_port()
    with replay_server(cert) as replay:
        cluster_routes(replay)

        def rapi(c: Any) -> RapiClient:
            return RapiClient(RapiEndpoint("127.0.0.1", replay.port), c.pin, c.user, PASSWORD, timeout=5)

        def prove(host: str, pins: tuple[HostKeyPin, ...], within: float) -> tuple[float, HostKeyPin]:
            return prove_host_key(host, sshd_port, pins, within=min(within, 4), pause=0.5)

        parts = replace(
            demo,
            probe=probe,
            cluster=ClusterParts(
                rapi=rapi,
                new_host_key=generate_host_key,
                public_key=public_key_line,
                source_macs=dict,
                prove=prove,
            ),
        )
        doc = yaml.safe_load(example_file("answers.yaml").read_text())
        del doc["target"]["host"], doc["target"]["host_key"], doc["after"]
        doc["target"]["identity"] = str(identity)
        doc["cluster"] = {
            "rapi": "https://127.0.0.1",
            "user": "p2vw",
            "password_file": str(password_file),
            "certificate": str(cert.pin),
            "migrated_address": "127.0.0.1",
            "instance": {"name": NAME, "pnode": NODE, "address": ADDRESS,
                         "nics": [{"link": "gntbr0"}], "run_memory": "2G"},
        }  # fmt: skip
        yield ClusterDemo(parts, doc, replay, source_key, sshd_port, identity, password_file, cert)
