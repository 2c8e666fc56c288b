"""The lab's private wire: two namespaces that reach each other and nothing else."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pytest

from tests.lab.netns import CLIENT_IP, TARGET_IP, netns_pair

pytestmark = pytest.mark.root


@pytest.fixture(autouse=True)
def _needs_root() -> None:
    if os.geteuid() != 0:
        pytest.skip("needs root: network namespaces")
    if shutil.which("ip") is None:
        pytest.skip("needs iproute2 (ip)")


ECHO_SERVER = """
import socket, sys
srv = socket.create_server((sys.argv[1], int(sys.argv[2])))
print("ready", flush=True)
conn, peer = srv.accept()
conn.sendall(b"hello " + peer[0].encode())
conn.close()
"""

ECHO_CLIENT = """
import socket, sys
with socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=5) as s:
    print(s.recv(100).decode())
"""


def host_text(argv: list[str]) -> str:
    return subprocess.run(argv, capture_output=True, text=True, check=True).stdout


def test_client_reaches_target_over_tcp() -> None:
    with netns_pair("p2vtest") as ns:
        server = subprocess.Popen(
            ns.target_argv([sys.executable, "-c", ECHO_SERVER, ns.target_ip, "2222"]),
            stdout=subprocess.PIPE,
            text=True,
        )
        try:
            assert server.stdout is not None
            assert server.stdout.readline().strip() == "ready"
            reply = subprocess.run(
                ns.client_argv([sys.executable, "-c", ECHO_CLIENT, ns.target_ip, "2222"]),
                capture_output=True,
                text=True,
                timeout=30,
            )
            assert reply.stdout.strip() == f"hello {CLIENT_IP}", reply.stderr
        finally:
            server.kill()
            server.wait()


def test_addresses_and_no_default_route() -> None:
    with netns_pair("p2vtest") as ns:
        assert f"{CLIENT_IP}/24" in host_text(["ip", "-n", ns.client, "-4", "addr", "show", "dev", "veth0"])
        assert f"{TARGET_IP}/24" in host_text(["ip", "-n", ns.target, "-4", "addr", "show", "dev", "veth0"])
        for name in (ns.client, ns.target):
            assert host_text(["ip", "-n", name, "route", "show", "default"]).strip() == ""
            assert "state UNKNOWN" in host_text(["ip", "-n", name, "link", "show", "lo"])


def test_host_namespace_never_sees_test_net() -> None:
    with netns_pair("p2vtest") as ns:
        assert "203.0.113." not in host_text(["ip", "-4", "addr", "show"])
        assert "203.0.113." not in host_text(["ip", "-4", "route", "show", "table", "all"])
        links = host_text(["ip", "-o", "link", "show"])
        assert ns.client not in links and ns.target not in links


def test_parallel_pairs_get_distinct_names() -> None:
    with netns_pair("p2vtest") as one, netns_pair("p2vtest") as two:
        names = {one.client, one.target, two.client, two.target}
        assert len(names) == 4
        assert one.client.startswith("p2vtest-c-") and one.target.startswith("p2vtest-t-")
        listed = host_text(["ip", "netns", "list"])
        assert all(name in listed for name in names)


def test_exec_argv_refuses_foreign_namespace() -> None:
    with netns_pair("p2vtest") as ns, pytest.raises(ValueError, match="not part of this pair"):
        ns.exec_argv("some-other-ns", ["true"])


def test_teardown_deletes_namespaces_and_ends_their_processes() -> None:
    with netns_pair("p2vtest") as ns:
        sleeper = subprocess.Popen(ns.target_argv(["sleep", "300"]))
        names = (ns.client, ns.target)
    assert sleeper.wait(timeout=10) != 0  # ended by a signal, not by finishing
    listed = host_text(["ip", "netns", "list"])
    for name in names:
        assert name not in listed
        assert not os.path.exists(f"/run/netns/{name}")
    with open("/proc/self/mountinfo", encoding="utf-8") as f:
        assert not any(name in f.read() for name in names)


def test_teardown_runs_when_the_body_fails() -> None:
    with pytest.raises(RuntimeError, match="boom"), netns_pair("p2vtest") as ns:
        names = (ns.client, ns.target)
        raise RuntimeError("boom")
    assert not any(os.path.exists(f"/run/netns/{n}") for n in names)
