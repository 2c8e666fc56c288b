"""The live network model on `ip -json` output recorded in a namespace (tests/data/netlive)."""

from __future__ import annotations

import ipaddress
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from p2v_tui.model.netconfig import (
    DefaultRoute,
    Interface,
    NetworkState,
    StaticConfig,
    apply_argvs,
    network_state,
    parse_default_routes,
    parse_ip_addr,
    parse_resolv_conf,
    resolv_conf_text,
    summary,
    validate,
    warnings_for,
)

DATA = Path(__file__).parent.parent / "data" / "netlive"


def recorded(name: str, resolv: str = "resolv-dhclient.conf") -> NetworkState:
    return network_state(
        (DATA / f"{name}-addr.json").read_text(),
        (DATA / f"{name}-route4.json").read_text(),
        (DATA / f"{name}-route6.json").read_text(),
        (DATA / resolv).read_text() if resolv else "",
    )


# --- parsers ------------------------------------------------------------------------------------


def test_dhcp_lease_is_told_apart_by_its_lifetime() -> None:
    lo, eth0, eth1 = parse_ip_addr((DATA / "dhcp-addr.json").read_text())
    assert lo == Interface("lo", "00:00:00:00:00:00", True, True, ("127.0.0.1/8", "::1/128"), "loopback")
    assert eth0 == Interface(
        name="eth0",
        mac="52:54:00:12:34:56",
        up=True,
        carrier=True,
        addresses=("192.0.2.10/24", "2001:db8::10/64", "fe80::5054:ff:fe12:3456/64"),
        kind="ethernet",
        dynamic=("192.0.2.10/24", "2001:db8::10/64"),
    )
    assert eth0.dhcp
    assert eth0.global_addresses == ("192.0.2.10/24", "2001:db8::10/64")
    assert (eth1.up, eth1.carrier, eth1.addresses, eth1.dhcp) == (True, False, (), False)


def test_static_addresses_are_not_dhcp() -> None:
    state = recorded("static")
    eth0 = state.interface("eth0")
    assert eth0 is not None
    assert eth0.global_addresses == ("192.0.2.20/24", "2001:db8::20/64")
    assert eth0.dynamic == ()
    assert state.dhcp == {"eth0": False, "eth1": False}


def test_no_dhcp_answer_leaves_only_link_local() -> None:
    state = recorded("nodhcp", resolv="")
    _, eth0, eth1 = state.interfaces
    assert eth0.addresses == ("fe80::5054:ff:fe12:3456/64",)
    assert eth0.global_addresses == ()
    assert (eth1.up, eth1.carrier) == (False, False)
    assert state.default_routes == ()
    assert state.dns == ()


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        (
            "dhcp",
            (
                DefaultRoute(4, "192.0.2.1", "eth0", 100, "dhcp"),
                DefaultRoute(6, "fe80::1", "eth0", 1024, "ra"),
            ),
        ),
        (
            "static",
            (
                DefaultRoute(4, "192.0.2.1", "eth0", None, ""),
                DefaultRoute(6, "2001:db8::1", "eth0", 1024, ""),  # proto boot is not printed
            ),
        ),
        ("nodhcp", ()),
    ],
)
def test_default_routes(name: str, expected: tuple[DefaultRoute, ...]) -> None:
    assert recorded(name).default_routes == expected


def test_multipath_and_non_unicast_defaults() -> None:
    text = """[{"dst":"default","protocol":"static","metric":10,"flags":[],"nexthops":[
      {"gateway":"192.0.2.1","dev":"eth0","weight":1,"flags":[]},
      {"gateway":"192.0.2.2","dev":"eth1","weight":1,"flags":[]}]},
     {"type":"unreachable","dst":"default","metric":4278198272,"flags":[]},
     {"dst":"default","dev":"ppp0","scope":"link","flags":[]}]"""
    assert parse_default_routes(text, 4) == (
        DefaultRoute(4, "192.0.2.1", "eth0", 10, "static"),
        DefaultRoute(4, "192.0.2.2", "eth1", 10, "static"),
        DefaultRoute(4, None, "ppp0", None, ""),
    )


