"""Reading and setting the live system's network, for real, inside private network namespaces.

The client namespace of tests.lab.netns plays the booted live image (its
``veth0`` is the network card), the target namespace plays the LAN's router
(203.0.113.2, 2001:db8:2::2). resolv.conf is always a temporary file.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest

from p2v_tui.model.netconfig import StaticConfig, summary
from p2v_tui.system.netlive import apply_static, read_state, wait_for_dhcp, write_resolv_conf
from p2v_tui.system.runner import CommandResult, LocalRunner
from tests.lab.netns import VETH, NetnsPair, netns_pair
from tests.lab.recorded import RecordedRunner

DATA = Path(__file__).parent.parent / "data" / "netlive"
ADDR = "203.0.113.10"
GATEWAY = "203.0.113.2"  # the target end of the wire
GATEWAY6 = "2001:db8:2::2"


class NetnsRunner:
    """Runs every command inside one namespace of the pair, as the live image would run it."""

    def __init__(self, pair: NetnsPair, ns: str) -> None:
        self.pair = pair
        self.ns = ns
        self.local = LocalRunner(timeout=30)
        self.asked: list[tuple[str, ...]] = []

    def run(
        self,
        argv: Sequence[str],
        *,
        check: bool = True,
        input: str | None = None,
        timeout: float | None = None,
        env: Mapping[str, str] | None = None,
    ) -> CommandResult:
        self.asked.append(tuple(argv))
        return self.local.run(
            self.pair.exec_argv(self.ns, argv), check=check, input=input, timeout=timeout, env=env
        )


def recorded_runner(addr: str = "dhcp-addr.json") -> RecordedRunner:
    """Answers the state commands with the recorded ``dhcp`` outputs (addresses
    from ``addr``); any other command fails."""
    files = {
        ("ip", "-json", "addr", "show"): addr,
        ("ip", "-4", "-json", "route", "show"): "dhcp-route4.json",
        ("ip", "-6", "-json", "route", "show"): "dhcp-route6.json",
    }
    return RecordedRunner({argv: (DATA / name).read_text() for argv, name in files.items()})


# --- without root: the glue, on recorded output -------------------------------------------------


def test_read_state_runs_the_three_commands_and_reads_the_given_resolv_conf(tmp_path: Path) -> None:
    resolv = tmp_path / "resolv.conf"
    resolv.write_text("nameserver 192.0.2.53\n")
    runner = recorded_runner()
    state = read_state(runner, resolv)
    assert sorted(runner.asked) == sorted(runner.answers)
    assert state.dhcp == {"eth0": True, "eth1": False}
    assert state.dns == ("192.0.2.53",)
    assert read_state(recorded_runner(), tmp_path / "missing").dns == ()


def test_invalid_setting_changes_nothing(tmp_path: Path) -> None:
    resolv = tmp_path / "resolv.conf"
    resolv.write_text("nameserver 192.0.2.53\n")
    runner = recorded_runner()
    with pytest.raises(ValueError, match=r"unknown interface 'eth7'.*gateway 'router' is not an IP"):
        apply_static(runner, StaticConfig("eth7", "192.0.2.20/24", "router", ("192.0.2.1",)), resolv)
    assert all(argv[-1] == "show" for argv in runner.asked)  # only the reads ran
    assert resolv.read_text() == "nameserver 192.0.2.53\n"


def test_resolv_conf_replaces_a_symlink_not_its_target(tmp_path: Path) -> None:
    stub = tmp_path / "stub-resolv.conf"
    stub.write_text("nameserver 127.0.0.53\n")
    link = tmp_path / "resolv.conf"
    link.symlink_to(stub)
    write_resolv_conf(link, "nameserver 192.0.2.53\n")
    assert not link.is_symlink()
    assert link.read_text() == "nameserver 192.0.2.53\n"
    assert link.stat().st_mode & 0o777 == 0o644
    assert stub.read_text() == "nameserver 127.0.0.53\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["resolv.conf", "stub-resolv.conf"]  # no temp left


def test_wait_for_dhcp_gives_up_after_the_timeout(tmp_path: Path) -> None:
    now = [100.0]
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        now[0] += seconds

    runner = recorded_runner("nodhcp-addr.json")
    state = wait_for_dhcp(runner, 2.5, resolv_path=tmp_path / "r", sleep=sleep, clock=lambda: now[0])
    assert not any(state.dhcp.values())
    assert slept == [1.0, 1.0, 0.5]


# --- as root, in a private network namespace --------------------------------------------------------


@pytest.fixture
def live() -> Iterator[NetnsRunner]:
    """The client namespace with no global address on its card: DHCP did not answer."""
    if os.geteuid() != 0:
        pytest.skip("needs root: network namespaces")
    if shutil.which("ip") is None:
        pytest.skip("needs iproute2 (ip)")
    with netns_pair("p2vnl") as pair:
        runner = NetnsRunner(pair, pair.client)
        runner.run(["ip", "addr", "flush", "dev", VETH, "scope", "global"])
        yield runner


def lease(runner: NetnsRunner, cidr: str, dev: str = VETH) -> None:
    """Add ``cidr`` as a DHCP client does: with the lease's lifetime, so not permanent."""
    runner.run(["ip", "addr", "add", cidr, "dev", dev, "valid_lft", "600", "preferred_lft", "600"])


