"""A real OpenSSH server playing the migration target, isolated from the host.

sshd runs in the target network namespace and in a private mount namespace
of its own, so everything a test does over SSH (partitioning loop devices,
mkfs, mount at /target, chroot) sees the host's /dev but mounts nothing the
host can see. /etc, /run and /var/log are overlaid with private upper layers
so that sshd's and the tests' writes there (privilege separation dir, utmp,
mount's utab, a root password unlock) never touch the host; the only host
change is an empty /target directory to mount over, shared by concurrent runs
and removed by the last one.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import secrets
import shlex
import socket
import subprocess
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .netns import NetnsPair, end_processes, stop_popen

log = logging.getLogger(__name__)

SSHD = "/usr/sbin/sshd"
TARGET_DIR = Path("/target")
ETC_DIR = Path("/etc/p2v-target")
RUN_DIR = Path("/run/p2v-target")
OVERLAID = ("/etc", "/run", "/var/log")
"""Host directories the private namespace sees read-through, with writes kept private."""
TARGET_REGISTRY = Path("/run/lock/p2v-lab-target.json")
"""Who uses the host's /target mount point, and whether a lab run created it."""
START_TIMEOUT = 20.0


@dataclass(frozen=True)
class TargetHost:
    host: str
    port: int
    host_key_line: str
    host_key_fingerprint: str
    host_key_path: Path
    log_path: Path
    ns: NetnsPair
    pid: int
    workdir: Path = field(repr=False)
    extra_host_keys: Mapping[str, tuple[str, str]] = field(default_factory=dict)
    """kind (``rsa``, ``ecdsa``) -> (public key line, SHA256 fingerprint)."""

    def run(
        self, argv: Sequence[str], *, check: bool = False, input: str | None = None, timeout: float = 120
    ) -> subprocess.CompletedProcess[str]:
        """Run ``argv`` inside the target's network and mount namespaces."""
        return subprocess.run(
            ["nsenter", "--target", str(self.pid), "--net", "--mount", "--", *argv],
            input=input,
            capture_output=True,
            text=True,
            check=check,
            timeout=timeout,
        )

    def root_path(self, path: str | Path) -> Path:
        """Host path showing ``path`` as the target namespace sees it (``/proc/PID/root/...``)."""
        return Path(f"/proc/{self.pid}/root") / Path(path).relative_to("/")

    def known_hosts_line(self) -> str:
        name = self.host if self.port == 22 else f"[{self.host}]:{self.port}"
        return f"{name} {self.host_key_line}"

    def write_known_hosts(self, path: Path) -> Path:
        path.write_text(self.known_hosts_line() + "\n", encoding="ascii")
        return path

    def ssh_argv(
        self, key: Path, known_hosts: Path, remote: Sequence[str], *, user: str = "root"
    ) -> list[str]:
        """An ``ssh`` command run from the client namespace, trusting only ``known_hosts``."""
        return self.ns.client_argv(
            [
                "ssh",
                "-F",
                "/dev/null",  # no user or system client config
                "-i",
                str(key),
                "-p",
                str(self.port),
                "-o",
                "IdentitiesOnly=yes",  # only the key given
                "-o",
                "BatchMode=yes",  # never prompt for a password
                "-o",
                "StrictHostKeyChecking=yes",
                "-o",
                f"UserKnownHostsFile={known_hosts}",
                "-o",
                "GlobalKnownHostsFile=/dev/null",
                "-o",
                "ConnectTimeout=10",
                f"{user}@{self.host}",
                "--",
                *remote,
            ]
        )


def make_client_key(directory: Path, name: str = "id_ed25519") -> tuple[Path, str]:
    """A fresh passphrase-less ed25519 key: (private key path, public key line)."""
    directory.mkdir(parents=True, exist_ok=True)
    key = directory / name
    _keygen(key, comment="p2v-lab-client")
    return key, key.with_name(name + ".pub").read_text(encoding="ascii").strip()


def _keygen(key: Path, *, comment: str, kind: str = "ed25519") -> None:
    subprocess.run(
        ["ssh-keygen", "-q", "-t", kind, "-N", "", "-C", comment, "-f", str(key)],
        check=True,
        capture_output=True,
    )


def fingerprint(pub_path: Path) -> str:
    """``SHA256:...`` exactly as ``ssh-keygen -lf`` prints it."""
    out = subprocess.run(["ssh-keygen", "-lf", str(pub_path)], check=True, capture_output=True, text=True)
    return out.stdout.split()[1]


