"""Two network namespaces joined by a veth pair: a private wire for SSH tests.

The client end plays the live image, the target end the Ganeti node. Both
ends are created directly inside the namespaces, so no interface and no
TEST-NET address ever exists in the host's root namespace, and there is no
default route: a test cannot reach anything but the other end.
"""

from __future__ import annotations

import logging
import os
import secrets
import signal
import subprocess
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from typing import Any

log = logging.getLogger(__name__)

CLIENT_IP = "203.0.113.1"
TARGET_IP = "203.0.113.2"
PREFIX_LEN = 24
CLIENT_IP6 = "2001:db8:2::1"  # documentation prefix, only inside the pair
TARGET_IP6 = "2001:db8:2::2"
PREFIX_LEN6 = 64
VETH = "veth0"
"""Name of the wire's end in each namespace (names are per namespace)."""


@dataclass(frozen=True)
class NetnsPair:
    client: str
    target: str
    client_ip: str = CLIENT_IP
    target_ip: str = TARGET_IP
    client_ip6: str = CLIENT_IP6
    target_ip6: str = TARGET_IP6

    def exec_argv(self, ns: str, argv: Sequence[str]) -> list[str]:
        """``argv`` run inside namespace ``ns`` (one of :attr:`client`, :attr:`target`)."""
        if ns not in (self.client, self.target):
            raise ValueError(f"{ns!r} is not part of this pair")
        return ["ip", "netns", "exec", ns, *argv]

    def client_argv(self, argv: Sequence[str]) -> list[str]:
        return self.exec_argv(self.client, argv)

    def target_argv(self, argv: Sequence[str]) -> list[str]:
        return self.exec_argv(self.target, argv)


def namespace_names(prefix: str, token: str) -> tuple[str, str]:
    """(client, target) names; the random token keeps parallel runs apart."""
    return f"{prefix}-c-{token}", f"{prefix}-t-{token}"


def setup_argvs(pair: NetnsPair) -> list[list[str]]:
    """The ``ip`` commands that build the wire, in order."""
    c, t = pair.client, pair.target
    return [
        ["ip", "netns", "add", c],
        ["ip", "netns", "add", t],
        [
            "ip",
            "-n",
            c,  # create inside the client namespace ...
            "link",
            "add",
            VETH,
            "type",
            "veth",
            "peer",
            "name",
            VETH,
            "netns",
            t,
        ],  # ... with its peer born inside the target
        ["ip", "-n", c, "addr", "add", f"{pair.client_ip}/{PREFIX_LEN}", "dev", VETH],
        ["ip", "-n", t, "addr", "add", f"{pair.target_ip}/{PREFIX_LEN}", "dev", VETH],
        # IPv6 too, without duplicate address detection (usable at once)
        ["ip", "-n", c, "-6", "addr", "add", f"{pair.client_ip6}/{PREFIX_LEN6}", "dev", VETH, "nodad"],
        ["ip", "-n", t, "-6", "addr", "add", f"{pair.target_ip6}/{PREFIX_LEN6}", "dev", VETH, "nodad"],
        ["ip", "-n", c, "link", "set", "lo", "up"],
        ["ip", "-n", t, "link", "set", "lo", "up"],
        ["ip", "-n", c, "link", "set", VETH, "up"],
        ["ip", "-n", t, "link", "set", VETH, "up"],
    ]


def _run(argv: Sequence[str]) -> None:
    proc = subprocess.run(argv, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} failed ({proc.returncode}): {proc.stderr.strip()}")


def namespace_exists(name: str) -> bool:
    return os.path.exists(f"/run/netns/{name}")


def namespace_pids(name: str) -> list[int]:
    """Processes living in namespace ``name`` (empty if it is gone)."""
    if not namespace_exists(name):
        return []
    proc = subprocess.run(["ip", "netns", "pids", name], capture_output=True, text=True, check=False)
    return [int(word) for word in proc.stdout.split() if word.isdigit()]


def end_processes(pids: Sequence[int], *, grace: float = 5.0) -> None:
    """SIGTERM each PID, then SIGKILL what is still there after ``grace`` seconds."""
    for pid in pids:
        _signal(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    alive = list(pids)
    while alive and time.monotonic() < deadline:
        alive = [pid for pid in alive if process_alive(pid)]
        time.sleep(0.05)
    for pid in alive:
        log.warning("pid %d ignored SIGTERM, killing it", pid)
        _signal(pid, signal.SIGKILL)


def stop_popen(proc: subprocess.Popen[Any], *, grace: float = 10.0) -> None:
    """End a process this test started (SIGTERM, SIGKILL after ``grace``) and reap it."""
    if proc.poll() is None:
        end_processes([proc.pid], grace=grace)
    proc.wait()


def _signal(pid: int, sig: signal.Signals) -> None:
    with suppress(ProcessLookupError):
        os.kill(pid, sig)


def process_alive(pid: int) -> bool:
    """True while ``pid`` runs. A zombie counts as ended; it is not reaped here, so
    a ``Popen`` that owns it still gets its exit status."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as f:
            state = f.read().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return False
    return state != "Z"


@contextmanager
def netns_pair(prefix: str = "p2v") -> Iterator[NetnsPair]:
    """A client and a target namespace joined by a veth pair, deleted on exit."""
    client, target = namespace_names(prefix, secrets.token_hex(3))
    pair = NetnsPair(client=client, target=target)
    try:
        for argv in setup_argvs(pair):
            _run(argv)
        log.debug("netns pair %s <-> %s up", client, target)
        yield pair
    finally:
        for name in (client, target):
            end_processes(namespace_pids(name))
            if namespace_exists(name):
                _run(["ip", "netns", "delete", name])
