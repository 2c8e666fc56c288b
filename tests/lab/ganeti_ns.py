"""The namespaces a Ganeti lab lives in, and how to leave the host untouched.

A lab is one named network namespace (``p2vgnt-<creator pid>-<token>``) plus a
long-lived init process that owns fresh UTS, mount and PID namespaces inside
it. Every lab command enters all four with ``nsenter``. Inside the mount
namespace, lab-owned directories under the scratch directory are bound over
the places Ganeti, sshd and root's SSH client write to, so the host's
/var/lib, /etc/ganeti, /etc/default, /etc/ssh, /srv, /run and /root never change.

Interruption safety comes from the process tree: the init runs under
``setpriv --pdeathsig KILL`` and ``unshare --kill-child``, so when the process
that started the lab dies, the init dies, the kernel kills every other process
of the PID namespace (Ganeti daemons, QEMU, sshd), and the mount namespace
with all its mounts goes away. Only the namespace's name under /run/netns
remains; :func:`sweep_stale_labs` removes names whose creator is gone.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import signal
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from .netns import end_processes, process_alive

log = logging.getLogger(__name__)

NETNS_PREFIX = "p2vgnt"
NETNS_DIR = Path("/run/netns")
INIT_PYTHON = "/usr/bin/python3"
"""Debian's Python (Ganeti's own); the lab init needs nothing but the stdlib."""
INIT_SCRIPT = """\
import os, socket, sys, time
socket.sethostname(sys.argv[1])
while True:
    try:
        os.wait()
    except ChildProcessError:
        time.sleep(0.5)
"""
"""PID 1 of the lab: sets the node's host name, then reaps orphans forever
(daemons double-fork; QEMU must not linger as a zombie Ganeti still sees)."""
START_TIMEOUT = 20.0


@dataclass(frozen=True)
class Bind:
    """``source`` (a lab path on the host) bound over ``target`` inside the lab."""

    source: Path
    target: str
    copy_from_host: bool = False
    """Seed ``source`` with the host's ``target`` contents (config the lab should share)."""
    skip: tuple[str, ...] = ()
    """Glob patterns not copied from the host (its private keys)."""


@dataclass(frozen=True)
class Layout:
    """Where each lab-owned tree lives under the scratch directory."""

    scratch: Path

    @property
    def root(self) -> Path:
        return self.scratch / "root"

    def bind_of(self, inside: str) -> Bind:
        """The bind mount that holds ``inside`` (the deepest one)."""
        for bind in sorted(self.binds(), key=lambda b: -len(b.target)):
            if inside == bind.target or inside.startswith(bind.target.rstrip("/") + "/"):
                return bind
        raise ValueError(f"{inside} is not inside a lab-owned directory")

    def host_path(self, inside: str) -> Path:
        """The host path of ``inside`` (a path under one of the bound directories)."""
        bind = self.bind_of(inside)
        return bind.source / os.path.relpath(inside, bind.target)

    def binds(self) -> list[Bind]:
        r = self.root
        return [
            Bind(r / "var-lib-ganeti", "/var/lib/ganeti"),  # config.data, keys, queue
            Bind(r / "var-log-ganeti", "/var/log/ganeti"),  # daemon and OS logs
            Bind(r / "etc-ganeti", "/etc/ganeti", copy_from_host=True),  # package's ifup scripts
            Bind(r / "etc-default", "/etc/default", copy_from_host=True),  # OS definitions' config
            # sshd/ssh config; fresh host keys replace the host's (never copied)
            Bind(r / "etc-ssh", "/etc/ssh", copy_from_host=True, skip=("ssh_host_*",)),
            Bind(r / "srv", "/srv"),  # /srv/ganeti/os, file storage
            Bind(r / "run", "/run"),  # /run/ganeti, /run/lock (= /var/lock), /run/sshd
            Bind(r / "root-ssh", "/root/.ssh"),  # Ganeti's cluster SSH key
        ]

    @property
    def hosts(self) -> Path:
        return self.root / "hosts"

    @property
    def shadow(self) -> Path:
        return self.root / "shadow"

    @property
    def resolv_conf(self) -> Path:
        return self.root / "resolv.conf"

    def overlay_dirs(self, inside: str) -> tuple[Path, Path]:
        """Upper and work directory of the overlay on ``inside`` (one of :data:`OVERLAID`)."""
        name = inside.strip("/").replace("/", "-")
        return self.root / f"{name}.upper", self.root / f"{name}.work"


