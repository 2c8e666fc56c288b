"""The lab's target host: a real sshd, reachable only from the client namespace,
whose mounts stay out of the host."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.lab.netns import netns_pair, process_alive
from tests.lab.sshd import (
    ETC_DIR,
    RUN_DIR,
    TARGET_DIR,
    TargetHost,
    host_mount_points,
    make_client_key,
    pids_in_mount_ns,
    target_sshd,
)

pytestmark = pytest.mark.root

INSTANCE = {"name": "web1.example.org", "disk_size": 21474836480, "nics": [{"mac": "aa:00:00:12:34:56"}]}


def _require() -> None:
    if os.geteuid() != 0:
        pytest.skip("needs root: network and mount namespaces")
    for tool in ("ip", "unshare", "nsenter", "ssh", "ssh-keygen", "ssh-keyscan"):
        if shutil.which(tool) is None:
            pytest.skip(f"needs {tool}")
    if not os.path.exists("/usr/sbin/sshd"):
        pytest.skip("needs /usr/sbin/sshd (openssh-server)")


@dataclass(frozen=True)
class Lab:
    target: TargetHost
    key: Path
    known_hosts: Path

    def ssh(
        self,
        *remote: str,
        key: Path | None = None,
        known_hosts: Path | None = None,
        extra_env: dict[str, str] | None = None,
    ) -> subprocess.CompletedProcess[str]:
        argv = self.target.ssh_argv(key or self.key, known_hosts or self.known_hosts, remote)
        env = {**os.environ, **(extra_env or {})}
        return subprocess.run(argv, capture_output=True, text=True, timeout=60, env=env)


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    _require()
    work = tmp_path_factory.mktemp("sshd-lab")
    key, public = make_client_key(work / "client")
    with (
        netns_pair("p2vtest") as ns,
        target_sshd(ns, work / "target", authorized_keys=[public], instance_json=INSTANCE) as target,
    ):
        yield Lab(target, key, target.write_known_hosts(work / "known_hosts"))


def test_key_login_with_strict_host_key_checking(lab: Lab) -> None:
    done = lab.ssh("id", "-u")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "0"
    assert "Accepted publickey for root" in lab.target.log_path.read_text()


def test_other_key_is_refused(lab: Lab, tmp_path: Path) -> None:
    stranger, _ = make_client_key(tmp_path, "stranger")
    done = lab.ssh("true", key=stranger)
    assert done.returncode == 255
    assert "Permission denied (publickey)" in done.stderr


def test_password_login_is_not_offered(lab: Lab) -> None:
    argv = lab.target.ssh_argv(lab.key, lab.known_hosts, ["true"])
    at = argv.index("-i")
    argv[at : at + 2] = [
        "-o",
        "PubkeyAuthentication=no",
        "-o",
        "PreferredAuthentications=password,keyboard-interactive",
    ]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    assert done.returncode == 255
    # The server lists the methods it would accept: publickey only.
    assert "Permission denied (publickey)" in done.stderr


def test_unknown_host_key_is_rejected(lab: Lab, tmp_path: Path) -> None:
    _, other_pub = make_client_key(tmp_path, "not-the-host-key")
    known = tmp_path / "known_hosts"
    known.write_text(f"{lab.target.host} {' '.join(other_pub.split()[:2])}\n")
    done = lab.ssh("true", known_hosts=known)
    assert done.returncode == 255
    assert "Host key verification failed" in done.stderr


def test_fingerprint_is_what_the_server_presents(lab: Lab) -> None:
    t = lab.target
    scan = subprocess.run(
        t.ns.client_argv(["ssh-keyscan", "-t", "ed25519", t.host]), capture_output=True, text=True, check=True
    )
    printed = subprocess.run(
        ["ssh-keygen", "-lf", "-"], input=scan.stdout, capture_output=True, text=True, check=True
    )
    assert printed.stdout.split()[1] == t.host_key_fingerprint
    assert t.host_key_fingerprint.startswith("SHA256:")
    assert scan.stdout.split(None, 1)[1].strip() == t.host_key_line


def test_instance_json_visible_over_ssh_only(lab: Lab) -> None:
    done = lab.ssh("cat", f"{ETC_DIR}/instance.json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == INSTANCE
    assert not ETC_DIR.exists()


def test_sftp_subsystem_works(lab: Lab) -> None:
    t = lab.target
    argv = t.ns.client_argv(
        [
            "sftp",
            "-b",
            "-",
            "-F",
            "/dev/null",
            "-i",
            str(lab.key),
            "-o",
            "BatchMode=yes",
            "-o",
            "StrictHostKeyChecking=yes",
            "-o",
            f"UserKnownHostsFile={lab.known_hosts}",
            f"root@{t.host}",
        ]
    )
    done = subprocess.run(argv, input=f"ls {ETC_DIR}\n", capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "instance.json" in done.stdout


def test_client_environment_is_not_accepted(lab: Lab) -> None:
    argv = lab.target.ssh_argv(lab.key, lab.known_hosts, ['echo "${P2V_LAB_PROBE-unset}"'])
    argv.insert(argv.index("-i"), "-oSendEnv=P2V_LAB_PROBE")
    done = subprocess.run(
        argv, capture_output=True, text=True, timeout=60, env={**os.environ, "P2V_LAB_PROBE": "leaked"}
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "unset"


def test_target_mounts_are_private(lab: Lab) -> None:
    done = lab.ssh(
        "findmnt -n -o FSTYPE /target; findmnt -n -o FSTYPE /run/p2v-target;"
        " touch /target/marker /run/p2v-target/marker"
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["tmpfs", "tmpfs"]
    assert lab.target.root_path("/target/marker").exists()
    assert "marker" in lab.target.run(["ls", "/target"], check=True).stdout
    assert not (TARGET_DIR / "marker").exists()
    assert not (RUN_DIR / "marker").exists()
    mounts = host_mount_points()
    assert {str(TARGET_DIR), str(ETC_DIR), str(RUN_DIR)}.isdisjoint(mounts)


def test_run_enters_the_target_network(lab: Lab) -> None:
    addrs = lab.target.run(["ip", "-4", "-o", "addr", "show", "dev", "veth0"], check=True).stdout
    assert f"{lab.target.host}/24" in addrs


def test_loop_device_mounted_over_ssh_stays_inside(tmp_path: Path) -> None:
    """What the engine does: mkfs and mount a loop device on the target, over SSH."""
    _require()
    image = tmp_path / "disk.img"
    with open(image, "wb") as f:
        f.truncate(64 * 1024 * 1024)
    loop = subprocess.run(
        ["losetup", "-f", "--show", str(image)], capture_output=True, text=True, check=True
    ).stdout.strip()
    try:
        key, public = make_client_key(tmp_path / "client")
        with (
            netns_pair("p2vtest") as ns,
            target_sshd(ns, tmp_path / "target", authorized_keys=[public]) as target,
        ):
            lab = Lab(target, key, target.write_known_hosts(tmp_path / "known_hosts"))
            done = lab.ssh(
                f"mkfs.ext4 -q {loop} && mkdir /target/root && mount {loop} /target/root"
                " && echo copied > /target/root/etc-hostname && findmnt -n -o SOURCE /target/root"
            )
            assert done.returncode == 0, done.stderr
            assert done.stdout.strip() == loop
            assert "/target/root" not in host_mount_points()
            assert (target.root_path("/target/root/etc-hostname")).read_text() == "copied\n"
        # The namespace died with sshd, and its mount with it: no process anywhere holds the fs.
        for entry in os.listdir("/proc"):
            if entry.isdigit():
                try:
                    text = Path(f"/proc/{entry}/mountinfo").read_text()
                except OSError:
                    continue
                assert f" {loop} " not in text, f"pid {entry} still mounts {loop}"
    finally:
        subprocess.run(["losetup", "-d", loop], check=True)


def test_everything_is_cleaned_up_after_exit(tmp_path: Path) -> None:
    _require()
    target_existed = TARGET_DIR.exists()
    run_sshd_existed = os.path.exists("/run/sshd")
    key, public = make_client_key(tmp_path / "client")
    with netns_pair("p2vtest") as ns:
        with target_sshd(ns, tmp_path / "target", authorized_keys=[public]) as target:
            lab = Lab(target, key, target.write_known_hosts(tmp_path / "known_hosts"))
            # A session left running must not keep the namespace (and its mounts) alive.
            lingering = subprocess.Popen(lab.target.ssh_argv(key, lab.known_hosts, ["sleep", "300"]))
            mnt_ns = os.readlink(f"/proc/{target.pid}/ns/mnt")
            deadline = time.monotonic() + 10
            while len(inside := pids_in_mount_ns(mnt_ns)) < 3 and time.monotonic() < deadline:
                time.sleep(0.05)  # sshd, its session process, the remote sleep
            assert target.pid in inside and len(inside) >= 3
        lingering.wait(timeout=30)
        assert [pid for pid in inside if process_alive(pid)] == []  # zombies wait for init: ended
        assert (
            subprocess.run(
                target.ns.client_argv(["ssh-keyscan", "-T", "2", target.host]), capture_output=True, text=True
            ).stdout
            == ""
        )
    assert {str(TARGET_DIR), str(ETC_DIR), str(RUN_DIR)}.isdisjoint(host_mount_points())
    assert not ETC_DIR.exists()
    assert os.path.exists("/run/sshd") == run_sshd_existed
    if not target_existed:
        # Another run may hold it; only then may it still be there.
        registry = Path("/run/lock/p2v-lab-target.json")
        users = json.loads(registry.read_text()).get("users", []) if registry.exists() else []
        assert TARGET_DIR.exists() == bool(users)


def test_start_failure_raises_with_the_log_and_cleans_up(tmp_path: Path) -> None:
    _require()
    _, public = make_client_key(tmp_path / "client")
    with (
        netns_pair("p2vtest") as ns,
        pytest.raises(RuntimeError) as failed,
        target_sshd(ns, tmp_path / "target", authorized_keys=[public], port=70000),
    ):
        pass
    assert "sshd exited" in str(failed.value)
    assert "Badly formatted port number" in str(failed.value)  # sshd's own words, from its log
    mounts = host_mount_points()
    assert {str(TARGET_DIR), str(ETC_DIR), str(RUN_DIR)}.isdisjoint(mounts)
    assert not any(str(tmp_path) in m or ns.client in m or ns.target in m for m in mounts)