@pytest.mark.parametrize("text", ["", "[]", "[ ]\n"])
def test_empty_outputs(text: str) -> None:
    assert parse_ip_addr(text) == ()
    assert parse_default_routes(text, 6) == ()


@pytest.mark.parametrize("text", ["not json", '{"ifname": "eth0"}'])
def test_garbage_is_an_error(text: str) -> None:
    with pytest.raises(ValueError, match="ip addr"):
        parse_ip_addr(text)


@pytest.mark.parametrize(
    ("text", "servers"),
    [
        ((DATA / "resolv-dhclient.conf").read_text(), ("192.0.2.53", "2001:db8::53")),
        ((DATA / "resolv-resolved-stub.conf").read_text(), ("127.0.0.53",)),
        ("", ()),
        ("nameserver 192.0.2.53 # office\n;nameserver 192.0.2.54\n", ("192.0.2.53",)),
        ("  nameserver\t192.0.2.53\nnameserver\nnameserver bogus\n", ("192.0.2.53",)),
        ("nameserver fe80::1%eth0\n", ("fe80::1%eth0",)),
        ("nameservers 192.0.2.53\noptions rotate\n", ()),
    ],
)
def test_resolv_conf(text: str, servers: tuple[str, ...]) -> None:
    assert parse_resolv_conf(text) == servers


# --- summary ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "resolv", "lines"),
    [
        (
            "dhcp",
            "resolv-dhclient.conf",
            [
                "eth0 192.0.2.10/24 (DHCP), 2001:db8::10/64 (auto)",
                "gateway 192.0.2.1 on eth0, fe80::1 on eth0",
                "DNS 192.0.2.53, 2001:db8::53",
            ],
        ),
        (
            "nodhcp",
            "",
            [
                "no address: no DHCP answer on eth0; no link on eth1 - set one below",
                "no default gateway",
                "no DNS server",
            ],
        ),
        (
            "static",
            "resolv-resolved-stub.conf",
            [
                "eth0 192.0.2.20/24, 2001:db8::20/64",
                "gateway 192.0.2.1 on eth0, 2001:db8::1 on eth0",
                "DNS 127.0.0.53",
            ],
        ),
    ],
)
def test_summary(name: str, resolv: str, lines: list[str]) -> None:
    out = summary(recorded(name, resolv))
    assert out == lines
    assert all(line.isascii() and len(line) <= 78 for line in out)  # serial console


def test_summary_without_network_cards() -> None:
    lo = Interface("lo", "00:00:00:00:00:00", True, True, ("127.0.0.1/8",), "loopback")
    assert summary(NetworkState((lo,), (), ()))[0] == "no network interface found"


# --- validation -----------------------------------------------------------------------------------

NODHCP = recorded("nodhcp", resolv="")