OVERLAID = ("/root", "/var/lib")
"""Host directories the lab sees with their content, writes kept in the lab: root's home, and
/var/lib for what an admin installs on a node (e.g. /var/lib/ganeti-instance-p2v-target)."""


HIDDEN_INSIDE = (
    "/var/lib",
    "/var/log/ganeti",
    "/etc/ganeti",
    "/etc/default",
    "/etc/ssh",
    "/srv",
    "/run",
    "/root",
)


def check_scratch(scratch: Path) -> None:
    """The scratch directory must stay visible inside the lab (QEMU reads kernels
    from it, socat writes logs into it), so it must not lie under a bound place."""
    real = str(scratch.resolve())
    for hidden in HIDDEN_INSIDE:
        if real == hidden or real.startswith(hidden + "/"):
            raise ValueError(f"lab scratch {real} would be hidden inside the lab by {hidden}")


def netns_name(token: str, creator: int | None = None) -> str:
    return f"{NETNS_PREFIX}-{creator if creator is not None else os.getpid()}-{token}"


def netns_creator(name: str) -> int | None:
    m = re.fullmatch(rf"{NETNS_PREFIX}-(\d+)-[0-9a-f]+", name)
    return int(m.group(1)) if m else None


def netns_setup_argvs(ns: str, bridge: str, node_cidr: str) -> list[list[str]]:
    """The lab's wire: a bridge carrying the node address, no default route."""
    return [
        ["ip", "netns", "add", ns],
        ["ip", "-n", ns, "link", "set", "lo", "up"],
        ["ip", "-n", ns, "link", "add", bridge, "type", "bridge"],
        # a veth pair enslaved to the bridge gives it carrier before any instance runs
        ["ip", "-n", ns, "link", "add", f"{bridge}v0", "type", "veth", "peer", "name", f"{bridge}v1"],
        ["ip", "-n", ns, "link", "set", f"{bridge}v0", "master", bridge],
        ["ip", "-n", ns, "link", "set", f"{bridge}v0", "up"],
        ["ip", "-n", ns, "link", "set", f"{bridge}v1", "up"],
        ["ip", "-n", ns, "addr", "add", node_cidr, "dev", bridge],
        ["ip", "-n", ns, "link", "set", bridge, "up"],
    ]


def init_argv(ns: str, hostname: str) -> list[str]:
    """The lab's PID 1, started from the creating process."""
    return [
        "nsenter",
        f"--net={NETNS_DIR / ns}",  # the named network namespace
        "--",
        "setpriv",
        "--pdeathsig",
        "KILL",  # dies with the process that started the lab
        "--",
        "unshare",
        "--uts",  # the node's own host name
        "--mount",  # private mounts: lab directories bound over host ones
        "--propagation",
        "private",  # nothing mounted inside reaches the host
        "--pid",  # one PID namespace: its end ends every lab process
        "--fork",
        "--kill-child=KILL",  # unshare's death kills the init
        "--mount-proc",  # /proc shows the lab's PIDs (Ganeti's pid files)
        "--",
        INIT_PYTHON,
        "-c",
        INIT_SCRIPT,
        hostname,
    ]


