"""SshTarget notices a dead link, whatever it was doing: a paramiko server
in this process, reached through a relay on loopback that can go silent
(it keeps both connections open and forwards nothing, as a cut cable
does) or drop the connection. The link timeout is shortened to a second."""

from __future__ import annotations

import contextlib
import select
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import paramiko
import pytest
from paramiko.common import (
    AUTH_FAILED,
    AUTH_SUCCESSFUL,
    OPEN_FAILED_ADMINISTRATIVELY_PROHIBITED,
    OPEN_SUCCEEDED,
)

from p2v_tui.system import ssh, sshlink
from p2v_tui.system.ssh import SshTarget
from p2v_tui.system.target import MalformedAnswer, TargetError, TargetLost

LINK_TIMEOUT = sshlink.LINK_TIMEOUT
"""The real one: the fixture shortens it to a second."""


class _Server(paramiko.ServerInterface):
    """Root by one key; ``exec``: ``true`` exits 0, ``flood`` prints
    without end (a lying target), ``hang`` never ends."""

    def __init__(self, client_key: paramiko.PKey) -> None:
        self.client_key = client_key

    def get_allowed_auths(self, username: str) -> str:
        return "publickey"

    def check_auth_publickey(self, username: str, key: paramiko.PKey) -> int:
        ok = username == "root" and key.asbytes() == self.client_key.asbytes()
        return AUTH_SUCCESSFUL if ok else AUTH_FAILED

    def check_channel_request(self, kind: str, chanid: int) -> int:
        return OPEN_SUCCEEDED if kind == "session" else OPEN_FAILED_ADMINISTRATIVELY_PROHIBITED

    def check_channel_exec_request(self, channel: paramiko.Channel, command: bytes) -> bool:
        if command.split()[-1] == b"true":

            def finish() -> None:
                channel.send_exit_status(0)
                channel.close()

            threading.Timer(0.05, finish).start()
        elif command.split()[-1] == b"flood":

            def flood() -> None:
                block = b"x" * 65536
                with contextlib.suppress(OSError, EOFError):
                    while not channel.closed:
                        channel.sendall(block)

            threading.Thread(target=flood, daemon=True).start()
        return True  # anything else: runs forever


class Relay:
    """Forwards one TCP connection to ``upstream`` until told to go silent
    (nothing passes, both sockets stay open) or to drop it."""

    def __init__(self, upstream: tuple[str, int]) -> None:
        self.upstream = upstream
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.silent = threading.Event()
        self.dropped = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        client, _ = self.listener.accept()
        server = socket.create_connection(self.upstream)
        peer = {client: server, server: client}
        with client, server, contextlib.suppress(OSError):  # a test ended the link
            while not self.dropped.is_set():
                if self.silent.is_set():
                    time.sleep(0.05)
                    continue
                readable, _, _ = select.select(list(peer), [], [], 0.05)
                for sock in readable:
                    data = sock.recv(65536)
                    if not data:
                        return
                    peer[sock].sendall(data)

    def close(self) -> None:
        self.dropped.set()
        self.listener.close()
        self._thread.join(timeout=5)


@pytest.fixture
def link(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[SshTarget, Relay]]:
    monkeypatch.setattr(sshlink, "LINK_TIMEOUT", 1)
    host_key = paramiko.RSAKey.generate(2048)
    client_key = paramiko.RSAKey.generate(2048)
    identity = tmp_path / "id_rsa"
    client_key.write_private_key_file(str(identity))
    listener = socket.create_server(("127.0.0.1", 0))
    transports: list[paramiko.Transport] = []

    def accept() -> None:
        sock, _ = listener.accept()
        t = paramiko.Transport(sock)
        t.add_server_key(host_key)
        t.start_server(server=_Server(client_key))
        transports.append(t)

    threading.Thread(target=accept, daemon=True).start()
    relay = Relay(listener.getsockname())
    pin = f"ssh-rsa {host_key.get_base64()}"
    target = SshTarget.connect("127.0.0.1", relay.port, "root", str(identity), pin, timeout=5)
    try:
        yield target, relay
    finally:
        target.close()
        relay.close()
        for t in transports:
            t.close()
        listener.close()


@contextlib.contextmanager
def within(seconds: float) -> Iterator[None]:
    start = time.monotonic()
    yield
    took = time.monotonic() - start
    assert took < seconds, f"took {took:.1f} s"


def test_a_live_link_runs_commands_and_a_hung_command_times_out_as_a_command(
    link: tuple[SshTarget, Relay],
) -> None:
    target, _relay = link
    assert target.run(["true"]).returncode == 0
    with within(5), pytest.raises(TargetError, match="no result after 1 s") as caught:
        target.run(["hang"], timeout=1)
    assert not isinstance(caught.value, TargetLost)  # the target still answered
    assert target.run(["true"]).returncode == 0


def test_a_command_printing_without_end_is_refused_at_the_output_limit(
    link: tuple[SshTarget, Relay], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(ssh, "OUTPUT_LIMIT", 1024 * 1024)
    target, _relay = link
    with within(10), pytest.raises(MalformedAnswer, match=r"^flood on the target printed more than 1 MiB"):
        target.run(["flood"])
    assert target.run(["true"]).returncode == 0  # the link itself is fine


def test_a_silent_link_is_lost_within_the_link_timeout_and_stays_lost(link: tuple[SshTarget, Relay]) -> None:
    target, relay = link
    relay.silent.set()
    with within(5), pytest.raises(TargetLost, match=r"no answer from 127\.0\.0\.1 for 1 s"):
        target.run(["true"])
    with within(0.5), pytest.raises(TargetLost):  # at once now, however it is asked
        target.read_file("/etc/hostname", limit=4096)
    with within(0.5), pytest.raises(TargetLost):
        target.check_link()


def test_a_command_running_when_the_link_dies_ends_with_target_lost(link: tuple[SshTarget, Relay]) -> None:
    target, relay = link
    threading.Timer(0.5, relay.close).start()  # the connection drops under the command
    with within(5), pytest.raises(TargetLost, match="ended"):
        target.run(["hang"], timeout=600)


def test_a_command_running_when_the_link_goes_silent_ends_by_its_timeout_and_the_check(
    link: tuple[SshTarget, Relay],
) -> None:
    """Without TCP noticing (the relay keeps the sockets open), the command's
    own timeout and then the link check bound the wait."""
    target, relay = link
    threading.Timer(0.3, relay.silent.set).start()
    with within(6), pytest.raises(TargetLost, match="no answer"):
        target.run(["hang"], timeout=2)


def test_the_socket_gives_unacknowledged_data_up_before_the_link_timeout(
    link: tuple[SshTarget, Relay],
) -> None:
    """TCP_USER_TIMEOUT on paramiko's socket: a keepalive sent after
    KEEPALIVE_INTERVAL of silence and left unacknowledged ends the
    connection within LINK_TIMEOUT, about a minute at most. (The relay acks
    at the TCP level, so only the real wire of tests/integration/test_link.py
    shows the kernel giving up.)"""
    target, _relay = link
    sock = target._transport.sock
    assert isinstance(sock, socket.socket)
    unacknowledged = sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_USER_TIMEOUT) / 1000
    assert unacknowledged == sshlink.UNACKNOWLEDGED_TIMEOUT
    assert sshlink.KEEPALIVE_INTERVAL + unacknowledged <= LINK_TIMEOUT <= 60
