"""The answers' cluster section: what it reads as, its defaults, how it
combines with target and instance, and that no secret in it is repeated.
(Each refusal of tests/data/answers-hostile/cluster-*.yaml goes through the
real program in tests/test_hostile_answers.py.)"""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import pytest
import yaml

from p2v_tui.model.answers import answers_from_doc, answers_to_doc, validation_errors
from p2v_tui.model.answers_cluster import (
    MEMORY_DEFAULT,
    RAMBOOT_INITRD,
    RAMBOOT_KERNEL,
    NicAnswers,
)
from p2v_tui.model.rapi_requests import RapiEndpoint
from p2v_tui.model.units import GiB, MiB
from p2v_tui.system.answers_io import answers_schema

PIN = "80:AA:1F:6C:02:9D:3E:4B:5A:69:78:87:96:A5:B4:C3:D2:E1:F0:0F:1E:2D:3C:4B:5A:69:78:87:96:A5:B4:C3"
ADDRESS = "198.51.100.20/24"
HOST_KEY = "SHA256:2mhgpoUuP6MaGwICixwTtTCcOJuaVAyyyiNy3hy42JY"


def cluster(**instance: Any) -> dict[str, Any]:
    nics = instance.get("nics") or [{}]
    brings = isinstance(nics[0], dict) and "network" in nics[0] and "ip" in nics[0]
    return {
        "rapi": "https://cluster.example.org",
        "user": "p2v",
        "password_file": "/root/rapi-password",
        "certificate": PIN,
        "migrated_address": "198.51.100.20",
        # the bootstrap's address, unless NIC 0's Ganeti network brings it
        "instance": {"name": "web01.example.org", **({} if brings else {"address": ADDRESS}), **instance},
    }


def doc(section: dict[str, Any] | None = None, **extra: Any) -> dict[str, Any]:
    return {"version": 1, "target": {"identity": "/root/key"}, "cluster": section or cluster(), **extra}


def errors(d: Any) -> list[str]:
    return validation_errors(d, answers_schema())


def test_the_least_section_takes_the_defaults() -> None:
    assert errors(doc()) == []
    c = answers_from_doc(doc()).cluster
    assert c is not None
    assert c.rapi == RapiEndpoint("cluster.example.org", 5080)
    assert c.user == "p2v" and c.password_file == "/root/rapi-password"
    assert c.pin is not None and str(c.pin) == PIN and c.certificate_file is None
    i = c.instance
    assert i.memory == MEMORY_DEFAULT == 256 * MiB and i.vcpus == 1
    assert i.disk_template is None and i.disks is None  # the cluster's, the plan's
    assert i.pnode is None and i.iallocator is None  # the cluster's default allocator
    assert i.nics == (NicAnswers(),)  # one NIC on the default link, MAC from Ganeti
    assert i.os_type == "p2v-target+default"
    assert (i.ramboot.kernel, i.ramboot.initrd) == (RAMBOOT_KERNEL, RAMBOOT_INITRD)


def test_every_key_reads_as_what_it_says() -> None:
    section = cluster(
        disk_template="drbd",
        disks=["40G", "1.5T"],
        memory="512M",
        vcpus=2,
        pnode="node1.example.org",
        nics=[
            {"network": "lan", "ip": "pool", "mac": "keep"},
            {"link": "br1", "ip": "192.0.2.7", "mac": "AA-00-00-12-34-56"},
        ],
        os_variant="testing",
        ramboot={"kernel": "/srv/p2v/vmlinuz", "initrd": "/srv/p2v/initrd.img"},
    )
    section["rapi"] = "https://[2001:db8::5]:8443"
    section["certificate"] = "/root/rapi.pem"
    c = answers_from_doc(doc(section)).cluster
    assert c is not None and errors(doc(section)) == []
    assert c.rapi == RapiEndpoint("2001:db8::5", 8443) and str(c.rapi) == "https://[2001:db8::5]:8443"
    assert c.pin is None and c.certificate_file == "/root/rapi.pem"
    i = c.instance
    assert i.disks == (40 * GiB, 1536 * GiB) and i.memory == 512 * MiB and i.vcpus == 2
    assert i.pnode == "node1.example.org" and i.disk_template == "drbd"
    assert i.nics == (
        NicAnswers(network="lan", ip="pool", mac="keep"),
        NicAnswers(link="br1", ip="192.0.2.7", mac="aa:00:00:12:34:56"),
    )
    assert i.os_type == "p2v-target+testing" and i.ramboot.kernel == "/srv/p2v/vmlinuz"
    # written back, it reads the same
    again = answers_to_doc(answers_from_doc(doc(section)))
    assert errors(again) == [] and answers_from_doc(again) == answers_from_doc(doc(section))
    assert "host" not in again["target"] and "host_key" not in again["target"]


