"""The instance p2v creates from the answers' cluster section and the
cluster's facts (the lab's recorded Ganeti 3.0.2 answers), its default
disk size, and the lines that describe it."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import pytest

from p2v_tui.demo import build_sample_tree, demo_machine
from p2v_tui.model.answers import answers_from_doc
from p2v_tui.model.answers_cluster import ClusterAnswers, ClusterInstanceAnswers, NicAnswers
from p2v_tui.model.cluster_plan import (
    ClusterPlanError,
    bootstrap_address,
    bootstrap_nics,
    bootstrap_osparams,
    cluster_boot_problem,
    default_disk_size,
    disk_sizes,
    final_hvparams,
    instance_spec,
    needed_disk_size,
    planned_facts,
    planning_policy,
    policy_disk_bounds,
    run_beparams,
)
from p2v_tui.model.describe import describe_cluster
from p2v_tui.model.layout import plan_layout
from p2v_tui.model.machine import Machine
from p2v_tui.model.plan import LayoutChoices, LayoutError, LayoutRequest
from p2v_tui.model.rapi_cluster import (
    ClusterInfo,
    IPolicy,
    ISpec,
    parse_cluster_info,
    parse_group,
    parse_instance,
)
from p2v_tui.model.rapi_requests import NicSpec, create_instance_body
from p2v_tui.model.target import TargetDisk
from p2v_tui.model.units import GiB, MiB, TiB

DATA = Path(__file__).parents[1] / "data" / "rapi"
PIN = "80:AA:1F:6C:02:9D:3E:4B:5A:69:78:87:96:A5:B4:C3:D2:E1:F0:0F:1E:2D:3C:4B:5A:69:78:87:96:A5:B4:C3"
LAB_INFO = parse_cluster_info(json.loads((DATA / "cluster-info.json").read_text())["body"])
"""file disks only, default iallocator hail; policy: disks of 1 GiB to 1 TiB,
memory 128 MiB to 32 GiB, 1 to 8 vcpus, 1 to 16 disks, 1 to 8 NICs."""


def lab_cluster(**instance: Any) -> ClusterAnswers:
    doc = {
        "version": 1,
        "target": {"identity": "/root/key"},
        "cluster": {
            "rapi": "https://cluster.gntlab.test",
            "user": "p2vw",
            "password_file": "/root/rapi-password",
            "certificate": PIN,
            "instance": {"name": "p2v1.gntlab.test", **instance},
        },
    }
    c = answers_from_doc(doc).cluster
    assert c is not None
    return c


# -- the default disk size -------------------------------------------------------

WIDE = ((1024, 1024 * 1024),)  # the lab's: 1 GiB to 1 TiB


@pytest.mark.parametrize(
    ("needed", "bounds", "expected"),
    [
        (14 * GiB, WIDE, 16 * 1024),  # 15.4 GiB with 10 % -> 16 GiB
        (10 * GiB, WIDE, 11 * 1024),  # exactly 11 GiB: no rounding up past it
        (20 * GiB + 1, WIDE, 23 * 1024),  # a byte over 20 GiB is 22.0000001 GiB with headroom
        (100 * MiB, WIDE, 1024),  # wanted 1 GiB: the policy's smallest anyway
        (100 * MiB, ((4096, 8192),), 4096),  # raised to the policy's smallest disk
        (19 * GiB, ((1024, 20 * 1024),), 20 * 1024),  # 21 GiB wanted, 20 allowed: less headroom, fits
        (20 * GiB, ((1024, 20 * 1024),), 20 * 1024),  # needs all of the largest disk
        (30 * GiB, ((1024, 10 * 1024), (20 * 1024, 64 * 1024)), 33 * 1024),  # the pair that reaches it
        (5 * GiB, ((1024, 10 * 1024), (4096, 64 * 1024)), 6 * 1024),  # the smaller of two that do
        (900 * GiB, ((1024, 950 * 1024), (1024, 960 * 1024)), 960 * 1024),  # no room for headroom
    ],
)
def test_the_default_disk_is_what_the_plan_needs_plus_headroom_within_the_policy(
    needed: int, bounds: tuple[tuple[int, int], ...], expected: int
) -> None:
    assert default_disk_size(needed, bounds) == expected
    assert expected * MiB >= needed


def test_a_disk_no_policy_allows_is_refused_with_both_sizes() -> None:
    with pytest.raises(ClusterPlanError, match=r"needs a disk of 30.0 GiB; .* allows at most 20.0 GiB"):
        default_disk_size(30 * GiB, ((1024, 20 * 1024),))
    with pytest.raises(ClusterPlanError, match="allows no instance"):
        default_disk_size(GiB, ())


def test_the_policy_bounds_are_those_of_the_pairs_the_instance_fits() -> None:
    policy = LAB_INFO.ipolicy
    assert policy_disk_bounds(policy, memory=256, vcpus=1, disk_count=1, nic_count=1) == ((1024, 1048576),)
    assert policy_disk_bounds(policy, memory=64, vcpus=1, disk_count=1, nic_count=1) == ()
    assert policy_disk_bounds(policy, memory=256, vcpus=9, disk_count=1, nic_count=1) == ()
    small = ISpec(memory_size=128, disk_size=1024, disk_count=1, cpu_count=1, nic_count=1, spindle_use=1)
    big = dataclasses.replace(small, memory_size=65536, disk_size=4 * 1024 * 1024, cpu_count=64)
    two = dataclasses.replace(
        policy, minmax=((small, dataclasses.replace(small, disk_size=2048)), (small, big))
    )
    assert policy_disk_bounds(two, memory=256, vcpus=2, disk_count=1, nic_count=1) == (
        (1024, 4 * 1024 * 1024),
    )


def test_disk_sizes_are_the_answers_or_one_default_per_needed_disk() -> None:
    policy: IPolicy = LAB_INFO.ipolicy
    assert disk_sizes(lab_cluster().instance, [14 * GiB], policy) == (16 * 1024,)
    assert disk_sizes(lab_cluster(disks=["40G"]).instance, [14 * GiB], policy) == (40 * 1024,)
    assert disk_sizes(lab_cluster(disks=["1.5G"]).instance, [GiB], policy) == (1536,)
    with pytest.raises(
        ClusterPlanError, match=r"disks\[0\]: 10.0 GiB is less than the 14.0 GiB the plan needs"
    ):
        disk_sizes(lab_cluster(disks=["10G"]).instance, [14 * GiB], policy)
    with pytest.raises(ClusterPlanError, match="1 given, the plan needs 2 disks"):
        disk_sizes(lab_cluster(disks=["40G"]).instance, [14 * GiB, GiB], policy)
    with pytest.raises(ClusterPlanError, match=r"needs a disk of 2\.00 TiB; .* allows at most 1\.00 TiB"):
        disk_sizes(lab_cluster().instance, [2 * TiB], policy)


# -- the instance ----------------------------------------------------------------


def test_the_least_section_on_the_lab_cluster_takes_its_defaults() -> None:
    spec = instance_spec(lab_cluster(), LAB_INFO, [2048])
    assert (spec.name, spec.os_type, spec.disk_template) == ("p2v1.gntlab.test", "p2v-target+default", "file")
    assert spec.disks == (2048,) and spec.memory == 256 and spec.vcpus == 1
    assert (spec.pnode, spec.iallocator) == (None, "hail")  # the cluster's default allocator
    assert spec.nics == (NicSpec(),)  # the cluster's default link, a MAC from Ganeti
    assert spec.hvparams == {
        "kernel_path": "/var/lib/ganeti-instance-p2v-target/p2v-bootstrap-vmlinuz",
        "initrd_path": "/var/lib/ganeti-instance-p2v-target/p2v-bootstrap-initrd.img",
    }
    assert spec.start is False and spec.name_check is False and not spec.osparams_secret
    body = create_instance_body(spec)  # what the cluster is sent: its checks pass too
    assert body["iallocator"] == "hail" and body["beparams"] == {"memory": 256, "vcpus": 1}


def test_the_lab_create_is_what_its_answers_make() -> None:
    """request-create-p2v-target.json, the create the lab cluster accepted,
    less the OS parameters (the caller's to add)."""
    sent = json.loads((DATA / "request-create-p2v-target.json").read_text())["request_body"]
    answers = lab_cluster(
        disk_template="file",
        memory="256M",
        pnode="node1.gntlab.test",
        nics=[{"network": "labnet", "ip": "198.51.100.31"}],
    )
    spec = dataclasses.replace(
        instance_spec(answers, LAB_INFO, [2048]), hvparams={}, osparams=sent["osparams"]
    )
    assert create_instance_body(spec) == sent


def test_keep_takes_the_source_interfaces_mac() -> None:
    answers = lab_cluster(nics=[{"link": "br0", "mac": "keep"}, {"link": "br1", "mac": "aa:00:00:00:00:02"}])
    spec = instance_spec(answers, LAB_INFO, [2048], source_macs={0: "52:54:00:12:34:56"})
    assert spec.nics == (
        NicSpec(link="br0", mac="52:54:00:12:34:56"),
        NicSpec(link="br1", mac="aa:00:00:00:00:02"),
    )
    with pytest.raises(ClusterPlanError, match=r"nics\[0\].mac: keep, but no source interface for NIC 0"):
        instance_spec(answers, LAB_INFO, [2048])


def test_what_the_cluster_cannot_give_is_refused_naming_the_answer() -> None:
    no_allocator = dataclasses.replace(LAB_INFO, default_iallocator=None)
    with pytest.raises(
        ClusterPlanError, match=r"cluster\.instance\.pnode: the cluster has no default iallocator"
    ):
        instance_spec(lab_cluster(), no_allocator, [2048])
    assert (
        instance_spec(lab_cluster(pnode="node1.gntlab.test"), no_allocator, [2048]).pnode
        == "node1.gntlab.test"
    )
    with pytest.raises(ClusterPlanError, match="drbd is not enabled on the cluster \\(enabled: file\\)"):
        instance_spec(lab_cluster(disk_template="drbd"), LAB_INFO, [2048])
    diskless: ClusterInfo = dataclasses.replace(LAB_INFO, enabled_disk_templates=("diskless", "blockdev"))
    with pytest.raises(ClusterPlanError, match="enables no template p2v can create"):
        instance_spec(lab_cluster(), diskless, [2048])
    mixed = dataclasses.replace(LAB_INFO, enabled_disk_templates=("diskless", "plain", "drbd"))
    assert instance_spec(lab_cluster(), mixed, [2048]).disk_template == "plain"


# -- what a dry run says ---------------------------------------------------------


def test_the_description_says_what_would_be_created() -> None:
    answers = lab_cluster(
        disks=["20G", "1.5G"],
        memory="512M",
        vcpus=2,
        pnode="node1.gntlab.test",
        nics=[{"network": "labnet", "ip": "pool", "mac": "keep"}, {}],
    )
    spec = instance_spec(answers, LAB_INFO, [20 * 1024, 1536], source_macs={0: "52:54:00:12:34:56"})
    text = describe_cluster(answers, spec)
    assert text == (
        "Ganeti cluster https://cluster.gntlab.test:5080, RAPI user p2vw,"
        " certificate SHA256:gKofbAKdPktaaXiHlqW0w9Lh8A8eLTxLWml4h5altMM\n"
        "  creates instance p2v1.gntlab.test (stopped), on node node1.gntlab.test\n"
        "  OS p2v-target+default, file disks: 20.0 GiB, 1.50 GiB\n"
        "  memory 512 MiB, 2 vcpus\n"
        "  NIC 0: network labnet, address pool, MAC 52:54:00:12:34:56 (the source's)\n"
        "  NIC 1: the default link, MAC from Ganeti\n"
        "  boots the bootstrap OS: kernel /var/lib/ganeti-instance-p2v-target/p2v-bootstrap-vmlinuz\n"
        "    initrd /var/lib/ganeti-instance-p2v-target/p2v-bootstrap-initrd.img\n"
    )
    assert text.isascii()


def test_the_description_names_a_certificate_file_and_the_allocator() -> None:
    answers = dataclasses.replace(lab_cluster(), pin=None, certificate_file="/root/rapi.pem")
    answers = dataclasses.replace(
        answers, instance=ClusterInstanceAnswers(name="p2v1.gntlab.test", nics=(NicAnswers(link="br0"),))
    )
    lines = describe_cluster(answers, instance_spec(answers, LAB_INFO, [2048])).splitlines()
    assert lines[0].endswith("RAPI user p2vw, certificate of /root/rapi.pem")
    assert lines[1] == "  creates instance p2v1.gntlab.test (stopped), placed by hail"
    assert lines[3] == "  memory 256 MiB, 1 vcpu" and lines[4] == "  NIC 0: link br0, MAC from Ganeti"


# -- what the plan needs, where p2v connects, the hand-over ------------------------


@pytest.fixture(scope="module")
def machine(tmp_path_factory: pytest.TempPathFactory) -> Machine:
    return demo_machine(build_sample_tree(tmp_path_factory.mktemp("sample")))


def test_the_needed_size_is_the_smallest_disk_the_plan_fits_on(machine: Machine) -> None:
    layout = LayoutChoices(exclude_sizes={})
    needed = needed_disk_size(machine, layout)
    assert needed % MiB == 0
    plan = plan_layout(
        machine, (TargetDisk(0, "/dev/vda", needed),), dataclasses.replace(layout, swap="keep")
    )
    assert any(p.role == "swap" for d in plan.disks for p in d.partitions)  # swap kept, not squeezed out
    with pytest.raises(LayoutError):
        plan_layout(
            machine, (TargetDisk(0, "/dev/vda", needed - MiB),), dataclasses.replace(layout, swap="keep")
        )
    more = needed_disk_size(machine, dataclasses.replace(layout, headroom=2.0))
    assert more > needed  # the headroom of the answers counts


def test_a_plan_on_several_disks_needs_the_sizes_given(machine: Machine) -> None:
    explicit = (LayoutRequest("/", "fit"), LayoutRequest("/home", "rest", disk=1))
    with pytest.raises(ClusterPlanError, match=r"cluster\.instance\.disks: needed when layout\.partitions"):
        needed_disk_size(machine, LayoutChoices(explicit=explicit))


def test_the_bootstrap_address_and_its_os_parameters() -> None:
    given = lab_cluster(
        address="198.51.100.20/24", gateway="198.51.100.1", dns=["198.51.100.53", "192.0.2.53"]
    )
    inst = bootstrap_nics(given.instance)
    assert inst.nics[0].ip == "198.51.100.20"
    assert bootstrap_osparams(inst, "ssh-ed25519 AAAA p2v") == {
        "ssh_key": "ssh-ed25519 AAAA p2v",
        "address": "198.51.100.20/24",
        "gateway": "198.51.100.1",
        "dns": "198.51.100.53 192.0.2.53",
    }
    running = parse_instance(json.loads((DATA / "instance-p2v1-running.json").read_text())["body"])
    assert bootstrap_address(inst, running) == "198.51.100.20"  # the answers' own
    pooled = lab_cluster(nics=[{"network": "lan", "ip": "pool"}]).instance
    assert bootstrap_nics(pooled) == pooled and bootstrap_osparams(pooled, "k") == {"ssh_key": "k"}
    assert running.nics[0].ip is not None and bootstrap_address(pooled, running) == running.nics[0].ip
    no_ip = dataclasses.replace(running, nics=(dataclasses.replace(running.nics[0], ip=None),))
    with pytest.raises(ClusterPlanError, match="Ganeti gave NIC 0 no IP"):
        bootstrap_address(pooled, no_ip)
    lying = dataclasses.replace(running, nics=(dataclasses.replace(running.nics[0], ip="10.0.0.1;reboot"),))
    with pytest.raises(ClusterPlanError, match="NIC 0's IP"):
        bootstrap_address(pooled, lying)


def test_how_the_migrated_server_starts() -> None:
    assert final_hvparams("own") == {"kernel_path": "", "initrd_path": ""}
    assert final_hvparams("cluster") == {"kernel_path": "default", "initrd_path": "default"}
    with_kernel = dataclasses.replace(LAB_INFO, kernel_path="/boot/vmlinuz-3-kvmU")
    assert cluster_boot_problem("cluster", with_kernel) is None
    no_kernel = dataclasses.replace(LAB_INFO, kernel_path="")
    assert "name no kernel_path" in (cluster_boot_problem("cluster", no_kernel) or "")
    assert cluster_boot_problem("own", no_kernel) is None
    assert run_beparams(lab_cluster().instance) == {"maxmem": 1024, "minmem": 1024}
    assert run_beparams(lab_cluster(run_memory="3G").instance) == {"maxmem": 3072, "minmem": 3072}


def test_the_policy_create_is_checked_against() -> None:
    group = parse_group(json.loads((DATA / "group-default.json").read_text())["body"])
    other = dataclasses.replace(group, uuid="other", ipolicy=dataclasses.replace(group.ipolicy, std=None))
    assert planning_policy(LAB_INFO, [group], None) is group.ipolicy
    assert planning_policy(LAB_INFO, [group, other], "other") is other.ipolicy
    assert planning_policy(LAB_INFO, [group, other], None) is LAB_INFO.ipolicy


def test_the_planned_facts_are_the_spec_disks() -> None:
    spec = instance_spec(lab_cluster(), LAB_INFO, (2048, 1024))
    facts = planned_facts(spec)
    assert facts.name == "p2v1.gntlab.test" and facts.origin == "answers"
    assert [(d.path, d.size) for d in facts.disks] == [("/dev/vda", 2 * GiB), ("/dev/vdb", 1 * GiB)]
