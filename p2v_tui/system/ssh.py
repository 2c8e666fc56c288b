"""The target session: the bootstrap OS reached over SSH with a pinned key.

paramiko carries the commands the executor runs on the target (partitioning,
mkfs, mount, chroot) and the few files the fixups write; the bulk copy goes
through OpenSSH + rsync with the same pinned host key (see
:meth:`SshTarget.openssh_argv`).
"""

from __future__ import annotations

import contextlib
import functools
import io
import logging
import os
import shlex
import socket
import stat
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Concatenate, ParamSpec, TypeVar

import paramiko

from ..model.hostkey import (
    KNOWN_HOSTS_ALIAS,
    HostKeyPin,
    HostKeyPinError,
    fingerprint,
    known_hosts_line,
    parse_pin,
)
from ..model.parsers import MountEntry, parse_proc_mounts
from ..model.target_output import parse_missing_tools
from .runner import CommandError, CommandResult
from .small_file import SmallFileError, read_small_file
from .sshlink import KEEPALIVE_INTERVAL, KEEPALIVE_MISSES, Link, watch_link
from .target import AuthenticationFailed, HostKeyMismatch, MalformedAnswer, TargetError, ask, read_at_most

log = logging.getLogger(__name__)

REMOTE_ENV = ("env", "LC_ALL=C", "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin")
"""Every remote command runs with a known locale (parsable output) and PATH."""

MOUNTS_LIMIT = 4 * 1024 * 1024
"""/proc/self/mounts of a bootstrap OS is a few KiB; thousands of mounts fit."""

OUTPUT_LIMIT = 16 * 1024 * 1024
"""Bytes of output (and of errors) read from one target command: what p2v
runs there prints a few KiB; a target printing more is broken or lies."""

POLL_INTERVAL = 0.02
"""Seconds between two looks at a running command's channel."""

COMMAND_TIMEOUT = 600.0
"""Seconds a target command may take unless its caller allows more (mkfs,
the chroot's commands): a command that hangs on a live link ends too."""
STOP_GRACE = 20.0
"""Seconds a streamed command has to end after SIGTERM before SIGKILL."""


MAX_KEY_BYTES = 64 * 1024
"""A private key file is a few KiB (RSA 16384 is about 12 KiB)."""


def read_key_file(path: str) -> str:
    """The key file's text: a regular file of at most MAX_KEY_BYTES (a
    device such as /dev/zero would be read until memory runs out)."""
    try:
        data = read_small_file(path, MAX_KEY_BYTES)
    except SmallFileError as e:
        said = {
            "unreadable": f"cannot read the key file: {e.reason}",
            "not-regular": "the key file is not a regular file",
            "too-large": f"larger than {MAX_KEY_BYTES // 1024} KiB, not a private key file",
        }
        raise TargetError(f"{path}: {said[e.problem]}") from None
    return data.decode("utf-8", errors="replace")


def load_private_key(path: str) -> paramiko.PKey:
    """Read an OpenSSH private key of any type paramiko supports."""
    text = read_key_file(path)
    errors = []
    for cls in (paramiko.Ed25519Key, paramiko.ECDSAKey, paramiko.RSAKey):
        try:
            key: paramiko.PKey = cls.from_private_key(io.StringIO(text))
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


# Host key algorithms to try, one connection each, when only a fingerprint
# is pinned: a server offers its key of the negotiated type, so the pinned
# key is found whichever type it is.
_ALGORITHMS = (
    ["ssh-ed25519"],
    ["ecdsa-sha2-nistp256"],
    ["ecdsa-sha2-nistp384"],
    ["ecdsa-sha2-nistp521"],
    ["rsa-sha2-512", "rsa-sha2-256"],
)


def algorithms_for(key_type: str) -> list[str]:
    """Signature algorithms for a key type: an RSA key signs with SHA-2
    (OpenSSH 8.8+ refuses ssh-rsa's SHA-1)."""
    return ["rsa-sha2-512", "rsa-sha2-256"] if key_type == "ssh-rsa" else [key_type]


P = ParamSpec("P")
R = TypeVar("R")