@pytest.mark.parametrize(
    ("cfg", "errors"),
    [
        (StaticConfig("eth0", "192.0.2.10/24", "192.0.2.1", ("192.0.2.53",)), []),
        (StaticConfig("eth1", "2001:db8::10/64", "fe80::1", ("2001:db8::53",)), []),
        (StaticConfig("eth0", "192.0.2.10/32", "203.0.113.1"), []),  # off-link gateway: a warning
        (StaticConfig("eth0", "192.0.2.10/24"), []),  # no gateway, no DNS
        (StaticConfig("eth0", "198.51.100.0/31", "198.51.100.1"), []),  # /31 link: both usable
        (StaticConfig("eth9", "192.0.2.10/24"), ["unknown interface 'eth9' (interfaces: eth0, eth1)"]),
        (StaticConfig("lo", "192.0.2.10/24"), ["lo is the loopback interface; choose a network card"]),
        (
            StaticConfig("eth0", "192.0.2.10"),
            ["address '192.0.2.10': with the prefix length, e.g. 192.0.2.10/24"],
        ),
        (
            StaticConfig("eth0", "192.0.2.300/24"),
            ["address '192.0.2.300/24': not an IPv4/IPv6 address with prefix, e.g. 192.0.2.10/24"],
        ),
        (
            StaticConfig("eth0", "192.0.2.10/33"),
            ["address '192.0.2.10/33': not an IPv4/IPv6 address with prefix, e.g. 192.0.2.10/24"],
        ),
        (StaticConfig("eth0", ""), ["address '': not an IPv4/IPv6 address with prefix, e.g. 192.0.2.10/24"]),
        (
            StaticConfig("eth0", "192.0.2.0/24"),
            ["address 192.0.2.0/24 is the network's own address"],
        ),
        (
            StaticConfig("eth0", "192.0.2.255/24"),
            ["address 192.0.2.255/24 is the network's broadcast address"],
        ),
        (
            StaticConfig("eth0", "127.0.0.2/8"),
            ["address 127.0.0.2/8 cannot be a host's address (unspecified, multicast or loopback)"],
        ),
        (
            StaticConfig("eth0", "fe80::2/64"),
            ["address fe80::2/64 cannot be used on a network (link-local or reserved)"],
        ),
        (StaticConfig("eth0", "192.0.2.10/24", "gw"), ["gateway 'gw' is not an IP address"]),
        (
            StaticConfig("eth0", "192.0.2.10/24", "2001:db8::1"),
            ["gateway 2001:db8::1 is IPv6, the address IPv4"],
        ),
        (StaticConfig("eth0", "192.0.2.10/24", "192.0.2.10"), ["gateway 192.0.2.10 is the address itself"]),
        (
            StaticConfig("eth0", "192.0.2.10/24", "192.0.2.255"),
            ["gateway 192.0.2.255 is the network's own or broadcast address"],
        ),
        (
            StaticConfig("eth0", "192.0.2.10/24", "", ("192.0.2.53", "dns.example")),
            ["DNS server 'dns.example' is not an IP address"],
        ),
        (
            StaticConfig("wlan0", "10.1/8", "x", ("y",)),
            [
                "unknown interface 'wlan0' (interfaces: eth0, eth1)",
                "address '10.1/8': not an IPv4/IPv6 address with prefix, e.g. 192.0.2.10/24",
                "gateway 'x' is not an IP address",
                "DNS server 'y' is not an IP address",
            ],
        ),
    ],
)
def test_validate(cfg: StaticConfig, errors: list[str]) -> None:
    assert validate(cfg, NODHCP) == errors


@pytest.mark.parametrize(
    ("cfg", "warnings"),
    [
        (StaticConfig("eth0", "192.0.2.10/24", "192.0.2.1", ("192.0.2.53",)), []),
        # a link-local gateway is how IPv6 routers usually appear
        (StaticConfig("eth0", "2001:db8::10/64", "fe80::1", ("2001:db8::53",)), []),
        (
            StaticConfig("eth0", "192.0.2.10/32", "203.0.113.1", ("192.0.2.53",)),
            ["gateway 203.0.113.1 is outside 192.0.2.10/32: it must be reachable directly on eth0"],
        ),
        (StaticConfig("eth0", "192.0.2.10/24"), ["no DNS server: give the target by its IP address"]),
        (
            StaticConfig(
                "eth0", "192.0.2.10/24", "", ("192.0.2.53", "192.0.2.54", "192.0.2.55", "192.0.2.56")
            ),
            ["only the first 3 DNS servers are used"],
        ),
    ],
)
def test_warnings(cfg: StaticConfig, warnings: list[str]) -> None:
    assert warnings_for(cfg) == warnings


