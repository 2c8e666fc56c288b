"""The proof that a migrated server booted, against a real sshd on
loopback: it answers SSH with one of the source's host keys (a handshake,
nothing authenticated). The host key p2v generates for a bootstrap is one
sshd takes as its HostKey, and its public half is the pin that finds it.

A server that answers with another key is refused at once; one that does
not answer is tried again until the bound; one that starts late is found."""

from __future__ import annotations

import subprocess
import threading
import time
from pathlib import Path

import pytest

from p2v_tui.model.hostkey import HostKeyPin, parse_pin, source_host_pins
from p2v_tui.system.keyfile import generate_host_key
from p2v_tui.system.ssh import prove_host_key
from p2v_tui.system.target import HostKeyMismatch, TargetError
from tests.lab.sshd import SSHD, free_port, loopback_sshd

pytestmark = pytest.mark.skipif(not Path(SSHD).exists(), reason="needs sshd")


def test_a_generated_host_key_serves_and_its_public_half_is_the_pin(tmp_path: Path) -> None:
    key = generate_host_key()
    assert key.private.startswith("-----BEGIN OPENSSH PRIVATE KEY-----")
    assert key.private not in repr(key)
    (tmp_path / "k").write_text(key.private)
    (tmp_path / "k").chmod(0o600)
    derived = subprocess.run(["ssh-keygen", "-y", "-f", str(tmp_path / "k")], capture_output=True, text=True)
    assert derived.returncode == 0 and derived.stdout.split()[:2] == key.public.split()[:2]
    pin = parse_pin(key.public)
    port = free_port()
    with loopback_sshd(tmp_path / "sshd", key.private, port):
        seconds, found = prove_host_key("127.0.0.1", port, [pin], within=20)
    assert found == pin and 0 <= seconds < 20
    assert generate_host_key().public != key.public


def test_the_source_key_is_found_among_its_pins_whatever_their_order(tmp_path: Path) -> None:
    key = generate_host_key()
    other_type = HostKeyPin("SHA256:" + "A" * 43, key_type="ecdsa-sha2-nistp256")  # the server has none
    pins = source_host_pins({
        "/etc/ssh/ssh_host_ed25519_key.pub": key.public + " root@web01\n",
        "/etc/ssh/ssh_host_rsa_key.pub": "not a key\n",
        "/etc/ssh/sshd_config": key.public,  # not a host key file
    })  # fmt: skip
    assert pins == (parse_pin(key.public),)
    port = free_port()
    with loopback_sshd(tmp_path / "sshd", key.private, port):
        _seconds, found = prove_host_key("127.0.0.1", port, [other_type, *pins], within=20)
    assert found == pins[0]


def test_another_host_key_is_refused_at_once(tmp_path: Path) -> None:
    served, source = generate_host_key(), generate_host_key()
    port = free_port()
    with loopback_sshd(tmp_path / "sshd", served.private, port):
        started = time.monotonic()
        with pytest.raises(HostKeyMismatch, match="not the migrated server"):
            prove_host_key("127.0.0.1", port, [parse_pin(source.public)], within=60, pause=1)
    assert time.monotonic() - started < 15


def test_no_answer_ends_at_the_bound(tmp_path: Path) -> None:
    port = free_port()  # nothing listens there
    started = time.monotonic()
    with pytest.raises(TargetError, match=r"did not answer SSH within 3 s"):
        prove_host_key("127.0.0.1", port, [parse_pin(generate_host_key().public)], within=3, pause=0.5)
    assert time.monotonic() - started < 10


def test_a_server_that_starts_late_is_found(tmp_path: Path) -> None:
    key = generate_host_key()
    port = free_port()
    started = threading.Event()
    stop = threading.Event()

    def boot_later() -> None:
        time.sleep(2)
        with loopback_sshd(tmp_path / "sshd", key.private, port):
            started.set()
            stop.wait(30)

    thread = threading.Thread(target=boot_later)
    thread.start()
    try:
        seconds, _pin = prove_host_key("127.0.0.1", port, [parse_pin(key.public)], within=30, pause=0.5)
    finally:
        stop.set()
        thread.join(40)
    assert started.is_set() and seconds >= 1.5


def test_a_cancel_ends_the_wait(tmp_path: Path) -> None:
    cancel = threading.Event()
    threading.Timer(1.0, cancel.set).start()
    started = time.monotonic()
    with pytest.raises(TargetError):
        prove_host_key(
            "127.0.0.1",
            free_port(),
            [parse_pin(generate_host_key().public)],
            within=60,
            pause=0.5,
            cancel=cancel,
        )
    assert time.monotonic() - started < 10