def ns_json(runner: NetnsRunner, *argv: str) -> list[dict[str, Any]]:
    data: list[dict[str, Any]] = json.loads(runner.run(["ip", "-json", *argv]).stdout)
    return data


def addresses(runner: NetnsRunner, dev: str) -> dict[str, dict[str, Any]]:
    (link,) = ns_json(runner, "addr", "show", "dev", dev)
    return {f"{a['local']}/{a['prefixlen']}": a for a in link["addr_info"] if a["scope"] == "global"}


def route_to(runner: NetnsRunner, destination: str) -> dict[str, Any]:
    (route,) = ns_json(runner, "route", "get", destination)
    return route


def tcp_answer(runner: NetnsRunner, host: str) -> int:
    """errno of a TCP connect to a closed port: ECONNREFUSED means the host answered."""
    code = f"import socket; s = socket.socket(socket.AF_INET{'6' if ':' in host else ''}); "
    code += f"s.settimeout(5); print(s.connect_ex(({host!r}, 9)))"
    return int(runner.run([sys.executable, "-c", code]).stdout)


@pytest.mark.root
def test_no_dhcp_then_a_lease(live: NetnsRunner, tmp_path: Path) -> None:
    resolv = tmp_path / "resolv.conf"
    state = read_state(live, resolv)
    assert state.dhcp == {VETH: False}
    assert summary(state) == [
        f"no address: no DHCP answer on {VETH} - set one below",
        "no default gateway",
        "no DNS server",
    ]
    # what a DHCP client does: the lease's address with its lifetime, its router, its DNS
    lease(live, f"{ADDR}/24")
    live.run(["ip", "route", "add", "default", "via", GATEWAY, "proto", "dhcp", "metric", "100"])
    resolv.write_text(f"nameserver {GATEWAY}\n")
    state = read_state(live, resolv)
    assert state.dhcp == {VETH: True}
    assert summary(state) == [f"{VETH} {ADDR}/24 (DHCP)", f"gateway {GATEWAY} on {VETH}", f"DNS {GATEWAY}"]


