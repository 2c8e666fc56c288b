"""The Ganeti lab is a real cluster, and it leaves the host as it found it."""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.ganeti import hostcheck
from tests.ganeti.guest import TOKEN_PORT, busybox_initrd, guest_kernel
from tests.ganeti.testos import NAME as TESTOS
from tests.ganeti.testos import RECORD_DIR, parse_env, write_test_os
from tests.lab import ganeti, ganeti_ns
from tests.lab.ganeti import CLUSTER_NAME, FILE_STORAGE_DIR, GanetiLab, missing_requirements
from tests.lab.ganeti_proc import wait_for
from tests.lab.netns import process_alive

pytestmark = [pytest.mark.root, pytest.mark.slow]

GiB = 1024**3
REPO = Path(__file__).resolve().parents[2]


def verify_ignores() -> list[str]:
    """Error codes `gnt-cluster verify` must ignore on this kind of machine."""
    if os.path.exists("/proc/sysrq-trigger"):
        return []
    # The host kernel has no CONFIG_MAGIC_SYSRQ, so the node check for
    # /proc/sysrq-trigger (used to hard-reboot a wedged node) reports
    # ENODESETUP; nothing a cluster does in these tests needs it.
    return ["--ignore-errors=ENODESETUP"]


@pytest.fixture(scope="module")
def testos(ganeti_lab: GanetiLab) -> Iterator[str]:
    path = write_test_os(ganeti_lab.os_dir_host)
    yield f"{TESTOS}+default"
    shutil.rmtree(path)