def nsenter_argv(init_pid: int, argv: Sequence[str], *, cwd: str = "/") -> list[str]:
    return [
        "nsenter",
        "--target",
        str(init_pid),
        "--net",
        "--uts",
        "--mount",
        "--pid",  # forks: the command is a lab process
        f"--wd={cwd}",  # nsenter --mount would otherwise reset the directory
        "--",
        *argv,
    ]


def mount_argvs(layout: Layout) -> list[list[str]]:
    """Run inside the lab, in order, once the init is up."""
    argvs = [
        # sysfs of the lab's network namespace: ifup scripts read /sys/class/net/BRIDGE
        ["mount", "-t", "sysfs", "p2vgnt-sysfs", "/sys"],
    ]
    for inside in OVERLAID:  # host content visible, writes kept in the lab
        upper, work = layout.overlay_dirs(inside)
        argvs.append(
            [
                "mount",
                "-t",
                "overlay",
                "-o",
                f"lowerdir={inside},upperdir={upper},workdir={work}",
                "p2vgnt" + inside.replace("/", "-"),
                inside,
            ]
        )
    argvs.append(["mkdir", "-p", "-m", "0700", "/root/.ssh"])  # in the overlay's upper layer
    for bind in layout.binds():
        argvs.append(["mount", "--bind", str(bind.source), bind.target])
    argvs.append(["mount", "--bind", str(layout.hosts), "/etc/hosts"])  # node and cluster names
    argvs.append(["mount", "--bind", str(layout.resolv_conf), "/etc/resolv.conf"])  # no DNS leaves
    if layout.shadow.exists():
        argvs.append(["mount", "--bind", str(layout.shadow), "/etc/shadow"])  # root unlocked for sshd
    return argvs


def unlocked_root_shadow(text: str) -> str | None:
    """/etc/shadow with root's ``!`` lock turned into ``*`` (no password, but
    sshd without PAM accepts keys), or None when root is not locked that way."""
    lines = text.splitlines(keepends=True)
    for i, line in enumerate(lines):
        if line.startswith("root:!"):
            name, _locked, rest = line.split(":", 2)
            lines[i] = f"{name}:*:{rest}"
            return "".join(lines)
    return None


def copy_attrs(src: str | Path, dst: Path) -> None:
    st = os.stat(src)
    os.chown(dst, st.st_uid, st.st_gid)
    os.chmod(dst, st.st_mode & 0o7777)


def prepare_layout(layout: Layout, hosts_text: str) -> None:
    """Create the lab trees on the host side, with the host directories' owners and modes."""
    layout.root.mkdir(mode=0o755, parents=True)
    for bind in layout.binds():
        host = Path(bind.target)
        if bind.copy_from_host and host.is_dir():
            shutil.copytree(host, bind.source, symlinks=True, ignore=shutil.ignore_patterns(*bind.skip))
        else:
            bind.source.mkdir(mode=0o700 if bind.target == "/root/.ssh" else 0o755)
        if host.is_dir():
            copy_attrs(host, bind.source)
    run = layout.host_path("/run")
    for name in ("lock", "sshd"):
        (run / name).mkdir()
        if Path("/run", name).is_dir():
            copy_attrs(Path("/run", name), run / name)
    os.chmod(run / "lock", 0o1777)
    os.chmod(run / "sshd", 0o755)  # sshd's privilege separation directory
    for inside in OVERLAID:
        upper, work = layout.overlay_dirs(inside)
        work.mkdir(mode=0o700)
        upper.mkdir(mode=0o700)
        copy_attrs(inside, upper)  # the overlay's root directory takes the upper layer's owner and mode
    layout.hosts.write_text(hosts_text, encoding="ascii")
    shadow = unlocked_root_shadow(Path("/etc/shadow").read_text(encoding="utf-8"))
    if shadow is not None:
        layout.shadow.write_text(shadow, encoding="utf-8")
        copy_attrs("/etc/shadow", layout.shadow)
    layout.resolv_conf.write_text(
        "nameserver 127.0.0.1\noptions timeout:1 attempts:1\n",  # nothing answers: fail fast, stay inside
        encoding="ascii",
    )


