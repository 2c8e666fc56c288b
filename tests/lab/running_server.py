"""A server that still runs, for the warm passes: a real Debian tree on loop
filesystems, mounted read-write where its fstab says, with its own sshd.

The server's processes see only its tree: sshd runs chrooted into it in a
private mount namespace of the client network namespace, with /proc, /sys,
/dev, a tmpfs /run and a tmpfs /var/log (sshd's own login records are not
the warm pass's writes) mounted as a booted system has them. Its
authorized_keys hold the probe key (any command, from the client) and the
copy key restricted to reading (``command="rrsync -ro /"``). The test reads
and changes the tree through ``/proc/PID/root``, as a service on the
server would.
"""

from __future__ import annotations

import os
import shlex
import signal
import subprocess
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

from .netns import NetnsPair, stop_popen
from .sshd import _keygen, fingerprint, make_client_key, pids_in_mount_ns

PORT = 2222


@dataclass(frozen=True)
class RunningServer:
    host: str
    port: int
    host_key_fingerprint: str
    probe_key: Path
    copy_key: Path
    pid: int

    @property
    def root(self) -> Path:
        """The server's tree as its processes see it."""
        return Path(f"/proc/{self.pid}/root")

    def answers(self) -> dict[str, object]:
        return {
            "host": self.host,
            "port": self.port,
            "user": "root",
            "identity": str(self.probe_key),
            "host_key": self.host_key_fingerprint,
            "copy_identity": str(self.copy_key),
        }


def _script(root: Path, mounts: Sequence[tuple[str, str]], setup: Path) -> str:
    q = shlex.quote
    lines = ["set -eu"]
    for mountpoint, device in mounts:  # / first
        lines.append(f"mount {q(device)} {q(str(root) + mountpoint)}")
    lines += [
        f"mount -t proc proc {q(str(root / 'proc'))}",
        f"mount -t sysfs sysfs {q(str(root / 'sys'))}",
        f"mount --rbind /dev {q(str(root / 'dev'))}",
        f"mount -t tmpfs -o mode=0755 run {q(str(root / 'run'))}",
        f"mount -t tmpfs -o mode=0755 log {q(str(root / 'var/log'))}",
        f"mkdir -p {q(str(root / 'run/sshd'))} {q(str(root / 'run/p2v-lab'))}",
        f"cp {q(str(setup))}/* {q(str(root / 'run/p2v-lab'))}/",
        f"chmod 0600 {q(str(root / 'run/p2v-lab'))}/*",
        f"exec chroot {q(str(root))} /usr/sbin/sshd -D -e -f /run/p2v-lab/sshd_config",
    ]
    return "\n".join(lines) + "\n"


@contextmanager
def running_server(
    ns: NetnsPair, work: Path, mounts: Sequence[tuple[str, str]], *, port: int = PORT
) -> Iterator[RunningServer]:
    """``mounts``: (mount point, device), ``/`` first. The sshd listens on
    the client's address (the target reaches it over the veth)."""
    work.mkdir(parents=True, exist_ok=True)
    setup = work / "setup"
    setup.mkdir(exist_ok=True)
    host_key = setup / "ssh_host_ed25519_key"
    _keygen(host_key, comment="p2v-lab-running-source")
    probe_key, probe_pub = make_client_key(work / "probe")
    copy_key, copy_pub = make_client_key(work / "copy")
    (setup / "authorized_keys").write_text(
        f'restrict,from="{ns.client_ip}" {probe_pub.strip()}\n'
        f'restrict,from="{ns.target_ip}",command="rrsync -ro /" {copy_pub.strip()}\n'
    )
    (setup / "sshd_config").write_text(
        f"ListenAddress {ns.client_ip}:{port}\n"
        "HostKey /run/p2v-lab/ssh_host_ed25519_key\n"
        "AuthorizedKeysFile /run/p2v-lab/authorized_keys\n"
        "PermitRootLogin prohibit-password\n"
        "PasswordAuthentication no\n"
        "KbdInteractiveAuthentication no\n"
        "UsePAM no\n"
        "PidFile /run/sshd.pid\n"
        "PrintLastLog no\n"
        "Subsystem sftp internal-sftp\n"
    )
    root = work / "root"
    root.mkdir(exist_ok=True)
    argv = ns.client_argv(
        ["unshare", "--mount", "--propagation", "private", "--", "sh", "-c", _script(root, mounts, setup)]
    )
    with open(work / "sshd.log", "ab") as out:
        proc = subprocess.Popen(
            argv, stdin=subprocess.DEVNULL, stdout=out, stderr=out, start_new_session=True
        )
    ns_id = ""
    try:
        _wait(ns, port, proc, work)
        ns_id = os.readlink(f"/proc/{proc.pid}/ns/mnt")
        yield RunningServer(
            host=ns.client_ip,
            port=port,
            host_key_fingerprint=fingerprint(host_key.with_name(host_key.name + ".pub")),
            probe_key=probe_key,
            copy_key=copy_key,
            pid=proc.pid,
        )
    finally:
        stop_popen(proc)
        _power_off(ns_id)


def _power_off(ns_id: str, timeout: float = 20) -> None:
    """End what the server's sshd left (its sessions), so that its mount
    namespace, and with it every mount of the server's disk, is gone."""
    if not ns_id:
        return
    deadline = time.monotonic() + timeout
    while pids := pids_in_mount_ns(ns_id):
        if time.monotonic() > deadline:
            raise RuntimeError(f"processes of the running server stay: {pids}")
        for pid in pids:
            with suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        time.sleep(0.2)


def _wait(ns: NetnsPair, port: int, proc: subprocess.Popen[bytes], work: Path, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    probe = ns.client_argv(["bash", "-c", f"exec 3<>/dev/tcp/{ns.client_ip}/{port}"])
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the running server's sshd ended: {(work / 'sshd.log').read_text()[-2000:]}")
        if subprocess.run(probe, capture_output=True).returncode == 0:
            return
        time.sleep(0.2)
    raise RuntimeError(f"the running server's sshd did not listen: {(work / 'sshd.log').read_text()[-2000:]}")


__all__ = ["RunningServer", "running_server"]