@pytest.mark.parametrize(
    "certificate",
    [
        PIN,
        PIN.replace(":", "").lower(),
        f"sha256 Fingerprint={PIN}",
        "SHA256:" + base64.b64encode(bytes.fromhex(PIN.replace(":", ""))).decode().rstrip("="),
    ],
    ids=["openssl", "bare-hex", "openssl-line", "openssh-base64"],
)
def test_a_fingerprint_in_any_spelling_is_the_same_pin(certificate: str) -> None:
    section = {**cluster(), "certificate": certificate}
    assert errors(doc(section)) == []
    c = answers_from_doc(doc(section)).cluster
    assert c is not None and c.pin is not None and str(c.pin) == PIN


def test_without_a_cluster_section_the_target_is_still_required_in_full() -> None:
    found = errors({"version": 1, "target": {"identity": "/root/key"}})
    assert "target.host: required" in found and "target.host_key: required" in found
    assert errors({"version": 1, "cluster": cluster()}) == ["target: required"]
    assert "target.identity: required" in errors(doc(target={"port": 22}))
    # the wizard asks for what an interactive file leaves out
    assert errors({"version": 1, "interactive": True, "cluster": cluster()}) == []


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        ({"target": {"identity": "/k", "host": "192.0.2.20"}}, "target.host: not with a cluster section"),
        ({"target": {"identity": "/k", "host_key": HOST_KEY}}, "target.host_key: not with a cluster section"),
        ({"instance": {"name": "web01.example.org"}}, "instance: not with a cluster section"),
    ],
)
def test_what_the_created_instance_tells_is_not_given_beside_it(extra: dict[str, Any], expected: str) -> None:
    found = errors(doc(**extra))
    assert any(line.startswith(expected) for line in found), found


@pytest.mark.parametrize(
    ("change", "secret"),
    [
        ({"rapi": "https://p2v:Tr0ub4dor@cluster.example.org:5080"}, "Tr0ub4dor"),
        ({"rapi": "https://p2v:Tr0ub4dor@[2001:db8::5:5080"}, "Tr0ub4dor"),
        ({"password": "Tr0ub4dor"}, "Tr0ub4dor"),
        ({"password_file": "Tr0ub4dor"}, "Tr0ub4dor"),
        ({"password_file": "Tr0ub4dor/../x"}, "Tr0ub4dor"),
    ],
    ids=["in-the-url", "in-a-broken-url", "inline", "instead-of-the-path", "a-path-with-dotdot"],
)
def test_a_password_where_it_does_not_belong_is_refused_and_not_repeated(
    change: dict[str, Any], secret: str
) -> None:
    found = errors(doc({**cluster(), **change}))
    assert found and not [line for line in found if secret in line], found


