"""A real single-node Ganeti 3.0 cluster for tests, isolated from the host.

    with ganeti_lab(tmp_path / "lab") as lab:
        lab.gnt("gnt-node", "list")
        lab.gnt("gnt-instance", "add", "-t", "file", ...)
        with lab.boot("inst1", {"kernel_path": ..., "initrd_path": ...}) as serial:
            wait_for(r"login:", serial, timeout=60)

The node runs in namespaces of its own (see :mod:`tests.lab.ganeti_ns`): the
network 198.51.100.0/24 (TEST-NET-2) exists only on the lab's bridge, with no
default route; the node and cluster names resolve only inside the lab; Ganeti's
state, root's SSH keys and the node's SSH host keys are lab files bound over the
host's directories. QEMU runs under TCG (``kvm_flag=disabled`` with
``qemu-system-x86_64``: a program named ``kvm`` would ask for KVM anyway).
"""

from __future__ import annotations

import functools
import logging
import os
import secrets
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path

from . import ganeti_ns as ns
from .ganeti_proc import LabProcess, detach_lab_loops, loop_table, spawn, wait_for
from .netns import process_alive

log = logging.getLogger(__name__)

__all__ = ["GanetiLab", "LabProcess", "ganeti_lab", "missing_requirements", "wait_for"]

SUBNET = "198.51.100.0/24"
PREFIX_LEN = 24
NODE_ADDRESS = "198.51.100.1"
MASTER_ADDRESS = "198.51.100.254"
DOMAIN = "gntlab.test"  # .test is reserved: it can never resolve elsewhere
NODE_NAME = f"node1.{DOMAIN}"
CLUSTER_NAME = f"cluster.{DOMAIN}"
BRIDGE = "gntbr0"
QEMU = "/usr/bin/qemu-system-x86_64"
OS_DIR = "/srv/ganeti/os"
FILE_STORAGE_DIR = "/srv/ganeti/file-storage"
KVM_CTRL_DIR = "/run/ganeti/kvm-hypervisor/ctrl"
DAEMON_UTIL = "/usr/lib/ganeti/daemon-util"
TOOLS = (
    "gnt-cluster",
    "socat",
    "nsenter",
    "unshare",
    "setpriv",
    "ip",
    "ssh-keygen",
    "ssh-keyscan",
    "losetup",
)
SSHD = "/usr/sbin/sshd"


def missing_requirements() -> str | None:
    """Why a lab cannot run here, or None."""
    if os.geteuid() != 0:
        return "needs root: network, mount and PID namespaces"
    missing = [t for t in TOOLS if shutil.which(t) is None]
    missing += [p for p in (QEMU, SSHD, ns.INIT_PYTHON) if not Path(p).exists()]
    if missing:
        return f"needs {', '.join(missing)} (Debian: ganeti, qemu-system-x86, socat, openssh-server)"
    return None


def hosts_text() -> str:
    node_short, cluster_short = NODE_NAME.split(".", maxsplit=1)[0], CLUSTER_NAME.split(".", maxsplit=1)[0]
    return (
        "127.0.0.1\tlocalhost\n"
        f"{NODE_ADDRESS}\t{NODE_NAME} {node_short}\n"
        f"{MASTER_ADDRESS}\t{CLUSTER_NAME} {cluster_short}\n"
    )


def node_sshd_config(pid_file: str) -> str:
    """The node's sshd: Ganeti logs in as root with its cluster key."""
    return (
        "\n".join(
            [
                "Port 22",
                f"ListenAddress {NODE_ADDRESS}",  # only the lab bridge
                "HostKey /etc/ssh/ssh_host_rsa_key",  # the lab's keys (bound /etc/ssh)
                "HostKey /etc/ssh/ssh_host_ecdsa_key",
                "HostKey /etc/ssh/ssh_host_ed25519_key",
                "PermitRootLogin prohibit-password",
                "PasswordAuthentication no",
                "KbdInteractiveAuthentication no",
                "UsePAM no",  # no host PAM session modules
                "PrintMotd no",
                "PrintLastLog no",
                f"PidFile {pid_file}",
                "AuthorizedKeysFile .ssh/authorized_keys",  # the lab's /root/.ssh
                "Subsystem sftp internal-sftp",  # gnt-cluster copyfile
            ]
        )
        + "\n"
    )


