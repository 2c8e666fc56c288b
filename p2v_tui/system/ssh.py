"""The target session: the bootstrap OS reached over SSH with a pinned key.

paramiko carries the commands the executor runs on the target (partitioning,
mkfs, mount, chroot) and the few files the fixups write; the bulk copy goes
through OpenSSH + rsync with the same pinned host key (see
:meth:`SshTarget.openssh_argv`).
"""

from __future__ import annotations

import contextlib
import logging
import os
import select
import shlex
import socket
import stat
import time
from collections.abc import Sequence
from pathlib import Path

import paramiko

from ..model.hostkey import HostKeyPin, fingerprint, known_hosts_line, parse_pin
from ..model.parsers import MountEntry, parse_proc_mounts
from .runner import CommandError, CommandResult
from .target import TargetError

log = logging.getLogger(__name__)

REMOTE_ENV = ("env", "LC_ALL=C", "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin")
"""Every remote command runs with a known locale (parsable output) and PATH."""


class HostKeyMismatch(TargetError):
    """The target presented a host key other than the pinned one."""


class AuthenticationFailed(TargetError):
    pass


def load_private_key(path: str) -> paramiko.PKey:
    """Read an OpenSSH private key of any type paramiko supports."""
    errors = []
    for cls in (paramiko.Ed25519Key, paramiko.ECDSAKey, paramiko.RSAKey):
        try:
            key: paramiko.PKey = cls.from_private_key_file(path)
            return key
        except paramiko.PasswordRequiredException:
            raise TargetError(
                f"{path}: the key is protected by a passphrase; use a key without one"
            ) from None
        except (paramiko.SSHException, ValueError) as e:
            errors.append(f"{cls.__name__}: {e}")
        except OSError as e:
            raise TargetError(f"{path}: cannot read the key file: {e.strerror}") from None
    raise TargetError(f"{path}: not a usable private key ({'; '.join(errors)})")


