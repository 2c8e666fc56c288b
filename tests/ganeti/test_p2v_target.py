"""The p2v-target OS definition on a real Ganeti cluster, as an admin installs
it and a user without root on the node uses it: install on every node, create a
bootstrap instance with the user's key, start it with the ramboot initrd and
256 MiB, and reach it from the cluster's network with that key only."""

from __future__ import annotations

import json
import re
import subprocess
import textwrap
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.bootstrap.artifacts import bootstrap_artifacts
from tests.lab.ganeti import GanetiLab
from tests.lab.ganeti_proc import wait_for
from tests.lab.p2v_target import (
    BOOTSTRAP_HV,
    FINGERPRINT,
    OS,
    add_bootstrap_instance,
    install_osdef,
    keypair,
    os_log,
    uninstall_osdef,
)

pytestmark = [pytest.mark.root, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[2]
NAME = "web01.gntlab.test"
ADDRESS_INDEX = 20
MEMORY_MIB = 256
BOOT_TIMEOUT = 240.0


@dataclass(frozen=True)
class Booted:
    lab: GanetiLab
    address: str
    key: Path
    other_key: Path
    known_hosts: Path
    fingerprint: str
    serial_log: Path
    os_log: str


def ssh(
    booted: Booted, command: str, *, key: Path | None = None, check: bool = True
) -> subprocess.CompletedProcess[str]:
    """OpenSSH from the cluster's network, the host key pinned (strict known_hosts)."""
    argv = [
        "ssh",
        "-i", str(key or booted.key),
        "-o", "IdentitiesOnly=yes",  # only the key given: the other key must not slip in
        "-o", "BatchMode=yes",  # never prompt
        "-o", f"UserKnownHostsFile={booted.known_hosts}",
        "-o", "StrictHostKeyChecking=yes",  # the pinned key or nothing
        "-o", "ConnectTimeout=10",
        f"root@{booted.address}",
        command,
    ]  # fmt: skip
    return booted.lab.run(argv, check=check, timeout=120)


@pytest.fixture(scope="module")
def bootstrap_images() -> Path:
    """The built bootstrap OS, kernel and ramboot initrd (cached between runs)."""
    return bootstrap_artifacts().directory


@pytest.fixture(scope="module")
def installed(ganeti_lab: GanetiLab, bootstrap_images: Path) -> Iterator[GanetiLab]:
    install_osdef(ganeti_lab, bootstrap_images)
    yield ganeti_lab
    uninstall_osdef(ganeti_lab)


@pytest.fixture(scope="module")
def booted(installed: GanetiLab, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Booted]:
    lab = installed
    tmp = tmp_path_factory.mktemp("p2v-target")
    key = keypair(tmp / "user_key")
    other_key = keypair(tmp / "other_key")
    address = lab.address(ADDRESS_INDEX)
    pub = (tmp / "user_key.pub").read_text().strip()
    fingerprint = add_bootstrap_instance(lab, NAME, public_key=pub, address=address, disk="1G",
                                         memory_mib=MEMORY_MIB)  # fmt: skip
    try:
        with lab.boot(NAME, BOOTSTRAP_HV) as serial:
            wait_for(r"login: ", serial, BOOT_TIMEOUT)
            # The user pins the key they read on the console: fetch it over the
            # network and keep it only if its fingerprint is the console's.
            scan = lab.run(["ssh-keyscan", "-T", "10", "-t", "ed25519", address], timeout=60, check=False)
            line = next((ln for ln in scan.stdout.splitlines() if not ln.startswith("#")), "")
            assert line, scan.stderr
            known_hosts = tmp / "known_hosts"
            known_hosts.write_text(line + "\n")
            fp = subprocess.run(
                ["ssh-keygen", "-l", "-f", str(known_hosts)], capture_output=True, text=True, check=True
            )
            assert " ".join(fp.stdout.split()[:2]) == fingerprint
            yield Booted(lab, address, key, other_key, known_hosts, fingerprint, serial, os_log(lab, NAME))
    finally:
        lab.remove_instance(NAME)


def test_os_is_valid_on_the_node(installed: GanetiLab) -> None:
    diagnose = installed.gnt("gnt-os", "diagnose").stdout
    assert re.search(rf"OS: {OS} \[global status: valid\]", diagnose), diagnose
    assert f"{OS}+default" in installed.gnt("gnt-os", "list", "--no-headers").stdout.split()
    info = installed.gnt("gnt-os", "info", OS).stdout
    for parameter in ("ssh_key", "address", "gateway", "dns"):
        assert parameter in info


def test_malformed_key_is_refused_at_add(installed: GanetiLab) -> None:
    proc = installed.gnt(
        "gnt-instance", "add", "-t", "file", "-s", "1G", "-o", f"{OS}+default",
        "-O", "ssh_key=ssh-ed25519 not-base64 x",
        "-n", installed.node_name,
        "--no-name-check", "--no-ip-check", "--no-start", "bad.gntlab.test",
        check=False,
    )  # fmt: skip
    assert proc.returncode != 0
    assert "ssh_key" in proc.stdout + proc.stderr
    assert "bad.gntlab.test" not in installed.gnt("gnt-instance", "list", "--no-headers", "-o", "name").stdout


def test_console_shows_the_host_key_of_the_os_log(booted: Booted) -> None:
    text = booted.serial_log.read_text(encoding="utf-8", errors="replace")
    shown = FINGERPRINT.findall(text)
    assert shown and set(shown) == {booted.fingerprint}


def test_user_key_with_pinned_host_key_logs_in(booted: Booted) -> None:
    assert ssh(booted, "hostname").stdout.strip() == NAME


def test_other_key_is_refused(booted: Booted) -> None:
    proc = ssh(booted, "true", key=booted.other_key, check=False)
    assert proc.returncode == 255
    # only key authentication is offered: no password, no keyboard-interactive
    assert "Permission denied (publickey)" in proc.stderr


def test_wrong_host_key_is_refused(booted: Booted, tmp_path: Path) -> None:
    keypair(tmp_path / "stranger")
    pub = (tmp_path / "stranger.pub").read_text().split()
    wrong = tmp_path / "known_hosts"
    wrong.write_text(f"{booted.address} {pub[0]} {pub[1]}\n")
    proc = booted.lab.run(
        ["ssh", "-i", str(booted.key), "-o", "BatchMode=yes", "-o", f"UserKnownHostsFile={wrong}",
         "-o", "StrictHostKeyChecking=yes", f"root@{booted.address}", "true"],
        check=False,
        timeout=60,
    )  # fmt: skip
    assert proc.returncode == 255
    assert "REMOTE HOST IDENTIFICATION HAS CHANGED" in proc.stderr or "verification failed" in proc.stderr


def test_root_is_in_ram_and_the_disk_is_free(booted: Booted) -> None:
    assert ssh(booted, "findmnt -no FSTYPE /").stdout.strip() == "tmpfs"
    mounts = ssh(booted, "cat /proc/mounts").stdout
    assert "/dev/vda" not in mounts
    mem_kib = int(re.search(r"MemTotal:\s+(\d+) kB", ssh(booted, "cat /proc/meminfo").stdout).group(1))  # type: ignore[union-attr]
    assert mem_kib <= MEMORY_MIB * 1024


def test_disk_can_be_repartitioned_and_formatted(booted: Booted) -> None:
    script = textwrap.dedent(
        """\
        set -e
        printf 'label: gpt\\nsize=320MiB, type=L\\ntype=L\\n' | sfdisk --quiet /dev/vda
        partx -u /dev/vda 2>/dev/null || true
        udevadm settle 2>/dev/null || true
        for i in 1 2 3 4 5 6 7 8 9 10; do [ -b /dev/vda2 ] && break; sleep 0.5; done
        mkfs.ext4 -q -F -L migrated /dev/vda2
        mkfs.xfs -q -f /dev/vda1
        blkid -p -s TYPE -s LABEL -o export /dev/vda2
        sfdisk --dump /dev/vda
        """
    )
    out = ssh(booted, script).stdout
    assert "LABEL=migrated" in out and "TYPE=ext4" in out
    assert "label: gpt" in out
    assert len(re.findall(r"^/dev/vda\d", out, flags=re.M)) == 2


def test_instance_facts_match_ganeti(booted: Booted) -> None:
    facts = json.loads(ssh(booted, "cat /etc/p2v-target/instance.json").stdout)
    fields = ",".join(
        [
            *("name", "hypervisor", "os", "nic.mac/0", "nic.ip/0", "nic.mode/0", "nic.link/0"),
            *("disk.size/0", "hv/serial_console", "hv/root_path"),
        ]
    )
    row = booted.lab.gnt(
        "gnt-instance", "list", "--no-headers", "--units=m", "--separator=|", "-o", fields, NAME
    ).stdout.strip().split("|")  # fmt: skip
    name, hypervisor, os_name, mac, ip, mode, link, disk_mib, serial_console, root_path = row
    assert facts["version"] == 1
    assert facts["name"] == name == NAME
    assert facts["hypervisor"] == hypervisor == "kvm"
    assert f"{OS}+{facts['os_variant']}" == os_name
    assert facts["serial_console"] is (serial_console in {"Y", "True"})
    assert facts["root_path"] == root_path
    assert facts["disks"] == [{"index": 0, "path": "/dev/vda", "size": int(float(disk_mib)) * 1024 * 1024}]
    (nic,) = facts["nics"]
    assert nic["mac"] == mac
    assert (nic["ip"] or "-") == (ip or "-")
    assert (nic["mode"], nic["link"]) == (mode, link)
    # and the guest's NIC really has that MAC
    assert mac in ssh(booted, "cat /sys/class/net/*/address").stdout.split()


def test_engine_reads_the_facts_through_a_fingerprint_pin(booted: Booted) -> None:
    """p2v itself: paramiko connection pinned by the console's fingerprint."""
    code = textwrap.dedent(
        f"""\
        import json
        from p2v_tui.engine.prepare import FACTS_LIMIT, FACTS_PATH
        from p2v_tui.model.target import facts_from_json
        from p2v_tui.system.ssh import SshTarget
        pin = {booted.fingerprint.split()[1]!r}
        t = SshTarget.connect({booted.address!r}, 22, "root", {str(booted.key)!r}, pin)
        facts = facts_from_json(json.loads(t.read_file(FACTS_PATH, limit=FACTS_LIMIT)))
        print(facts.name, facts.disks[0].path, facts.disks[0].size)
        """
    )
    python = str(REPO / ".venv/bin/python")
    out = booted.lab.run([python, "-c", code], cwd=str(REPO), timeout=120).stdout.split()
    assert out[:2] == [NAME, "/dev/vda"]
    assert int(out[2]) == 1024**3