def cluster_init_argv() -> list[str]:
    return [
        "gnt-cluster",
        "init",
        "--no-etc-hosts",  # the lab's /etc/hosts is written by the lab
        f"--master-netdev={BRIDGE}",  # master IP goes on the lab bridge
        "--enabled-hypervisors=kvm",
        "--enabled-disk-templates=file",  # no LVM/DRBD: no device-mapper here
        f"--file-storage-dir={FILE_STORAGE_DIR}",
        "--ssh-key-type=rsa",  # DSA is off in current OpenSSH
        "-H",
        # qemu-system-x86_64 with kvm_flag=disabled runs TCG (/dev/kvm hangs here);
        # no default kernel: tests pass -H kernel_path=... at start
        f"kvm:kvm_path={QEMU},kvm_flag=disabled,kernel_path=,initrd_path=,vnc_bind_address=",
        "-N",
        f"mode=bridged,link={BRIDGE}",  # instance NICs join the lab bridge
        CLUSTER_NAME,
    ]


class GanetiLab:
    """A running lab; build it with :func:`ganeti_lab`."""

    netns: str
    bridge = BRIDGE
    node_name = NODE_NAME
    cluster_name = CLUSTER_NAME
    node_address = NODE_ADDRESS
    master_address = MASTER_ADDRESS
    subnet = SUBNET
    prefix_len = PREFIX_LEN
    os_dir = OS_DIR
    file_storage_dir = FILE_STORAGE_DIR

    def __init__(self, scratch: Path, netns: str) -> None:
        self.scratch = scratch
        self.netns = netns
        self.layout = ns.Layout(scratch)
        self.init_pid: int | None = None
        self.initialised = False
        self.setup_seconds = 0.0
        self.teardown_seconds = 0.0
        self._init_proc: subprocess.Popen[bytes] | None = None
        self._spawned: list[LabProcess] = []
        self._loops_before = loop_table()

    # -- paths ---------------------------------------------------------------
    def host_path(self, inside: str) -> Path:
        """Where a path under the lab's Ganeti/SSH/srv/run directories lives on the host."""
        return self.layout.host_path(inside)

    @property
    def os_dir_host(self) -> Path:
        return self.host_path(OS_DIR)

    @property
    def file_storage_dir_host(self) -> Path:
        return self.host_path(FILE_STORAGE_DIR)

    def loop_prefixes(self) -> list[str]:
        """How the kernel may name a lab file-storage file backing a loop device."""
        bound = self.layout.bind_of(FILE_STORAGE_DIR)
        return [FILE_STORAGE_DIR, "/" + os.path.relpath(FILE_STORAGE_DIR, bound.target)]

    def address(self, n: int) -> str:
        """Instance address number ``n`` (2..253) of the lab subnet."""
        if not 2 <= n <= 253:
            raise ValueError("lab addresses are .2 to .253 (.1 node, .254 cluster)")
        return f"198.51.100.{n}"

    # -- commands ------------------------------------------------------------
    def argv(self, argv: Sequence[str], *, cwd: str = "/") -> list[str]:
        """``argv`` wrapped to run inside the lab's namespaces."""
        if self.init_pid is None:
            raise RuntimeError("lab is not running")
        return ns.nsenter_argv(self.init_pid, argv, cwd=cwd)

    def run(
        self,
        argv: Sequence[str],
        *,
        check: bool = True,
        timeout: float = 120,
        input: str | None = None,
        cwd: str = "/",
    ) -> subprocess.CompletedProcess[str]:
        """Run ``argv`` on the node (inside the lab namespaces)."""
        proc = subprocess.run(
            self.argv(argv, cwd=cwd),
            input=input,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if check and proc.returncode != 0:
            raise RuntimeError(
                f"{' '.join(argv)} failed ({proc.returncode}):\n{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}"
            )
        return proc

    def gnt(self, *args: str, timeout: float = 300, check: bool = True) -> subprocess.CompletedProcess[str]:
        """A Ganeti command, e.g. ``lab.gnt("gnt-node", "list")``."""
        return self.run(args, timeout=timeout, check=check)

    def spawn(self, argv: Sequence[str], output: Path) -> LabProcess:
        """Start a long-running lab process (stdout and stderr to ``output``);
        it is stopped at teardown if the test does not stop it first."""
        proc = spawn(self.argv(argv), output, self.netns)
        self._spawned.append(proc)
        return proc

    # -- instances -----------------------------------------------------------
    def instance_names(self) -> list[str]:
        out = self.gnt("gnt-instance", "list", "--no-headers", "-o", "name", timeout=120).stdout
        return out.split()

    def start_instance(
        self,
        name: str,
        hvparams: Mapping[str, str] | None = None,
        *,
        paused: bool = False,
        timeout: float = 300,
    ) -> None:
        """``gnt-instance start`` with one-off ``-H key=value`` parameters."""
        argv = ["gnt-instance", "start"]
        if hvparams:
            argv += ["-H", ",".join(f"{k}={v}" for k, v in hvparams.items())]
        if paused:
            argv.append("--paused")  # QEMU waits for "cont": no console output is lost
        self.gnt(*argv, name, timeout=timeout)

    def monitor(self, name: str, command: str) -> str:
        """One QEMU human-monitor command for instance ``name``."""
        sock = f"{KVM_CTRL_DIR}/{name}.monitor"
        return self.run(["socat", "-", f"UNIX-CONNECT:{sock}"], input=command + "\n", timeout=30).stdout

    def resume_instance(self, name: str) -> None:
        self.monitor(name, "cont")
        deadline = time.monotonic() + 30
        while "running" not in self.monitor(name, "info status"):
            if time.monotonic() > deadline:
                raise TimeoutError(f"instance {name} did not resume")
            time.sleep(0.2)

    @contextmanager
    def serial_log(self, name: str) -> Iterator[Path]:
        """Log the instance's serial console to a file while the block runs.

        The console is a single-client unix socket: leave the block before
        ``gnt-instance console``. Attach to a paused instance (``start_instance(
        paused=True)``, then :meth:`resume_instance`) to see it from the first byte.
        Each block starts a fresh log: a pattern waited for is never one an
        earlier boot of an instance with the same name printed.
        """
        logs = self.scratch / "serial"
        logs.mkdir(exist_ok=True)
        path = logs / f"{name}.log"
        socat_log = logs / f"{name}.socat"
        socat_log.unlink(missing_ok=True)  # spawn appends: its start notice must be this one
        argv = [
            "socat",
            "-d",
            "-d",  # notices: tells when the data loop starts
            "-u",  # console -> file only
            f"UNIX-CONNECT:{KVM_CTRL_DIR}/{name}.serial",
            f"OPEN:{path},creat,trunc",
        ]
        proc = self.spawn(argv, socat_log)
        try:
            wait_for("starting data transfer loop", socat_log, timeout=15)
            yield path
        finally:
            proc.stop()

    @contextmanager
    def boot(self, name: str, hvparams: Mapping[str, str] | None = None) -> Iterator[Path]:
        """Start ``name`` paused, attach the serial logger, resume; yields the log."""
        self.start_instance(name, hvparams, paused=True)
        with self.serial_log(name) as path:
            self.resume_instance(name)
            yield path

    def remove_instance(self, name: str, *, timeout: float = 300) -> None:
        """Shut down (without waiting for ACPI) and remove ``name``."""
        self.gnt("gnt-instance", "remove", "--force", "--shutdown-timeout=0", name, timeout=timeout)

    # -- life cycle ----------------------------------------------------------
    def start(self) -> None:
        t0 = time.monotonic()
        ns.check_scratch(self.scratch)
        ns.prepare_layout(self.layout, hosts_text())
        etc_ssh = self.layout.host_path("/etc/ssh")
        for kind in ("rsa", "ecdsa", "ed25519"):
            key = etc_ssh / f"ssh_host_{kind}_key"
            subprocess.run(
                ["ssh-keygen", "-q", "-t", kind, "-N", "", "-C", f"root@{NODE_NAME}", "-f", str(key)],
                check=True,
                capture_output=True,
            )
        file_paths = self.layout.host_path("/etc/ganeti/file-storage-paths")
        file_paths.write_text(FILE_STORAGE_DIR + "\n", encoding="ascii")
        self.file_storage_dir_host.mkdir(parents=True)
        self.os_dir_host.mkdir(parents=True)
        for argv in ns.netns_setup_argvs(self.netns, BRIDGE, f"{NODE_ADDRESS}/{PREFIX_LEN}"):
            subprocess.run(argv, check=True, capture_output=True, timeout=30)
        self._init_proc, self.init_pid = ns.start_init(self.netns, NODE_NAME, self.scratch / "init.log")
        for argv in ns.mount_argvs(self.layout):
            self.run(argv, timeout=30)
        fqdn = self.run([ns.INIT_PYTHON, "-c", "import socket; print(socket.getfqdn())"]).stdout.strip()
        if fqdn != NODE_NAME:
            raise RuntimeError(f"node FQDN inside the lab is {fqdn!r}, not {NODE_NAME}")
        self._start_sshd()
        self.gnt(*cluster_init_argv(), timeout=300)
        self.initialised = True
        # ganeti-watcher runs from the host's cron; the lab's state is invisible
        # there, and a paused watcher never touches the lab's instances either
        self.gnt("gnt-cluster", "watcher", "pause", "30d", timeout=60)
        self._wait_daemons()
        self.setup_seconds = time.monotonic() - t0
        log.info("Ganeti lab %s up in %.1fs", self.netns, self.setup_seconds)

    def _start_sshd(self) -> None:
        config = self.layout.root / "node-sshd_config"
        config.write_text(node_sshd_config("/run/sshd-node.pid"), encoding="ascii")
        self.run([SSHD, "-f", str(config), "-E", "/var/log/ganeti/node-sshd.log"], timeout=30)
        deadline = time.monotonic() + 20
        while (
            "ssh-rsa"
            not in self.run(
                ["ssh-keyscan", "-T", "2", "-t", "rsa", NODE_ADDRESS], check=False, timeout=30
            ).stdout
        ):
            if time.monotonic() > deadline:
                raise TimeoutError("node sshd did not come up")
            time.sleep(0.1)

    def _wait_daemons(self) -> None:
        """Queries go through luxid, jobs through masterd/wconfd and noded."""
        deadline = time.monotonic() + 60
        while True:
            proc = self.gnt("gnt-node", "list", "--no-headers", "-o", "name", check=False, timeout=60)
            if proc.returncode == 0 and NODE_NAME in proc.stdout.split():
                return
            if time.monotonic() > deadline:
                raise TimeoutError(f"Ganeti daemons not answering: {proc.stderr}")
            time.sleep(0.5)

    def close(self) -> None:
        """Remove instances, destroy the cluster, end every lab process (by PID,
        checked to be in the lab's namespace), detach the lab's loop devices,
        delete the namespace and the scratch directory. Tries every step; raises
        the first failure at the end."""
        t0 = time.monotonic()
        errors: list[BaseException] = []

        def step(what: str, fn: Callable[[], object]) -> None:
            try:
                fn()
            except Exception as exc:  # collect, keep tearing down
                log.warning("lab teardown: %s failed: %s", what, exc)
                errors.append(exc)

        for proc in self._spawned:
            step("stop spawned process", proc.stop)
        alive = self.init_pid is not None and process_alive(self.init_pid)
        if self.initialised and alive:
            for name in self._instances_or_empty():
                step(f"remove {name}", functools.partial(self.remove_instance, name))
            step("destroy cluster", lambda: self.gnt("gnt-cluster", "destroy", "--yes-do-it", timeout=180))
            step("stop daemons", lambda: self.run([DAEMON_UTIL, "stop-all"], timeout=120))
        spare = [self._init_proc.pid] if self._init_proc else []
        step("end lab processes", lambda: ns.end_lab_processes(self.netns, self.init_pid, spare=spare))
        if self._init_proc is not None:
            step("reap init", lambda: self._init_proc.wait(timeout=15) if self._init_proc else None)
        step(
            "detach loop devices",
            lambda: detach_lab_loops(self._loops_before, self.scratch, self.loop_prefixes()),
        )
        step("delete netns", lambda: ns.delete_netns(self.netns))
        step("remove scratch", lambda: shutil.rmtree(self.scratch) if self.scratch.exists() else None)
        self.init_pid = None
        self.teardown_seconds = time.monotonic() - t0
        log.info("Ganeti lab %s torn down in %.1fs", self.netns, self.teardown_seconds)
        if errors:
            raise errors[0]

    def _instances_or_empty(self) -> list[str]:
        try:
            return self.instance_names()
        except (RuntimeError, subprocess.TimeoutExpired) as exc:
            log.warning("cannot list instances: %s", exc)
            return []


@contextmanager
def ganeti_lab(scratch: Path) -> Iterator[GanetiLab]:
    """A one-node cluster whose files all live under ``scratch`` (created, then removed)."""
    ns.sweep_stale_labs()
    scratch.mkdir(parents=True, exist_ok=False)
    lab = GanetiLab(scratch, ns.netns_name(secrets.token_hex(3)))
    try:
        lab.start()
        yield lab
    finally:
        lab.close()