class SshTarget:
    """A connected, authenticated session. Use :meth:`connect`."""

    def __init__(self, transport: paramiko.Transport, host: str, port: int, user: str, identity: str) -> None:
        self._transport = transport
        self._sftp: paramiko.SFTPClient | None = None
        self.host = host
        self.port = port
        self.user = user
        self.identity = identity
        key = transport.get_remote_server_key()
        self.host_key_type = key.get_name()
        self.host_key_base64 = key.get_base64()
        self.host_key_fingerprint = fingerprint(key.asbytes())
        self.description = f"{user}@{host}:{port}"

    @classmethod
    def connect(
        cls, host: str, port: int, user: str, identity: str, host_key: str, *, timeout: float = 20.0
    ) -> SshTarget:
        """Connect, verify the host key against the pin, then authenticate.

        The order matters: the key is checked before our public key is even
        offered.
        """
        pin = parse_pin(host_key)
        pkey = load_private_key(identity)
        try:
            sock = socket.create_connection((host, port), timeout=timeout)
        except OSError as e:
            raise TargetError(
                f"cannot reach {host} port {port}: {e.strerror or e}. Check the address, that the "
                "instance is started with the ramboot initrd, and the network of this live system."
            ) from None
        transport = paramiko.Transport(sock)
        try:
            if pin.key_type:
                # Negotiate exactly the pinned key type (a server with several
                # keys would otherwise present whichever paramiko prefers).
                transport.get_security_options().key_types = [pin.key_type]
            try:
                transport.start_client(timeout=timeout)
            except (paramiko.SSHException, EOFError, OSError) as e:
                raise TargetError(f"SSH handshake with {host}:{port} failed: {e}") from None
            _verify(transport.get_remote_server_key(), pin, host)
            try:
                transport.auth_publickey(user, pkey)
            except paramiko.AuthenticationException:
                raise AuthenticationFailed(
                    f"{user}@{host} refused the key {identity}: is its public key in the instance's "
                    "ssh_key parameter (gnt-instance add -O ssh_key=...)?"
                ) from None
            transport.set_keepalive(15)
        except BaseException:
            transport.close()
            raise
        log.info("connected to %s@%s:%s, host key %s", user, host, port, fingerprint(pkey.asbytes()))
        return cls(transport, host, port, user, identity)

    # -- commands ---------------------------------------------------------

    def run(
        self,
        argv: Sequence[str],
        *,
        input: bytes | None = None,
        timeout: float | None = None,
        check: bool = True,
    ) -> CommandResult:
        command = shlex.join([*REMOTE_ENV, *argv])
        log.debug("target$ %s", shlex.join(argv))
        chan = self._transport.open_session()
        try:
            chan.exec_command(command)
            if input is not None:
                chan.sendall(input)
            chan.shutdown_write()
            out, err = _collect(chan, timeout, argv)
            code = chan.recv_exit_status()
        finally:
            chan.close()
        result = CommandResult(tuple(argv), code, out.decode(errors="replace"), err.decode(errors="replace"))
        if code != 0:
            log.debug("target exit %s: %s", code, result.stderr.strip()[-2000:])
        if check and code != 0:
            raise CommandError(argv, code, result.stderr or result.stdout)
        return result

    def missing_tools(self, names: Sequence[str]) -> list[str]:
        script = 'for t; do command -v "$t" >/dev/null 2>&1 || echo "$t"; done'
        return self.run(["sh", "-c", script, "sh", *names]).stdout.split()

    def missing_paths(self, paths: Sequence[str]) -> list[str]:
        return [p for p in paths if self._stat(p) is None]

    def mounts(self) -> list[MountEntry]:
        text = (self.read_file("/proc/self/mounts") or b"").decode(errors="replace")
        return parse_proc_mounts(text)

    # -- files --------------------------------------------------------------

    def _stat(self, path: str) -> paramiko.SFTPAttributes | None:
        try:
            return self._files().stat(path)
        except FileNotFoundError:
            return None

    def _files(self) -> paramiko.SFTPClient:
        if self._sftp is None:
            self._sftp = paramiko.SFTPClient.from_transport(self._transport)
            if self._sftp is None:
                raise TargetError("the target refused the SFTP subsystem")
        return self._sftp

    def read_file(self, path: str) -> bytes | None:
        try:
            with self._files().open(path, "rb") as f:
                return f.read()
        except FileNotFoundError:
            return None

    def write_file(self, path: str, data: bytes, *, mode: int | None = None) -> None:
        """Replace ``path`` atomically, keeping owner and mode of the file it
        replaces (``mode`` for a new file)."""
        sftp = self._files()
        tmp = f"{path}.p2v-new"
        try:
            old = sftp.lstat(path)
        except FileNotFoundError:
            old = None
        with sftp.open(tmp, "wb") as f:
            f.write(data)
        if old is not None and old.st_mode is not None and stat.S_ISREG(old.st_mode):
            sftp.chmod(tmp, stat.S_IMODE(old.st_mode))
            if old.st_uid is not None and old.st_gid is not None:
                sftp.chown(tmp, old.st_uid, old.st_gid)
        else:
            sftp.chmod(tmp, mode if mode is not None else 0o644)
        sftp.posix_rename(tmp, path)

    def symlink(self, link_target: str, path: str) -> None:
        sftp = self._files()
        with contextlib.suppress(FileNotFoundError):
            sftp.remove(path)
        sftp.symlink(link_target, path)

    def readlink(self, path: str) -> str | None:
        try:
            return self._files().readlink(path)
        except FileNotFoundError:
            return None

    def remove(self, path: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            self._files().remove(path)

    # -- for OpenSSH (rsync) --------------------------------------------------

    def openssh_argv(self, known_hosts: Path) -> list[str]:
        """The ``ssh`` command rsync uses: the same user, key and pinned host
        key, none of the user's ssh configuration.

        Cipher and compression were chosen by bench/transfer (README).
        """
        known_hosts.write_text(known_hosts_line(self.host_key_type, self.host_key_base64))
        os.chmod(known_hosts, 0o600)
        return [
            "ssh",
            "-F", "/dev/null",  # ignore ~/.ssh/config and /etc/ssh/ssh_config
            "-i", self.identity,
            "-p", str(self.port),
            "-l", self.user,
            "-o", "IdentitiesOnly=yes",  # only the key from the answers
            "-o", "BatchMode=yes",  # never prompt on the console
            "-o", "StrictHostKeyChecking=yes",  # refuse anything but the pinned key
            "-o", f"UserKnownHostsFile={known_hosts}",
            "-o", "GlobalKnownHostsFile=/dev/null",
            "-o", "HostKeyAlias=p2v-target",  # the pinned key's name in that file
            "-o", f"HostKeyAlgorithms={self.host_key_type}",
            "-o", "UpdateHostKeys=no",
            "-o", "Compression=no",  # measured: costs more CPU than it saves on a LAN
            "-o", "Ciphers=aes128-gcm@openssh.com,aes256-gcm@openssh.com,chacha20-poly1305@openssh.com",
            "-o", "ServerAliveInterval=15",
            "-o", "ServerAliveCountMax=8",
            "-o", "ConnectTimeout=20",
            "-o", "LogLevel=ERROR",
            # one connection for every pass of every job: no key exchange
            # and authentication per rsync or tar run
            "-o", "ControlMaster=auto",
            "-o", f"ControlPath={known_hosts.parent}/cm-%C",
            "-o", "ControlPersist=15",  # the master ends 15 s after the last copy
        ]  # fmt: skip

    def close(self) -> None:
        if self._sftp is not None:
            self._sftp.close()
        self._transport.close()


def _verify(key: paramiko.PKey, pin: HostKeyPin, host: str) -> None:
    got = fingerprint(key.asbytes())
    if got != pin.fingerprint:
        raise HostKeyMismatch(
            f"host key of {host} is {key.get_name()} {got}, but the answers pin {pin.fingerprint}. "
            "Refusing to connect: compare with the fingerprint on the instance's serial console "
            "(gnt-instance console) before changing the pin."
        )


def _collect(chan: paramiko.Channel, timeout: float | None, argv: Sequence[str]) -> tuple[bytes, bytes]:
    out = bytearray()
    err = bytearray()
    deadline = None if timeout is None else time.monotonic() + timeout
    while True:
        if chan.recv_ready():
            out += chan.recv(65536)
            continue
        if chan.recv_stderr_ready():
            err += chan.recv_stderr(65536)
            continue
        if chan.exit_status_ready() and not chan.recv_ready() and not chan.recv_stderr_ready():
            # Drain what arrived between the checks.
            while chan.recv_ready():
                out += chan.recv(65536)
            while chan.recv_stderr_ready():
                err += chan.recv_stderr(65536)
            return bytes(out), bytes(err)
        if deadline is not None and time.monotonic() > deadline:
            raise TargetError(f"{shlex.join(argv)}: no result after {timeout:.0f} s on the target")
        select.select([chan], [], [], 0.5)