@given(st.text(max_size=40), st.text(max_size=40), st.text(max_size=40), st.lists(st.text(max_size=20)))
def test_validate_never_raises_on_typed_text(iface: str, address: str, gateway: str, dns: list[str]) -> None:
    cfg = StaticConfig(iface, address, gateway, tuple(dns))
    errors = validate(cfg, NODHCP)
    warnings_for(cfg)
    if not errors:  # whatever validates can be turned into commands
        assert apply_argvs(cfg, NODHCP)[0][:3] == ["ip", "link", "set"]


# --- commands and files ---------------------------------------------------------------------------


def test_ipv4_with_gateway_replaces_the_dhcp_default() -> None:
    cfg = StaticConfig("eth0", "192.0.2.20/24", "192.0.2.254", ("192.0.2.53",))
    assert apply_argvs(cfg, recorded("dhcp")) == [
        ["ip", "link", "set", "dev", "eth0", "up"],
        ["ip", "-4", "route", "del", "default", "via", "192.0.2.1", "dev", "eth0", "metric", "100"],
        ["ip", "-4", "addr", "flush", "dev", "eth0", "scope", "global"],
        ["ip", "addr", "add", "192.0.2.20/24", "dev", "eth0"],
        ["ip", "-4", "route", "replace", "default", "via", "192.0.2.254", "dev", "eth0"],
    ]


def test_same_gateway_is_kept_and_other_family_untouched() -> None:
    cfg = StaticConfig("eth0", "2001:db8::20/64", "fe80::1")
    assert apply_argvs(cfg, recorded("dhcp")) == [
        ["ip", "link", "set", "dev", "eth0", "up"],
        ["ip", "-6", "addr", "flush", "dev", "eth0", "scope", "global"],
        ["ip", "addr", "add", "2001:db8::20/64", "dev", "eth0"],
        ["ip", "-6", "route", "replace", "default", "via", "fe80::1", "dev", "eth0"],
    ]


def test_without_gateway_routes_stay() -> None:
    assert apply_argvs(StaticConfig("eth1", "192.0.2.30/24"), recorded("dhcp")) == [
        ["ip", "link", "set", "dev", "eth1", "up"],
        ["ip", "-4", "addr", "flush", "dev", "eth1", "scope", "global"],
        ["ip", "addr", "add", "192.0.2.30/24", "dev", "eth1"],
    ]


def test_offlink_gateway_is_added_onlink() -> None:
    argvs = apply_argvs(StaticConfig("eth0", "192.0.2.10/32", "203.0.113.1"))
    assert argvs[-1] == [
        "ip",
        "-4",
        "route",
        "replace",
        "default",
        "via",
        "203.0.113.1",
        "dev",
        "eth0",
        "onlink",
    ]


def test_device_default_route_is_deleted_too() -> None:
    state = NetworkState((), (DefaultRoute(4, None, "ppp0"), DefaultRoute(6, None, "ppp0")), ())
    argvs = apply_argvs(StaticConfig("eth0", "192.0.2.10/24", "192.0.2.1"), state)
    assert argvs[1] == ["ip", "-4", "route", "del", "default", "dev", "ppp0"]
    assert sum(argv[3] == "del" for argv in argvs) == 1


def test_resolv_conf_text() -> None:
    text = resolv_conf_text(StaticConfig("eth0", "192.0.2.10/24", "", (" 192.0.2.53", "2001:DB8::53")))
    assert text.splitlines()[1:] == ["nameserver 192.0.2.53", "nameserver 2001:db8::53"]
    assert text.startswith("#") and text.endswith("\n")


@given(st.lists(st.one_of(st.ip_addresses(v=4), st.ip_addresses(v=6)), max_size=5))
def test_resolv_conf_round_trip(servers: list[ipaddress.IPv4Address | ipaddress.IPv6Address]) -> None:
    cfg = StaticConfig("eth0", "192.0.2.10/24", "", tuple(str(s) for s in servers))
    assert parse_resolv_conf(resolv_conf_text(cfg)) == cfg.dns