BOOTSTRAP_FACTS = Path(__file__).resolve().parents[2] / "osdef" / "p2v-target" / "instance-facts"
"""Writes the bootstrap OS's sshd policy (SSHD_POLICY)."""


def bootstrap_client_alive() -> list[str]:
    """The ClientAlive* lines of the bootstrap OS's sshd policy: the lab's
    sshd ends a session whose client went silent as the bootstrap's does."""
    lines = [line for line in BOOTSTRAP_FACTS.read_text().splitlines() if line.startswith("ClientAlive")]
    if len(lines) != 2:
        raise RuntimeError(f"{BOOTSTRAP_FACTS}: expected ClientAliveInterval and ClientAliveCountMax")
    return lines


def sshd_config_text(
    *,
    listen: str,
    port: int,
    host_key: Path,
    authorized_keys: Path,
    pid_file: Path,
    listen6: str | None = None,
    extra_host_keys: Sequence[Path] = (),
) -> str:
    lines = [
        f"ListenAddress {listen}",  # only the target end of the veth wire
        *([f"ListenAddress [{listen6}]"] if listen6 else []),
        f"Port {port}",
        f"HostKey {host_key}",  # fresh key per run, never the host's own
        *(f"HostKey {k}" for k in extra_host_keys),
        "PermitRootLogin prohibit-password",  # the engine logs in as root with a key
        "PubkeyAuthentication yes",
        "PasswordAuthentication no",
        "KbdInteractiveAuthentication no",
        f"AuthorizedKeysFile {authorized_keys}",  # absolute: the host's /root/.ssh stays out of it
        "StrictModes no",  # workdir lives under pytest's tmp dirs
        "UsePAM no",  # no host PAM stack, no session modules
        f"PidFile {pid_file}",
        "Subsystem sftp internal-sftp",  # paramiko's SFTP without an external binary
        "LogLevel VERBOSE",  # logs key fingerprints of accepted logins
        "PrintMotd no",
        "PrintLastLog no",
        "X11Forwarding no",
        # as the bootstrap OS: a session whose client went silent ends
        *bootstrap_client_alive(),
        # No AcceptEnv: the client's locale and environment do not reach the target.
    ]
    return "\n".join(lines) + "\n"


def namespace_script(
    *, workdir: Path, scratch: Path, etc_src: Path, sshd_argv: Sequence[str], own_boot_id: bool = True
) -> str:
    """Shell run by ``unshare --mount``: builds the private view, then becomes sshd."""
    q = shlex.quote
    lines = ["set -eu"]
    # Scratch tmpfs for the overlays' upper layers; it vanishes with the namespace.
    lines.append(f"mount -t tmpfs -o mode=0700 p2v-lab-scratch {q(str(scratch))}")
    for lower in OVERLAID:
        tag = lower.strip("/").replace("/", "-")
        upper, work = scratch / f"{tag}.upper", scratch / f"{tag}.work"
        lines.append(f"mkdir {q(str(upper))} {q(str(work))}")
        opts = f"lowerdir={lower},upperdir={upper},workdir={work}"
        lines.append(f"mount -t overlay -o {q(opts)} p2v-lab-{tag} {q(lower)}")
    lines += [
        f"mkdir -p {q(str(ETC_DIR))}",
        f"mount --bind {q(str(etc_src))} {q(str(ETC_DIR))}",
        "mkdir -p -m 0755 /run/sshd",  # sshd's privilege separation dir
        # another machine: its own boot id (p2v refuses a target that is itself)
        *(
            [
                f"cat /proc/sys/kernel/random/uuid > {q(str(scratch))}/boot_id",
                f"mount --bind {q(str(scratch))}/boot_id /proc/sys/kernel/random/boot_id",
            ]
            if own_boot_id
            else []
        ),
        f"mkdir -p {q(str(RUN_DIR))}",
        f"mount -t tmpfs -o mode=0755 p2v-lab-run {q(str(RUN_DIR))}",
        f"mount -t tmpfs -o mode=0755 p2v-lab-target {q(str(TARGET_DIR))}",
        # UsePAM no refuses accounts locked with '!'; unlock root in this namespace only.
        "sed -i -e 's/^root:![^:]*:/root:*:/' /etc/shadow",
        f"cd {q(str(workdir))}",
        "exec " + " ".join(q(a) for a in sshd_argv),
    ]
    return "\n".join(lines) + "\n"


