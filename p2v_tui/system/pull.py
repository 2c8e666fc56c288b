"""A warm pass's copy: the target pulls from the running server.

The target runs rsync, which reads the server through ``ssh`` with the copy
key (``source.running.copy_identity``): on the server that key should be
restricted to reading (``command="rrsync -ro /"``, README "Warm passes"),
and the target is about to hold every byte it can read anyway. The key and
the server's pinned host key are put in the target's RAM
(:data:`WARM_SSH_DIR`, 0700) for the pass and removed after it; p2v's own
key to the server (the probe's) never leaves this machine.
"""

from __future__ import annotations

import logging
import shlex
import threading

from ..model.plan import SIDE_MOUNTS, CopyJob
from ..model.rsync import describe_exit, rsync_argv
from .ssh import SshTarget, read_key_file
from .sshlink import KEEPALIVE_INTERVAL, KEEPALIVE_MISSES
from .transfer import Cancelled, JobResult, ProgressCallback, RsyncOutput, TransferError

log = logging.getLogger(__name__)

WARM_SSH_DIR = f"{SIDE_MOUNTS}/warm-ssh"
SOURCE_ALIAS = "p2v-source"
"""The server's name in the target's known_hosts (HostKeyAlias)."""


def pull_shell(*, address: str, port: int, user: str, directory: str = WARM_SSH_DIR) -> list[str]:
    """The ssh the target's rsync reaches the server with: the copy key,
    the pinned host key only, none of the target's own ssh configuration."""
    return [
        "ssh",
        "-F", "/dev/null",
        "-i", f"{directory}/id",
        "-p", str(port),
        "-l", user,
        "-o", "IdentitiesOnly=yes",
        "-o", "BatchMode=yes",
        "-o", "StrictHostKeyChecking=yes",
        "-o", f"UserKnownHostsFile={directory}/known_hosts",
        "-o", "GlobalKnownHostsFile=/dev/null",
        "-o", f"HostName={address}",
        "-o", f"HostKeyAlias={SOURCE_ALIAS}",
        "-o", "UpdateHostKeys=no",
        "-o", "Compression=no",
        "-o", f"ServerAliveInterval={KEEPALIVE_INTERVAL}",
        "-o", f"ServerAliveCountMax={KEEPALIVE_MISSES}",
        "-o", "ConnectTimeout=20",
        "-o", "LogLevel=ERROR",
    ]  # fmt: skip


def pull_argv(job: CopyJob, source_dir: str, shell: list[str], *, bwlimit_kib: int = 0) -> list[str]:
    """rsync on the target for one job: the cold run's options (the
    same tree, attributes and exclusions, --delete), then what differs on a
    running server: sockets and FIFOs are left to the final pass (a socket
    of a running daemon means nothing on a copy), and files that vanish
    while it runs are not an error."""
    argv = rsync_argv(
        job, f"{SOURCE_ALIAS}:{source_dir}", job.dest, remote_shell=shell, bwlimit_kib=bwlimit_kib
    )
    # rrsync refuses --protect-args; rsync >= 3.2.4 (the bootstrap's)
    # escapes the path it sends on its own, spaces and all
    argv = [a for a in argv if a != "--protect-args"]
    return [*argv[:-2], "--no-specials", *argv[-2:]]


class PullTransfer:
    """Copies each job by running rsync on the target (see module doc)."""

    def __init__(
        self,
        target: SshTarget,
        *,
        address: str,
        port: int,
        user: str,
        copy_identity: str,
        host_key_line: str,
        bwlimit_kib: int = 0,
    ) -> None:
        self.target = target
        self.shell = pull_shell(address=address, port=port, user=user)
        self.bwlimit_kib = bwlimit_kib
        self._key = read_key_file(copy_identity).encode()
        self._known = f"{SOURCE_ALIAS} {host_key_line}\n".encode()
        self._placed = False

    def _place(self) -> None:
        if self._placed:
            return
        self.target.run(["mkdir", "-p", "-m", "0700", WARM_SSH_DIR])
        self.target.write_file(f"{WARM_SSH_DIR}/id", self._key, mode=0o600)
        self.target.write_file(f"{WARM_SSH_DIR}/known_hosts", self._known, mode=0o600)
        self._placed = True

    def close(self) -> None:
        """Remove the copy key from the target (also after a failure; a
        lost link leaves it in the target's RAM until the next pass)."""
        if self._placed:
            self.target.run(["rm", "-rf", "--", WARM_SSH_DIR], check=False)
            self._placed = False

    def copy(
        self,
        job: CopyJob,
        source_dir: str,
        on_progress: ProgressCallback,
        cancel: threading.Event,
        *,
        resume: bool = False,
    ) -> JobResult:
        self._place()
        where = job.mountpoint or job.source_path
        argv = pull_argv(job, source_dir, self.shell, bwlimit_kib=self.bwlimit_kib)
        log.info("copy on the target: %s", shlex.join(argv))
        progress = RsyncOutput(on_progress)
        code, errors = self.target.stream(argv, progress.feed, cancel)
        last = progress.done()
        if cancel.is_set():
            raise Cancelled(f"copy of {where} cancelled")
        if errors.strip():
            log.debug("rsync on the target:\n%s", errors.strip())
        if code == 24:  # files vanished while the server ran: the final pass sees what is there
            return JobResult(last, ())
        if code == 23:  # some files unreadable now (locked, in flux): the cold final pass copies them
            tail = errors.strip().splitlines()[-3:]
            return JobResult(last, (f"{where}: some files were not copied by this warm pass; "
                                    f"the final pass copies them: {' / '.join(tail)}",))  # fmt: skip
        if code != 0:
            raise TransferError(
                f"copying {where} from the running source failed: rsync {describe_exit(code)}"
                + (f"\n{errors.strip()[-1500:]}" if errors.strip() else "")
            )
        return JobResult(last, ())