@pytest.mark.root
def test_static_ipv4_replaces_another_cards_dhcp_route(live: NetnsRunner, tmp_path: Path) -> None:
    # a second card whose lease points the default route elsewhere
    live.run(["ip", "link", "add", "eth1", "type", "veth", "peer", "name", "eth1p"])
    for dev in ("eth1", "eth1p"):
        live.run(["ip", "link", "set", dev, "up"])
    lease(live, "192.0.2.10/24", "eth1")
    live.run(["ip", "route", "add", "default", "via", "192.0.2.1", "dev", "eth1", "metric", "100"])
    resolv = tmp_path / "resolv.conf"
    resolv.write_text("nameserver 192.0.2.53\n")
    assert tcp_answer(live, GATEWAY) == errno.EHOSTUNREACH  # asked on eth1's LAN: nobody there

    cfg = StaticConfig(VETH, f"{ADDR}/24", GATEWAY, (GATEWAY, GATEWAY6))
    state = apply_static(live, cfg, resolv)

    assert addresses(live, VETH)[f"{ADDR}/24"]["valid_life_time"] == 4294967295  # permanent
    assert "192.0.2.10/24" in addresses(live, "eth1")  # the other card keeps its address
    assert [r.gateway for r in state.default_routes if r.version == 4] == [GATEWAY]
    route = route_to(live, "198.51.100.7")  # anywhere beyond the LAN
    assert (route["gateway"], route["dev"]) == (GATEWAY, VETH)
    assert tcp_answer(live, GATEWAY) == errno.ECONNREFUSED  # the router answers
    assert resolv.read_text().splitlines()[1:] == [f"nameserver {GATEWAY}", f"nameserver {GATEWAY6}"]
    assert summary(state)[0].startswith(f"{VETH} {ADDR}/24")
    assert state.dns == (GATEWAY, GATEWAY6)

    # applying again (a person pressing the button twice) still works
    assert apply_static(live, cfg, resolv).default_gateways == (GATEWAY,)


@pytest.mark.root
def test_static_ipv6_keeps_the_ipv4_lease(live: NetnsRunner, tmp_path: Path) -> None:
    lease(live, f"{ADDR}/24")
    resolv = tmp_path / "resolv.conf"
    cfg = StaticConfig(VETH, "2001:db8:2::10/64", GATEWAY6)
    state = apply_static(live, cfg, resolv)

    now = addresses(live, VETH)
    assert set(now) == {"2001:db8:2::10/64", f"{ADDR}/24"}
    assert now[f"{ADDR}/24"].get("dynamic") is True
    assert state.dhcp == {VETH: True}
    route = route_to(live, "2001:db8:ffff::7")
    assert (route["gateway"], route["dev"]) == (GATEWAY6, VETH)
    assert not resolv.exists()  # no DNS typed: resolv.conf left alone
    wait_dad(live)
    assert tcp_answer(live, GATEWAY6) == errno.ECONNREFUSED


def wait_dad(runner: NetnsRunner) -> None:
    """Duplicate address detection keeps a new IPv6 address unusable for about a second."""
    for _ in range(50):
        if not any(a.get("tentative") for a in addresses(runner, VETH).values()):
            return
        time.sleep(0.1)
    pytest.fail("IPv6 address still tentative after 5 s")


@pytest.mark.root
def test_static_gateway_outside_the_subnet(live: NetnsRunner, tmp_path: Path) -> None:
    """A /32 address with a gateway reached on the link, as some hosting networks do."""
    state = apply_static(live, StaticConfig(VETH, f"{ADDR}/32", GATEWAY), tmp_path / "resolv.conf")
    assert state.default_gateways == (GATEWAY,)
    (default,) = ns_json(live, "route", "show", "default")
    assert (default["gateway"], default["flags"]) == (GATEWAY, ["onlink"])
    assert tcp_answer(live, GATEWAY) == errno.ECONNREFUSED


@pytest.mark.root
def test_wait_for_dhcp_returns_when_the_lease_arrives(live: NetnsRunner, tmp_path: Path) -> None:
    slept: list[float] = []

    def lease_arrives(seconds: float) -> None:  # the DHCP client gets its answer meanwhile
        slept.append(seconds)
        lease(live, f"{ADDR}/24")

    state = wait_for_dhcp(live, 30, resolv_path=tmp_path / "resolv.conf", sleep=lease_arrives)
    assert state.dhcp == {VETH: True}
    assert slept == [1.0]