@contextmanager
def _locked_registry() -> Iterator[dict[str, Any]]:
    TARGET_REGISTRY.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(TARGET_REGISTRY, os.O_RDWR | os.O_CREAT, 0o644)
    with os.fdopen(fd, "r+", encoding="utf-8") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        text = f.read()
        state: dict[str, Any] = json.loads(text) if text.strip() else {}
        state.setdefault("created", False)
        state["users"] = [u for u in state.get("users", []) if _pid_alive(int(u.split(":")[0]))]
        yield state
        f.seek(0)
        f.truncate()
        f.write(json.dumps(state))


def _pid_alive(pid: int) -> bool:
    return os.path.exists(f"/proc/{pid}")


@contextmanager
def _host_target_dir(token: str) -> Iterator[None]:
    """Ensure the /target mount point exists; the last user removes it if a lab run made it."""
    me = f"{os.getpid()}:{token}"
    with _locked_registry() as state:
        if not TARGET_DIR.exists():
            TARGET_DIR.mkdir(mode=0o755)
            state["created"] = True
        state["users"].append(me)
    try:
        yield
    finally:
        with _locked_registry() as state:
            state["users"] = [u for u in state["users"] if u != me]
            if not state["users"] and state["created"]:
                try:
                    TARGET_DIR.rmdir()
                except OSError as exc:
                    log.warning("leaving %s in place: %s", TARGET_DIR, exc)
                state["created"] = False


def pids_in_mount_ns(ns_id: str) -> list[int]:
    pids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            if os.readlink(f"/proc/{entry}/ns/mnt") == ns_id:
                pids.append(int(entry))
        except OSError:
            continue
    return pids


def host_mount_points() -> set[str]:
    with open("/proc/self/mountinfo", encoding="utf-8") as f:
        return {line.split()[4] for line in f}


@contextmanager
def target_sshd(
    ns: NetnsPair,
    workdir: Path,
    *,
    authorized_keys: Sequence[str],
    instance_json: dict[str, Any] | str | None = None,
    port: int = 22,
    extra_host_key_types: Sequence[str] = (),
    same_machine: bool = False,
) -> Iterator[TargetHost]:
    """sshd in ``ns.target`` with private /target, /etc/p2v-target and /run/p2v-target,
    listening on the target's IPv4 and IPv6 addresses; an ed25519 host key plus
    one of each of ``extra_host_key_types`` (``rsa``, ``ecdsa``). It has a boot
    id of its own, as another machine would, unless ``same_machine``."""
    workdir = workdir.resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    host_key = workdir / "ssh_host_ed25519_key"
    _keygen(host_key, comment="p2v-lab-target")
    extra_keys = {}
    for kind in extra_host_key_types:
        path = workdir / f"ssh_host_{kind}_key"
        _keygen(path, comment="p2v-lab-target", kind=kind)
        pub_line = " ".join(path.with_name(path.name + ".pub").read_text(encoding="ascii").split()[:2])
        extra_keys[kind] = (pub_line, fingerprint(path.with_name(path.name + ".pub")))
    pub = host_key.with_name(host_key.name + ".pub")
    host_key_line = " ".join(pub.read_text(encoding="ascii").split()[:2])
    keys_file = workdir / "authorized_keys"
    keys_file.write_text("".join(k.strip() + "\n" for k in authorized_keys), encoding="ascii")
    etc_src = workdir / "etc-p2v-target"
    etc_src.mkdir(exist_ok=True)
    if instance_json is not None:
        text = instance_json if isinstance(instance_json, str) else json.dumps(instance_json, indent=2) + "\n"
        (etc_src / "instance.json").write_text(text, encoding="utf-8")
    scratch = workdir / "ns-scratch"
    scratch.mkdir(exist_ok=True)
    config = workdir / "sshd_config"
    config.write_text(
        sshd_config_text(
            listen=ns.target_ip,
            listen6=ns.target_ip6,
            port=port,
            host_key=host_key,
            extra_host_keys=[workdir / f"ssh_host_{kind}_key" for kind in extra_keys],
            authorized_keys=keys_file,
            pid_file=workdir / "sshd.pid",
        ),
        encoding="ascii",
    )
    log_path = workdir / "sshd.log"
    sshd_argv = [
        SSHD,
        "-D",  # stay in the foreground: our PID is sshd's
        "-e",  # log to stderr ...
        "-f",
        str(config),
        "-E",
        str(log_path),
    ]  # ... which -E sends to this file
    script = namespace_script(
        workdir=workdir, scratch=scratch, etc_src=etc_src, sshd_argv=sshd_argv, own_boot_id=not same_machine
    )
    argv = ns.target_argv(["unshare", "--mount", "--propagation", "private", "--", "sh", "-c", script])
    with _host_target_dir(secrets.token_hex(4)), open(workdir / "sshd.stderr", "ab") as out:
        proc = subprocess.Popen(
            argv, stdin=subprocess.DEVNULL, stdout=out, stderr=out, start_new_session=True
        )
        ns_fd: int | None = None
        try:
            _wait_ready(proc, ns, port, host_key_line, workdir)
            ns_fd = _hold_mount_ns(proc.pid)
            yield TargetHost(
                host=ns.target_ip,
                port=port,
                host_key_line=host_key_line,
                host_key_fingerprint=fingerprint(pub),
                host_key_path=host_key,
                log_path=log_path,
                ns=ns,
                pid=proc.pid,
                workdir=workdir,
                extra_host_keys=extra_keys,
            )
        finally:
            _stop(proc, ns_fd)
    leaked = {str(TARGET_DIR), str(ETC_DIR), str(RUN_DIR), str(scratch)} & host_mount_points()
    if leaked:
        raise RuntimeError(f"mounts leaked into the host namespace: {sorted(leaked)}")