def _connection(method: Callable[Concatenate[SshTarget, P], R]) -> Callable[Concatenate[SshTarget, P], R]:
    """A lost connection or a failing remote file operation becomes a
    TargetError saying so, a TargetLost when the link is gone (a missing
    file stays FileNotFoundError for the callers that expect it)."""

    @functools.wraps(method)
    def wrapper(self: SshTarget, /, *args: P.args, **kwargs: P.kwargs) -> R:
        self._link.ensure()
        try:
            return method(self, *args, **kwargs)
        except (FileNotFoundError, TargetError):
            raise
        except (paramiko.SSHException, EOFError, OSError) as e:
            self._forget_files()  # an SFTP session in an unknown state
            if isinstance(e, TimeoutError):
                self._link.check()  # no answer in time: lost, or only slow?
            self._link.ensure(e)
            raise TargetError(f"the target's SSH connection failed ({method.__name__}): {e}") from e

    return wrapper


class SshTarget:
    """A connected, authenticated session. Use :meth:`connect`."""

    def __init__(
        self, transport: paramiko.Transport, *, address: str, host: str, port: int, user: str, identity: str
    ) -> None:
        self._transport = transport
        self._link = Link(transport, address)
        self._sftp: paramiko.SFTPClient | None = None
        self.address = address
        """The address connected to: OpenSSH (rsync, tar) uses the same."""
        self.host = host
        self.port = port
        self.user = user
        self.identity = identity
        key = transport.get_remote_server_key()
        self.host_key_type = key.get_name()
        self.host_key_base64 = key.get_base64()
        self.host_key_fingerprint = fingerprint(key.asbytes())
        self.description = f"{user}@{host}:{port}"

    @property
    def login(self) -> str:
        """user@host for rsync and ssh; the host is the pinned key's alias,
        the address comes with -o HostName (an IPv6 literal works too)."""
        return f"{self.user}@{KNOWN_HOSTS_ALIAS}"

    @classmethod
    def connect(
        cls, host: str, port: int, user: str, identity: str, host_key: str, *, timeout: float = 20.0
    ) -> SshTarget:
        """Connect, verify the host key against the pin, then authenticate.

        The order matters: the key is checked before our public key is even
        offered.
        """
        try:
            pin = parse_pin(host_key)
        except HostKeyPinError as e:
            raise TargetError(f"the pinned host key is unusable: {e}") from None
        pkey = load_private_key(identity)
        attempts = [algorithms_for(pin.key_type)] if pin.key_type else list(_ALGORITHMS)
        seen: list[str] = []
        for algorithms in attempts:
            transport, address = _handshake(host, port, algorithms, timeout)
            if transport is None:
                continue  # the server has no key of this type
            key = transport.get_remote_server_key()
            got = fingerprint(key.asbytes())
            if got == pin.fingerprint:
                break
            seen.append(f"{key.get_name()} {got}")
            transport.close()
        else:
            shown = "; ".join(seen) or "no key of the pinned type"
            raise HostKeyMismatch(
                f"host key of {host} is {shown}, but the answers pin {pin.fingerprint}. "
                "Refusing to connect: compare with the fingerprint on the instance's serial console "
                "(gnt-instance console) before changing the pin."
            )
        try:
            try:
                transport.auth_publickey(user, pkey)
            except paramiko.AuthenticationException:
                raise AuthenticationFailed(
                    f"{user}@{host} refused the key {identity}: is its public key in the instance's "
                    "ssh_key parameter (gnt-instance add -O ssh_key=...)?"
                ) from None
            except (paramiko.SSHException, EOFError, OSError) as e:
                raise TargetError(f"SSH authentication with {host}:{port} failed: {e}") from None
            transport.set_keepalive(KEEPALIVE_INTERVAL)
        except BaseException:
            transport.close()
            raise
        log.info("connected to %s@%s (%s) port %s, host key %s", user, host, address, port, pin.fingerprint)
        return cls(transport, address=address, host=host, port=port, user=user, identity=identity)

    # -- commands ---------------------------------------------------------

    @_connection
    def run(
        self,
        argv: Sequence[str],
        *,
        input: bytes | None = None,
        timeout: float | None = None,
        check: bool = True,
    ) -> CommandResult:
        """``timeout``: seconds the command may take (default
        :data:`COMMAND_TIMEOUT`); a link lost meanwhile raises TargetLost
        within :data:`LINK_TIMEOUT`."""
        command = shlex.join([*REMOTE_ENV, *argv])
        log.debug("target$ %s", shlex.join(argv))
        chan = self._link.open_channel()
        try:
            chan.exec_command(command)
            if input is not None:
                chan.sendall(input)
            chan.shutdown_write()
            out, err = self._collect(chan, COMMAND_TIMEOUT if timeout is None else timeout, argv)
            code = chan.recv_exit_status()
        finally:
            chan.close()
        result = CommandResult(tuple(argv), code, out.decode(errors="replace"), err.decode(errors="replace"))
        if code != 0:
            log.debug("target exit %s: %s", code, result.stderr.strip()[-2000:])
        if check and code != 0:
            raise CommandError(argv, code, result.stderr or result.stdout)
        return result

    def _collect(self, chan: paramiko.Channel, timeout: float, argv: Sequence[str]) -> tuple[bytes, bytes]:
        """Output and errors until the command exits; TargetLost when the
        transport dies first (its channels then close without a status)."""
        out = bytearray()
        err = bytearray()
        deadline = time.monotonic() + timeout
        while True:
            if len(out) > OUTPUT_LIMIT or len(err) > OUTPUT_LIMIT:
                raise MalformedAnswer(
                    f"{shlex.join(argv)} on the target printed more than {OUTPUT_LIMIT // 2**20} MiB: "
                    "refusing to read more"
                )
            if chan.recv_ready():
                out += chan.recv(65536)
                continue
            if chan.recv_stderr_ready():
                err += chan.recv_stderr(65536)
                continue
            if chan.exit_status_ready() and not chan.recv_ready() and not chan.recv_stderr_ready():
                if chan.exit_status < 0:  # no status: closed by a dying connection?
                    self._link.ensure()
                # Drain what arrived between the checks.
                while chan.recv_ready():
                    out += chan.recv(65536)
                while chan.recv_stderr_ready():
                    err += chan.recv_stderr(65536)
                return bytes(out), bytes(err)
            if time.monotonic() > deadline:
                self._link.check()
                raise TargetError(f"{shlex.join(argv)}: no result after {timeout:.0f} s on the target")
            # Not select() on the channel: its fileno() is a pipe that
            # paramiko 2.12 writes to from its own thread, and closing the
            # channel while output still arrives (a command given up) makes
            # that write fail with EBADF, which ends the whole connection.
            chan.status_event.wait(POLL_INTERVAL)

    @_connection
    def stream(
        self,
        argv: Sequence[str],
        on_output: Callable[[bytes], object],
        cancel: threading.Event,
    ) -> tuple[int, str]:
        """Run a long command (a copy), handing its output to ``on_output``
        as it comes; (exit status, the end of its error output). When
        ``cancel`` is set the command is ended on the target (SIGTERM) and
        its status returned; a link lost meanwhile raises TargetLost."""
        # the command's first line is its PID, to end it on cancel
        command = "echo $$; exec " + shlex.join([*REMOTE_ENV, *argv])
        log.debug("target$ %s", shlex.join(argv))
        chan = self._link.open_channel()
        err = bytearray()
        pending = bytearray()
        pid = ""
        stopped = 0.0  # when SIGTERM was sent
        killed = False
        try:
            chan.exec_command(command)
            chan.shutdown_write()
            while True:
                if cancel.is_set() and pid and not stopped:
                    self.run(["kill", "-TERM", pid], check=False, timeout=30)
                    stopped = time.monotonic()
                elif stopped and not killed and time.monotonic() - stopped > STOP_GRACE:
                    self.run(["kill", "-KILL", pid], check=False, timeout=30)
                    killed = True
                if chan.recv_ready():
                    data = chan.recv(65536)
                    if not pid:
                        pending += data
                        line, sep, rest = bytes(pending).partition(b"\n")
                        if not sep and len(pending) < 32:
                            continue
                        if not sep:
                            raise MalformedAnswer(f"{shlex.join(argv)}: the target did not say its PID")
                        if not line.strip().isdigit():
                            raise MalformedAnswer(f"{shlex.join(argv)}: the target did not say its PID")
                        pid, data = line.strip().decode(), rest
                    if data:
                        on_output(data)
                    continue
                if chan.recv_stderr_ready():
                    err += chan.recv_stderr(65536)
                    del err[: max(0, len(err) - 65536)]  # only the end is kept
                    continue
                if chan.exit_status_ready() and not chan.recv_ready() and not chan.recv_stderr_ready():
                    if chan.exit_status < 0:
                        self._link.ensure()
                    return chan.exit_status, err.decode(errors="replace")
                chan.status_event.wait(POLL_INTERVAL * 10)
                if not chan.status_event.is_set():
                    self._link.ensure()
        finally:
            chan.close()

    def check_link(self) -> None:
        """Raise TargetLost unless the target answers within LINK_TIMEOUT;
        once lost, every later call raises the same TargetLost at once."""
        self._link.check()

    @_connection
    def missing_tools(self, names: Sequence[str]) -> list[str]:
        script = 'for t; do command -v "$t" >/dev/null 2>&1 || echo "$t"; done'
        return ask(self, ["sh", "-c", script, "sh", *names], lambda out: parse_missing_tools(out, names))

    @_connection
    def missing_paths(self, paths: Sequence[str]) -> list[str]:
        return [p for p in paths if self._stat(p) is None]

    @_connection
    def mounts(self) -> list[MountEntry]:
        text = (self.read_file("/proc/self/mounts", limit=MOUNTS_LIMIT) or b"").decode(errors="replace")
        return parse_proc_mounts(text)

    # -- files --------------------------------------------------------------

    def _stat(self, path: str) -> paramiko.SFTPAttributes | None:
        try:
            return self._files().stat(path)
        except FileNotFoundError:
            return None

    def _files(self) -> paramiko.SFTPClient:
        if self._sftp is None:
            chan = self._link.open_channel()
            chan.invoke_subsystem("sftp")
            self._sftp = paramiko.SFTPClient(chan)
        return self._sftp

    def _forget_files(self) -> None:
        sftp, self._sftp = self._sftp, None
        if sftp is not None:
            with contextlib.suppress(Exception):
                sftp.close()

    @_connection
    def read_file(self, path: str, *, limit: int) -> bytes | None:
        try:
            with self._files().open(path, "rb") as f:
                return read_at_most(f, path, limit)
        except FileNotFoundError:
            return None

    @_connection
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

    @_connection
    def symlink(self, link_target: str, path: str) -> None:
        sftp = self._files()
        with contextlib.suppress(FileNotFoundError):
            sftp.remove(path)
        sftp.symlink(link_target, path)

    @_connection
    def readlink(self, path: str) -> str | None:
        """The link's target; None when ``path`` is not a symlink (or absent)."""
        sftp = self._files()
        try:
            st = sftp.lstat(path)
        except FileNotFoundError:
            return None
        if st.st_mode is None or not stat.S_ISLNK(st.st_mode):
            return None
        return sftp.readlink(path)

    @_connection
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
            "-i", private_identity(self.identity, known_hosts.parent),
            "-p", str(self.port),
            "-l", self.user,
            "-o", "IdentitiesOnly=yes",  # only the key from the answers
            "-o", "BatchMode=yes",  # never prompt on the console
            "-o", "StrictHostKeyChecking=yes",  # refuse anything but the pinned key
            "-o", f"UserKnownHostsFile={known_hosts}",
            "-o", "GlobalKnownHostsFile=/dev/null",
            "-o", f"HostName={self.address}",  # where paramiko connected (login names the alias)
            "-o", f"HostKeyAlias={KNOWN_HOSTS_ALIAS}",  # the pinned key's name in that file
            "-o", f"HostKeyAlgorithms={','.join(algorithms_for(self.host_key_type))}",
            "-o", "UpdateHostKeys=no",
            "-o", "Compression=no",  # measured: costs more CPU than it saves on a LAN
            "-o", "Ciphers=aes128-gcm@openssh.com,aes256-gcm@openssh.com,chacha20-poly1305@openssh.com",
            # a dead link ends ssh (and with it rsync or tar) after
            # LINK_TIMEOUT; with ControlMaster it is the master that asks
            # and ends, and every session through it ends with it
            "-o", f"ServerAliveInterval={KEEPALIVE_INTERVAL}",
            "-o", f"ServerAliveCountMax={KEEPALIVE_MISSES}",
            "-o", "ConnectTimeout=20",
            "-o", "LogLevel=ERROR",
            # one connection for every pass of every job: no key exchange
            # and authentication per rsync or tar run
            "-o", "ControlMaster=auto",
            "-o", f"ControlPath={known_hosts.parent}/cm-%C",
            "-o", "ControlPersist=15",  # the master ends 15 s after the last copy
        ]  # fmt: skip

    def close(self) -> None:
        self._forget_files()
        self._transport.close()
        # close() does not wait for the transport's thread (paramiko #520);
        # with its socket closed it ends at once, and logs nothing later
        self._transport.join(5)