def start_init(ns: str, hostname: str, log_path: Path) -> tuple[subprocess.Popen[bytes], int]:
    """Start the lab's PID 1; returns (the unshare process, the init's host PID)."""
    with open(log_path, "ab") as out:
        proc = subprocess.Popen(
            init_argv(ns, hostname),
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=out,
            cwd="/",  # hold no scratch directory busy
            start_new_session=True,
        )
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(
                f"lab init exited with {proc.returncode}: {log_path.read_text(errors='replace')}"
            )
        children = _children(proc.pid)
        if children and _in_netns(children[0], ns) and _uts_hostname(children[0]) == hostname:
            return proc, children[0]
        time.sleep(0.05)
    proc.kill()
    proc.wait(timeout=10)
    raise RuntimeError(f"lab init not up within {START_TIMEOUT}s")


def _uts_hostname(pid: int) -> str | None:
    proc = subprocess.run(
        ["nsenter", "--target", str(pid), "--uts", "--", "hostname"],
        capture_output=True,
        text=True,
        check=False,
        timeout=10,
    )
    return proc.stdout.strip() if proc.returncode == 0 else None


def _children(pid: int) -> list[int]:
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text(encoding="ascii")
    except OSError:
        return []
    return [int(w) for w in text.split()]


def children(pid: int) -> list[int]:
    """Direct children of ``pid`` (host PIDs)."""
    return _children(pid)


def _netns_ident(ns: str) -> tuple[int, int] | None:
    try:
        st = os.stat(NETNS_DIR / ns)
    except OSError:
        return None
    return st.st_dev, st.st_ino


def _in_netns(pid: int, ns: str) -> bool:
    ident = _netns_ident(ns)
    try:
        st = os.stat(f"/proc/{pid}/ns/net")
    except OSError:
        return False
    return ident is not None and (st.st_dev, st.st_ino) == ident


def netns_pids(ns: str) -> list[int]:
    """Host PIDs whose network namespace is ``ns`` (checked by inode, not by name)."""
    if _netns_ident(ns) is None:
        return []
    return [int(e) for e in os.listdir("/proc") if e.isdigit() and _in_netns(int(e), ns)]


def end_lab_processes(
    ns: str, init_pid: int | None, *, spare: Sequence[int] = (), grace: float = 10.0
) -> None:
    """SIGTERM every process of the lab's network namespace but the init and
    ``spare`` (the init's parent, which exits with it), then SIGKILL the init,
    which takes whatever is left of its PID namespace with it."""
    others = [p for p in netns_pids(ns) if p != init_pid and p not in spare]
    if others:
        end_processes(others, grace=grace)
    if init_pid is not None and _in_netns(init_pid, ns):
        os.kill(init_pid, signal.SIGKILL)  # PID 1 of its namespace ignores SIGTERM
    deadline = time.monotonic() + grace
    while (left := [p for p in netns_pids(ns) if process_alive(p)]) and time.monotonic() < deadline:
        time.sleep(0.05)
    if left:
        raise RuntimeError(f"processes {left} survive in lab namespace {ns}")


def delete_netns(ns: str) -> None:
    if _netns_ident(ns) is None:
        return
    proc = subprocess.run(["ip", "netns", "delete", ns], capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"ip netns delete {ns}: {proc.stderr.strip()}")


def sweep_stale_labs() -> list[str]:
    """Delete lab namespaces whose creating process is gone (an interrupted run)."""
    swept = []
    names = os.listdir(NETNS_DIR) if NETNS_DIR.is_dir() else []
    for name in names:
        creator = netns_creator(name)
        if creator is None or process_alive(creator):
            continue
        log.warning("removing stale Ganeti lab namespace %s", name)
        end_lab_processes(name, None)
        delete_netns(name)
        swept.append(name)
    return swept
