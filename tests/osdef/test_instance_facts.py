"""instance-facts: Ganeti environment -> instance.json and the network file."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

from p2v_tui.model.target import facts_from_json
from tests.osdef.harness import OS_DIR, GDisk, GNic, ganeti_env, require_root, require_tools, user_key

FACTS = OS_DIR / "instance-facts"


def facts_json(env: dict[str, str]) -> dict[str, Any]:
    result = subprocess.run([str(FACTS), "json"], env=env, capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
    doc: dict[str, Any] = json.loads(result.stdout)
    return doc


def disks_env(hypervisor: str, disk_type: str | None, count: int) -> dict[str, str]:
    hv: dict[str, object] = {"serial_console": True}
    if disk_type is not None:
        hv["disk_type"] = disk_type
    disks = [GDisk(Path(f"/srv/ganeti/file-storage/i/disk{i}"), 1024 * (i + 1)) for i in range(count)]
    return ganeti_env("i.example.org", disks, hvparams=hv, hypervisor=hypervisor)


# Guest device names per Ganeti hypervisor / disk_type (see the instance-facts docstring).
DISK_PATHS = [
    ("kvm", "paravirtual", ["/dev/vda", "/dev/vdb", "/dev/vdc"]),
    ("kvm", None, ["/dev/vda", "/dev/vdb", "/dev/vdc"]),
    ("kvm", "scsi-hd", ["/dev/sda", "/dev/sdb", "/dev/sdc"]),
    ("kvm", "scsi", ["/dev/sda", "/dev/sdb", "/dev/sdc"]),
    ("kvm", "ide", ["/dev/sda", "/dev/sdb", "/dev/sdc"]),
    ("kvm", "sd", ["/dev/mmcblk0", "/dev/mmcblk1", "/dev/mmcblk2"]),
    ("kvm", "pflash", ["", "", ""]),
    ("xen-pvm", None, ["/dev/xvda", "/dev/xvdb", "/dev/xvdc"]),
    ("xen-hvm", "ioemu", ["/dev/xvda", "/dev/xvdb", "/dev/xvdc"]),
    ("lxc", None, ["", "", ""]),
]


@pytest.mark.parametrize(("hypervisor", "disk_type", "paths"), DISK_PATHS)
def test_disk_paths_as_the_guest_sees_them(hypervisor: str, disk_type: str | None, paths: list[str]) -> None:
    doc = facts_json(disks_env(hypervisor, disk_type, 3))
    facts = facts_from_json(doc)
    assert [d.path for d in facts.disks] == paths
    assert [d.size for d in facts.disks] == [1024 * 1024 * 1024 * (i + 1) for i in range(3)]
    assert doc["hypervisor"] == hypervisor


def test_disk_names_past_z() -> None:
    doc = facts_json(disks_env("kvm", "paravirtual", 28))
    assert [d["path"] for d in doc["disks"]][24:] == ["/dev/vdy", "/dev/vdz", "/dev/vdaa", "/dev/vdab"]


def test_defaults_and_booleans() -> None:
    env = ganeti_env("plain", [], hvparams={}, variant="default")
    del env["OS_VARIANT"]
    facts = facts_from_json(facts_json(env))
    assert facts.name == "plain"
    assert facts.serial_console is True
    assert facts.root_path == "/dev/vda1"
    assert facts.os_variant == "default"
    assert facts.disks == () and facts.nics == ()
    env = ganeti_env("plain", [], hvparams={"serial_console": False, "root_path": "/dev/sda1"})
    facts = facts_from_json(facts_json(env))
    assert facts.serial_console is False
    assert facts.root_path == "/dev/sda1"


def test_nics_in_lower_case_colon_form() -> None:
    nics = [
        GNic("AA:00:00:12:34:56", ip="198.51.100.9", network={"name": "net1", "subnet": "198.51.100.0/24"}),
        GNic("aa:00:00:12:34:57", mode="openvswitch", link="ovs0"),
    ]
    doc = facts_json(ganeti_env("n.example.org", [], nics))
    assert doc["nics"] == [
        {
            "index": 0,
            "mac": "aa:00:00:12:34:56",
            "ip": "198.51.100.9",
            "mode": "bridged",
            "link": "br0",
            "network": "net1",
        },
        {
            "index": 1,
            "mac": "aa:00:00:12:34:57",
            "ip": None,
            "mode": "openvswitch",
            "link": "ovs0",
            "network": None,
        },
    ]


def test_missing_name_is_an_error() -> None:
    env = ganeti_env("x", [])
    del env["INSTANCE_NAME"]
    result = subprocess.run([str(FACTS), "json"], env=env, capture_output=True, text=True, check=False)
    assert result.returncode != 0
    assert "INSTANCE_NAME is not set" in result.stderr


# The network file, written into a plain directory (no disk needed; chown needs root).
NETWORKS: list[tuple[str, list[GNic], dict[str, str], list[str], list[str]]] = [
    ("dhcp", [GNic("aa:00:00:00:00:01")], {}, ["DHCP=yes"], ["Address=", "Gateway="]),
    (
        "ganeti-network",
        [
            GNic(
                "aa:00:00:00:00:01",
                ip="198.51.100.9",
                network={"name": "n", "subnet": "198.51.100.0/25", "gateway": "198.51.100.1"},
            )
        ],
        {},
        ["Address=198.51.100.9/25", "Gateway=198.51.100.1"],
        ["DHCP=yes", "GatewayOnLink=yes"],
    ),
    ("ip-without-subnet", [GNic("aa:00:00:00:00:01", ip="198.51.100.9")], {}, ["DHCP=yes"], ["Address="]),
    (
        "parameters-win",
        [GNic("aa:00:00:00:00:01", ip="198.51.100.9", network={"name": "n", "subnet": "198.51.100.0/24"})],
        {"address": "203.0.113.5/24", "gateway": "203.0.113.1", "dns": "192.0.2.53;192.0.2.54"},
        ["Address=203.0.113.5/24", "Gateway=203.0.113.1", "DNS=192.0.2.53", "DNS=192.0.2.54"],
        ["DHCP=yes", "Address=198.51.100.9/24"],
    ),
    (
        "onlink-gateway",
        [GNic("aa:00:00:00:00:01")],
        {"address": "203.0.113.5/32", "gateway": "203.0.113.1"},
        ["Address=203.0.113.5/32", "Gateway=203.0.113.1", "GatewayOnLink=yes"],
        ["DHCP=yes"],
    ),
]


@pytest.mark.root
@pytest.mark.parametrize(
    ("nics", "osparams", "present", "absent"), [n[1:] for n in NETWORKS], ids=[n[0] for n in NETWORKS]
)
def test_network_file(
    tmp_path: Path, nics: list[GNic], osparams: dict[str, str], present: list[str], absent: list[str]
) -> None:
    require_root()
    require_tools("ssh-keygen")
    keydir = tmp_path / "hostkey"
    keydir.mkdir()
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(keydir / "ssh_host_ed25519_key")],
        check=True,
    )
    root = tmp_path / "root"
    root.mkdir()
    env = ganeti_env("n.example.org", [], nics, osparams={"ssh_key": user_key(tmp_path), **osparams})
    args = [
        str(FACTS),
        "write",
        "--root",
        str(root),
        "--host-key-dir",
        str(keydir),
        "--fingerprint",
        "256 SHA256:x (ED25519)",
    ]
    result = subprocess.run(args, env=env, capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
    lines = (root / "etc/systemd/network/10-p2v-nic0.network").read_text().splitlines()
    assert "MACAddress=aa:00:00:00:00:01" in lines
    for line in present:
        assert line in lines
    for prefix in absent:
        assert not any(line.startswith(prefix) for line in lines), prefix


@pytest.mark.root
def test_write_refuses_a_symlinked_directory(tmp_path: Path) -> None:
    """A rootfs whose /etc/ssh points elsewhere must not make create write there."""
    require_root()
    keydir = tmp_path / "hostkey"
    keydir.mkdir()
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(keydir / "ssh_host_ed25519_key")],
        check=True,
    )
    outside = tmp_path / "outside"
    outside.mkdir()
    root = tmp_path / "root"
    (root / "etc").mkdir(parents=True)
    os.symlink(outside, root / "etc/ssh")
    env = ganeti_env("n.example.org", [], [], osparams={"ssh_key": user_key(tmp_path)})
    args = [str(FACTS), "write", "--root", str(root), "--host-key-dir", str(keydir), "--fingerprint", "f"]
    result = subprocess.run(args, env=env, capture_output=True, text=True, check=False)
    assert result.returncode != 0
    assert "is a symlink in the rootfs image" in result.stderr
    assert list(outside.iterdir()) == []