@pytest.mark.parametrize(
    ("instance", "expected"),
    [
        ({"name": "WEB01.Example.org"}, None),
        ({"pnode": "node1.example.org"}, None),
        ({"iallocator": "hail"}, None),
        ({"nics": [{"mac": "keep"}]}, None),
        ({"nics": [{"network": "lan", "ip": "2001:db8::10"}]}, None),
        (
            {"nics": [{"link": "br0", "ip": "192.0.2.300"}]},
            "cluster.instance.nics[0].ip: address '192.0.2.300'",
        ),
        ({"nics": []}, "cluster.instance.nics: [] is too short"),
        ({"nics": [{}] * 9}, "cluster.instance.nics: "),
        ({"disks": ["20G"] * 17}, "cluster.instance.disks: "),
        ({"disks": ["20 gigs"]}, "cluster.instance.disks[0]: expected a size like 20G"),
        ({"memory": "256"}, "cluster.instance.memory: '256' is less than 256 MiB"),
        ({"vcpus": 1.0}, "cluster.instance.vcpus: expected integer, got float"),
        (
            {"iallocator": "hail;reboot"},
            "cluster.instance.iallocator: 'hail;reboot' is not a name Ganeti has",
        ),
        ({"pnode": "node 1"}, "cluster.instance.pnode: letters, digits and '-' between dots"),
        (
            {"ramboot": {"initrd": "/srv//initrd"}},
            "cluster.instance.ramboot.initrd: '/srv//initrd' has an empty",
        ),
        ({"ramboot": {"kernel_path": "/k"}}, "cluster.instance.ramboot.kernel_path: unknown key"),
        ({"nics": [{"mode": "routed"}]}, "cluster.instance.nics[0].mode: unknown key"),
        ({"address": "198.51.100.20"}, "cluster.instance.address: "),
        ({"address": "198.51.100.20/24", "nics": [{"ip": "198.51.100.21"}]}, "cluster.instance.nics[0].ip: "),
        ({"address": "198.51.100.20/24", "nics": [{"ip": "198.51.100.20"}]}, None),
        ({"gateway": "198.51.100.1", "dns": ["198.51.100.53"]}, None),
        ({"gateway": "2001:db8::1"}, "cluster.instance.gateway: gateway 2001:db8::1 is IPv6"),
        ({"dns": ["ns1.example.org"]}, "cluster.instance.dns[0]: "),
        ({"dns": ["192.0.2.53"] * 4}, "cluster.instance.dns: "),
        ({"address": "198.51.100.20/24\nfoo"}, "cluster.instance.address: contains"),
    ],
)
def test_instance_values_are_checked_for_what_they_are(
    instance: dict[str, Any], expected: str | None
) -> None:
    found = errors(doc(cluster(**instance)))
    if expected is None:
        assert found == []
    else:
        assert any(line.startswith(expected) for line in found), found


def test_the_section_is_required_in_full() -> None:
    section = cluster()
    del section["user"], section["instance"]["name"]
    assert sorted(errors(doc(section))) == ["cluster.instance.name: required", "cluster.user: required"]


def test_the_shipped_example_reads_back() -> None:
    path = Path(__file__).parents[2] / "examples" / "answers" / "ganeti-rapi.yaml"
    example = yaml.safe_load(path.read_text())
    assert errors(example) == []
    a = answers_from_doc(example)
    assert a.cluster is not None and a.cluster.instance.nics[0].mac == "keep"
    assert answers_from_doc(answers_to_doc(a)) == a


def test_p2v_must_know_where_the_bootstrap_and_the_migrated_server_answer() -> None:
    section = cluster()
    del section["instance"]["address"], section["migrated_address"]
    found = errors(doc(section))
    assert [line.split(":")[0] for line in found] == ["cluster.instance.address", "cluster.migrated_address"]
    section["instance"]["nics"] = [{"network": "lan", "ip": "pool"}]  # Ganeti's network gives the address
    assert errors(doc(section, network={"address": "198.51.100.30/24"})) == []
    section["instance"]["gateway"] = "198.51.100.1"
    assert errors(doc(section, network={"address": "198.51.100.30/24"})) == [
        "cluster.instance.gateway: only with cluster.instance.address (else NIC 0's Ganeti network gives it)"
    ]


def test_the_bootstrap_network_and_the_proof_read_back() -> None:
    section = cluster(gateway="198.51.100.1", dns=["198.51.100.53"])
    section["boot_timeout"] = 600
    a = answers_from_doc(doc(section))
    assert a.cluster is not None
    i = a.cluster.instance
    assert (i.address, i.gateway, i.dns) == (ADDRESS, "198.51.100.1", ("198.51.100.53",))
    assert (a.cluster.migrated_address, a.cluster.boot_timeout) == ("198.51.100.20", 600)
    assert answers_from_doc(answers_to_doc(a)) == a