def test_cluster_verify_passes(ganeti_lab: GanetiLab) -> None:
    proc = ganeti_lab.gnt("gnt-cluster", "verify", "--error-codes", *verify_ignores(), check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert [line for line in proc.stdout.splitlines() if "ERROR:" in line and "ENODESETUP" not in line] == []


def test_node_list_shows_the_node(ganeti_lab: GanetiLab) -> None:
    out = ganeti_lab.gnt("gnt-node", "list", "--no-headers", "-o", "name,master_candidate,offline").stdout
    assert out.split() == [ganeti_lab.node_name, "Y", "N"]
    master = ganeti_lab.gnt("gnt-cluster", "getmaster").stdout.strip()
    assert master == ganeti_lab.node_name
    addrs = ganeti_lab.run(["ip", "-o", "-4", "addr", "show", "dev", ganeti_lab.bridge]).stdout
    assert f"{ganeti_lab.node_address}/24" in addrs
    assert f"{ganeti_lab.master_address}/32" in addrs  # the master IP, on the lab bridge only


def test_cluster_state_lives_in_the_lab_only(ganeti_lab: GanetiLab) -> None:
    inside = ganeti_lab.run(["cat", "/var/lib/ganeti/ssconf_cluster_name"]).stdout.strip()
    assert inside == CLUSTER_NAME
    assert ganeti_lab.host_path("/var/lib/ganeti/ssconf_cluster_name").read_text().strip() == CLUSTER_NAME
    host_file = Path("/var/lib/ganeti/ssconf_cluster_name")
    assert not host_file.exists() or host_file.read_text().strip() != CLUSTER_NAME
    for name, address in (
        (CLUSTER_NAME, ganeti_lab.master_address),
        (ganeti_lab.node_name, ganeti_lab.node_address),
    ):
        assert ganeti_lab.run(["getent", "hosts", name]).stdout.split()[0] == address
    assert "paused" in ganeti_lab.gnt("gnt-cluster", "watcher", "info").stdout
    assert ganeti_lab.run(["hostname"]).stdout.strip() == ganeti_lab.node_name
    routes = ganeti_lab.run(["ip", "route", "show", "default"]).stdout
    assert routes.strip() == ""  # nothing outside the lab is reachable
    lab_mounts = [
        m for m in hostcheck.mounts() if ganeti_lab.netns in m[1] or str(ganeti_lab.scratch) in m[0]
    ]
    assert [m[1] for m in lab_mounts] == [f"/run/netns/{ganeti_lab.netns}"]


def test_os_diagnose_reports_the_test_os_valid(ganeti_lab: GanetiLab, testos: str) -> None:
    out = ganeti_lab.gnt("gnt-os", "diagnose").stdout
    line = next(ln for ln in out.splitlines() if ln.startswith(f"OS: {TESTOS} "))
    assert "[global status: valid]" in line, out
    listed = ganeti_lab.gnt("gnt-os", "list", "--no-headers").stdout.split()
    assert testos in listed


def test_instance_is_created_booted_reached_and_removed(
    ganeti_lab: GanetiLab, testos: str, tmp_path: Path
) -> None:
    lab = ganeti_lab
    kernel = guest_kernel()
    token = secrets.token_hex(8)
    address = lab.address(10)
    initrd = busybox_initrd(tmp_path / "initrd.gz", kernel, address_cidr=f"{address}/24", token=token)
    name = "testvm1.gntlab.test"
    lab.gnt(
        "gnt-instance",
        "add",
        *("-t", "file", "-s", "1G", "-o", testos),
        *("--no-start", "--no-name-check", "--no-ip-check"),
        *("-n", lab.node_name, "-B", "memory=256M,vcpus=1"),
        *("--net", f"0:link={lab.bridge},ip={address}"),
        name,
        timeout=600,
    )
    host_disk = None
    try:
        env = parse_env(lab.host_path(f"{RECORD_DIR}/{name}.create.env").read_text(encoding="utf-8"))
        assert env["INSTANCE_NAME"] == name
        assert (env["OS_API_VERSION"], env["OS_NAME"], env["OS_VARIANT"]) == ("20", TESTOS, "default")
        assert (env["DISK_COUNT"], env["NIC_COUNT"]) == ("1", "1")
        assert env["DISK_0_PATH"].startswith(FILE_STORAGE_DIR + "/")
        assert (env["NIC_0_LINK"], env["NIC_0_IP"], env["NIC_0_MODE"]) == (lab.bridge, address, "bridged")
        host_disk = lab.host_path(env["DISK_0_PATH"])
        assert host_disk.stat().st_size == 1 * GiB
        with host_disk.open("rb") as f:
            assert f.read(512).startswith(f"TESTOS-MARKER {name}\n".encode())
        mac = lab.gnt("gnt-instance", "list", "--no-headers", "-o", "nic.mac/0", name).stdout.strip()
        assert env["NIC_0_MAC"] == mac

        hv = {"kernel_path": str(kernel.vmlinuz), "initrd_path": str(initrd)}
        with lab.boot(name, hv) as serial:
            wait_for(rf"GUEST-READY {token}", serial, timeout=180)
            console = serial.read_text(encoding="utf-8", errors="replace")
            # started paused and resumed once the logger was attached: the log
            # holds the console from the kernel's first line on
            assert console.startswith(f"[    0.000000] Linux version {kernel.version} ")
            assert "console=ttyS0" in console
            assert "GUEST-INSMOD-FAILED" not in console
            assert f"GUEST-NET-UP mac={mac} address={address}/24" in console
            assert "kvm support: disabled" in lab.monitor(name, "info kvm")  # TCG, as configured
            state = lab.gnt("gnt-instance", "list", "--no-headers", "-o", "status", name).stdout
            assert state.strip() == "running"
            ping = lab.run(["busybox", "ping", "-c", "1", "-W", "5", address], check=False, timeout=30)
            assert ping.returncode == 0, ping.stdout + ping.stderr
            reply = lab.run(
                [
                    ganeti_ns.INIT_PYTHON,
                    "-c",
                    "import socket, sys\n"
                    "s = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=10)\n"
                    "print(s.makefile().readline().strip())",
                    address,
                    str(TOKEN_PORT),
                ],
                timeout=30,
            )
            assert reply.stdout.strip() == f"GUEST-TOKEN {token}"
        # Boot the same instance again with an earlier boot's lines left in its
        # log (past where the new boot writes): what is waited for and read is
        # that boot's alone, as when a test reuses another test's instance name
        lab.gnt("gnt-instance", "shutdown", "--timeout=0", name, timeout=300)
        stale = serial.read_text(encoding="utf-8", errors="replace")
        serial.write_text(stale + "x" * 65536 + f"\nSTALE GUEST-READY {token}\n", encoding="utf-8")
        with lab.boot(name, hv) as serial:
            wait_for(rf"GUEST-READY {token}", serial, timeout=180)
            console = serial.read_text(encoding="utf-8", errors="replace")
            assert console.startswith(f"[    0.000000] Linux version {kernel.version} ")
            assert "STALE" not in console
            assert console.count("Linux version") == 1
    finally:
        lab.remove_instance(name)
    assert name not in lab.instance_names()
    assert host_disk is not None
    assert not host_disk.exists()


def _lab_mount_changes(
    before: hostcheck.HostState, after: hostcheck.HostState, netns: str, scratch: Path
) -> set[tuple[str, str, str, str]]:
    """Mount differences a lab could have caused (others may mount elsewhere meanwhile)."""
    return {
        m
        for m in before.mounts ^ after.mounts
        if netns in m[1]
        or str(scratch) in m[0]
        or m[3].startswith("p2vgnt")
        or any(m[1] == w or m[1].startswith(w + "/") for w in ganeti_ns.HIDDEN_INSIDE)
    }


def _lab_loops(before: hostcheck.HostState, after: hostcheck.HostState, scratch: Path) -> list[str]:
    return [
        f"{lp.name} {lp.back_file}"
        for name, lp in after.loops.items()
        if before.loops.get(name) != lp
        and (str(scratch) in lp.back_file or "ganeti/file-storage" in lp.back_file)
    ]


def _skip_without_lab() -> None:
    reason = missing_requirements()
    if reason:
        pytest.skip(reason)


def test_teardown_leaves_the_host_as_it_was(tmp_path: Path) -> None:
    """A lab with a running instance and a loop device left attached by a
    careless script is torn down to nothing."""
    _skip_without_lab()
    kernel = guest_kernel()
    initrd = busybox_initrd(tmp_path / "initrd.gz", kernel, address_cidr="198.51.100.11/24", token="x")
    scratch = tmp_path / "lab"
    before = hostcheck.snapshot()
    seen: set[tuple[int, str]] = set()
    with contextlib.ExitStack() as after_lab, ganeti.ganeti_lab(scratch) as lab:
        write_test_os(lab.os_dir_host)
        lab.gnt(
            "gnt-instance",
            "add",
            *("-t", "file", "-s", "1G", "-o", f"{TESTOS}+default", "--no-name-check", "--no-ip-check"),
            *("--no-start", "-n", lab.node_name, "--net", f"0:link={lab.bridge}"),
            "teardownvm",
        )
        # the instance keeps running and its console logger stays attached: teardown ends both
        hv = {"kernel_path": str(kernel.vmlinuz), "initrd_path": str(initrd)}
        wait_for("GUEST-READY", after_lab.enter_context(lab.boot("teardownvm", hv)), timeout=180)
        lab.run(["truncate", "-s", "16M", f"{FILE_STORAGE_DIR}/stray.img"])
        loop = lab.run(["losetup", "--find", "--show", f"{FILE_STORAGE_DIR}/stray.img"]).stdout.strip()
        during = hostcheck.snapshot()
        assert loop in during.loops
        for pid in ganeti_ns.netns_pids(lab.netns):
            seen.add((pid, _start_time(pid)))
        commands = " ".join(_cmdline(p) for p, _ in seen)
        for program in ("ganeti-noded", "ganeti-luxid", "sshd", "qemu-system-x86_64", "socat"):
            assert program in commands
        netns = lab.netns
        # the only host mount a running lab has: its namespace's name
        assert {m[1] for m in _lab_mount_changes(before, during, netns, scratch)} == {f"/run/netns/{netns}"}
        assert during.trees == before.trees  # the cluster wrote nothing on the host
    after = hostcheck.snapshot()
    assert lab.teardown_seconds < 60
    assert netns not in after.netns
    # namespaces this process made (a lab of another run may come and go meanwhile)
    new = set(after.netns) - set(before.netns)
    assert {n for n in new if ganeti_ns.netns_creator(n) == os.getpid()} == set()
    assert _lab_mount_changes(before, after, netns, scratch) == set()
    assert _lab_loops(before, after, scratch) == []
    assert after.trees == before.trees
    assert [p for p, start in seen if process_alive(p) and _start_time(p) == start] == []
    assert not scratch.exists()


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def _start_time(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/stat").read_text(encoding="ascii").rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return ""


def test_an_interrupted_lab_dies_with_its_creator(tmp_path: Path) -> None:
    """SIGKILL the process that started a lab: every lab process ends by
    itself, no lab mount is left; the next run sweeps the namespace name."""
    _skip_without_lab()
    scratch = tmp_path / "lab"
    program = (
        "import sys\n"
        "from pathlib import Path\n"
        "from tests.lab.ganeti import ganeti_lab\n"
        "with ganeti_lab(Path(sys.argv[1])) as lab:\n"
        "    print(lab.netns, lab.init_pid, flush=True)\n"
        "    sys.stdin.read()\n"
    )
    before = hostcheck.snapshot()
    creator = subprocess.Popen(
        [sys.executable, "-c", program, str(scratch)],
        cwd=REPO,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        line = creator.stdout.readline() if creator.stdout else ""
        assert line, creator.stderr.read() if creator.stderr else ""
        netns, init_pid = line.split()[0], int(line.split()[1])
        lab_pids = ganeti_ns.netns_pids(netns)
        assert int(init_pid) in lab_pids and len(lab_pids) > 5  # daemons, sshd, init
        os.kill(creator.pid, signal.SIGKILL)
        creator.wait(timeout=10)
        deadline = time.monotonic() + 30
        while ganeti_ns.netns_pids(netns) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert ganeti_ns.netns_pids(netns) == []
        assert {m[1] for m in _lab_mount_changes(before, hostcheck.snapshot(), netns, scratch)} == {
            f"/run/netns/{netns}"
        }
        assert netns in ganeti_ns.sweep_stale_labs()
        after = hostcheck.snapshot()
        assert netns not in after.netns
        assert _lab_mount_changes(before, after, netns, scratch) == set()
        assert after.trees == before.trees
    finally:
        if creator.poll() is None:
            creator.kill()
            creator.wait(timeout=10)
        subprocess.run(["rm", "-rf", str(scratch)], check=False)