def _logs(workdir: Path) -> str:
    parts = []
    for name in ("sshd.stderr", "sshd.log"):
        path = workdir / name
        if path.exists():
            parts.append(f"--- {name}\n{path.read_text(errors='replace')}")
    return "\n".join(parts)


def _wait_ready(
    proc: subprocess.Popen[bytes], ns: NetnsPair, port: int, host_key_line: str, workdir: Path
) -> None:
    """Poll from the client side until sshd answers with our host key."""
    blob = host_key_line.split()[1]
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"sshd exited with {proc.returncode}\n{_logs(workdir)}")
        scan = subprocess.run(
            ns.client_argv(["ssh-keyscan", "-T", "2", "-p", str(port), "-t", "ed25519", ns.target_ip]),
            capture_output=True,
            text=True,
            check=False,
        )
        if blob in scan.stdout:
            return
        time.sleep(0.1)
    raise RuntimeError(f"sshd not reachable within {START_TIMEOUT}s\n{_logs(workdir)}")


def _stop(proc: subprocess.Popen[bytes], ns_fd: int | None) -> None:
    """End sshd, then every process left in its mount namespace (sessions it forked).

    ``ns_fd`` holds the namespace open while we look for its members: a dead
    namespace's inode number is recycled at once, and a process of someone
    else's fresh namespace must not be taken for one of ours.
    """
    if ns_fd is None and proc.poll() is None:
        ns_fd = _hold_mount_ns(proc.pid)
    try:
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)
        if ns_fd is None:
            return
        ns_id = os.readlink(f"/proc/self/fd/{ns_fd}")
        deadline = time.monotonic() + 15
        while (left := pids_in_mount_ns(ns_id)) and time.monotonic() < deadline:
            end_processes(left)
        if left:
            raise RuntimeError(f"processes {left} survive in the target mount namespace")
    finally:
        if ns_fd is not None:
            os.close(ns_fd)  # the last reference: the namespace and its mounts go away


def _hold_mount_ns(pid: int) -> int | None:
    try:
        return os.open(f"/proc/{pid}/ns/mnt", os.O_RDONLY)
    except OSError:
        return None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def loopback_sshd(work: Path, private_key: str, port: int) -> Iterator[subprocess.Popen[bytes]]:
    """sshd on 127.0.0.1:``port`` with ``private_key`` as its only host key
    (a server to recognise by its key; nobody logs in)."""
    work.mkdir(parents=True, exist_ok=True)
    Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)  # sshd's privilege separation directory
    key = work / "host_key"
    key.write_text(private_key)
    key.chmod(0o600)
    (work / "authorized_keys").write_text("")
    config = work / "sshd_config"
    config.write_text(
        sshd_config_text(
            listen="127.0.0.1",
            port=port,
            host_key=key,
            authorized_keys=work / "authorized_keys",
            pid_file=work / "sshd.pid",
        )
    )
    proc = subprocess.Popen(
        [SSHD, "-D", "-e", "-f", str(config)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        deadline = time.monotonic() + 20
        while True:
            with suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
                break
            if time.monotonic() > deadline or proc.poll() is not None:
                raise RuntimeError(f"sshd did not listen on port {port}")
            time.sleep(0.1)
        yield proc
    finally:
        stop_popen(proc)