def private_identity(identity: str, private_dir: Path) -> str:
    """``identity``, or a copy readable only by its owner in ``private_dir``
    when others may read it: OpenSSH refuses such a key ("UNPROTECTED
    PRIVATE KEY FILE") where paramiko took it, and a key on a FAT stick or
    fetched over HTTP has no mode of its own."""
    if os.stat(identity).st_mode & 0o077 == 0:
        return identity
    copy = private_dir / "identity"
    fd = os.open(copy, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(read_key_file(identity).encode())
    return str(copy)


def scan_host_key(host: str, port: int, *, timeout: float = 20.0) -> str:
    """``"ssh-ed25519 SHA256:..."``: the server's host key, for a person to
    compare with the instance's console before pinning it. Nothing is
    authenticated; the first type the server has, ed25519 first."""
    for algorithms in _ALGORITHMS:
        transport, _address = _handshake(host, port, list(algorithms), timeout)
        if transport is None:
            continue
        try:
            key = transport.get_remote_server_key()
            return f"{key.get_name()} {fingerprint(key.asbytes())}"
        finally:
            transport.close()
    raise TargetError(f"{host} port {port} offered no host key type p2v knows")


def _handshake(
    host: str, port: int, algorithms: list[str], timeout: float
) -> tuple[paramiko.Transport | None, str]:
    """A transport that negotiated one of ``algorithms`` for the host key
    (None when the server has none of them), and the address reached."""
    try:
        sock = socket.create_connection((host, port), timeout=timeout)
    except OSError as e:
        raise TargetError(
            f"cannot reach {host} port {port}: {e.strerror or e}. Check the address, that the "
            "instance is started with the ramboot initrd, and the network of this live system."
        ) from None
    address = str(sock.getpeername()[0])
    watch_link(sock)
    transport = paramiko.Transport(sock)
    transport.get_security_options().key_types = algorithms
    try:
        transport.start_client(timeout=timeout)
    except paramiko.SSHException as e:
        transport.close()
        if "host key" in str(e).lower() or "incompatible" in str(e).lower():
            return None, address
        raise TargetError(f"SSH handshake with {host}:{port} failed: {e}") from None
    except (EOFError, OSError) as e:
        transport.close()
        raise TargetError(f"SSH handshake with {host}:{port} failed: {e}") from None
    return transport, address


def prove_host_key(
    host: str,
    port: int,
    pins: Sequence[HostKeyPin],
    *,
    within: float,
    attempt_timeout: float = 10.0,
    pause: float = 5.0,
    cancel: threading.Event | None = None,
) -> tuple[float, HostKeyPin]:
    """Seconds until ``host`` answered SSH with the key of one of ``pins``,
    and that pin
    (the handshake proves the server holds that key; nothing is
    authenticated). Until then, connection refusals and timeouts are tried
    again every ``pause`` seconds, for ``within`` seconds at most
    (:class:`TargetError`); a server answering with another key is refused
    at once (:class:`HostKeyMismatch`): it is not the migrated server."""
    typed = [p for p in pins if p.key_type]
    if not typed:
        raise TargetError("no host key of the source to recognise the migrated server by")
    started = time.monotonic()
    last = "no answer yet"
    while True:
        for pin in typed:
            try:
                transport, _address = _handshake(
                    host, port, algorithms_for(pin.key_type or ""), attempt_timeout
                )
            except TargetError as e:
                last = str(e)
                break
            if transport is None:
                continue  # no key of this type: the next pin's
            try:
                key = transport.get_remote_server_key()
                got = fingerprint(key.asbytes())
            finally:
                transport.close()
                transport.join(5)
            if got == pin.fingerprint:
                return time.monotonic() - started, pin
            raise HostKeyMismatch(
                f"{host} port {port} answers with the host key {key.get_name()} {got}, not the source's"
                f" {pin.key_type} {pin.fingerprint}: that is not the migrated server"
            )
        else:
            last = f"{host} port {port} offers none of the source's host key types"
        waited = time.monotonic() - started
        if waited + pause > within or (cancel is not None and cancel.is_set()):
            raise TargetError(f"{host} port {port} did not answer SSH within {within:g} s ({last})")
        if cancel is not None:
            cancel.wait(pause)
        else:
            time.sleep(pause)
