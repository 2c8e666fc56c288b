"""The live system's network: what DHCP gave, and a static setting when it gave nothing.

The wizard's first screen shows whether the live image got an address, a
default gateway and DNS servers, and lets a person type a static setting when
there was no DHCP answer. Everything here is pure: parsers of ``ip -json``
output and resolv.conf text, the three summary lines, validation of what was
typed, and the argv lists (and resolv.conf text) that apply it. system/netlive
runs them.

How DHCP is recognised: DHCP clients (dhclient, systemd-networkd,
NetworkManager) add the leased address with the lease's lifetimes, so the
kernel does not mark it permanent and ``ip -json addr`` shows ``"dynamic":
true`` with a finite ``valid_life_time``. An address set by hand is
permanent (lifetime "forever", 4294967295). An IPv4 dynamic address means
"from DHCP"; an IPv6 one comes from router advertisements (SLAAC) or DHCPv6
and is shown as "auto".
"""

from __future__ import annotations

import ipaddress
import json
import re
from dataclasses import dataclass
from typing import Any, Literal

from .validate import (
    parse_dns_server,
    parse_gateway,
    parse_interface_address,
    parse_ip,
    typed_address_problem,
)

InterfaceKind = Literal["ethernet", "loopback", "other"]
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPInterface = ipaddress.IPv4Interface | ipaddress.IPv6Interface

FOREVER = 4294967295
"""``valid_life_time`` of a permanent address (the kernel's INFINITY_LIFE_TIME)."""

RESOLV_MAXNS = 3
"""glibc reads at most three ``nameserver`` lines (MAXNS)."""


@dataclass(frozen=True)
class Interface:
    name: str
    mac: str
    up: bool
    """Administratively up (``ip link set up``)."""
    carrier: bool
    """A cable with a live partner (LOWER_UP); always False while the interface is down."""
    addresses: tuple[str, ...]
    """Every address in CIDR form, link-local ones included, in the kernel's order."""
    kind: InterfaceKind
    dynamic: tuple[str, ...] = ()
    """The subset of :attr:`addresses` with a finite lifetime (DHCP, SLAAC, DHCPv6)."""

    @property
    def global_addresses(self) -> tuple[str, ...]:
        """Addresses that reach beyond the link: what a person means by "an address"."""
        return tuple(a for a in self.addresses if _reaches_beyond_link(ipaddress.ip_interface(a)))

    @property
    def dhcp(self) -> bool:
        """An IPv4 address with a lease's lifetime is on this interface."""
        return any(ipaddress.ip_interface(a).version == 4 for a in self.dynamic)


@dataclass(frozen=True)
class DefaultRoute:
    version: Literal[4, 6]
    gateway: str | None
    """None for a device route (point-to-point links)."""
    dev: str
    metric: int | None = None
    protocol: str = ""
    """Who set it: ``dhcp``, ``ra``, ``boot`` (by hand), ``static`` ..."""


@dataclass(frozen=True)
class NetworkState:
    interfaces: tuple[Interface, ...]
    default_routes: tuple[DefaultRoute, ...]
    dns: tuple[str, ...]

    @property
    def default_gateways(self) -> tuple[str, ...]:
        return tuple(r.gateway for r in self.default_routes if r.gateway)

    @property
    def dhcp(self) -> dict[str, bool]:
        """Interface name -> whether it holds a DHCP-leased IPv4 address."""
        return {i.name: i.dhcp for i in self.interfaces if i.kind != "loopback"}

    def interface(self, name: str) -> Interface | None:
        return next((i for i in self.interfaces if i.name == name), None)


def _reaches_beyond_link(addr: IPInterface) -> bool:
    ip = addr.ip
    return not (ip.is_loopback or ip.is_link_local or ip.is_unspecified or ip.is_multicast)


# --- the commands that read the state -----------------------------------------------------------


def addr_show_argv() -> list[str]:
    return [
        "ip",
        "-json",  # machine-readable; the "dynamic" flag tells DHCP addresses apart
        "addr",
        "show",
    ]


def route_show_argv(version: Literal[4, 6]) -> list[str]:
    return [
        "ip",
        f"-{version}",  # `ip route` alone lists IPv4 only
        "-json",
        "route",
        "show",  # the main table: where DHCP clients and `ip route add` put routes
    ]


# --- parsers --------------------------------------------------------------------------------------


def _json_list(text: str, what: str) -> list[dict[str, Any]]:
    if not text.strip():
        return []
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"{what}: not JSON ({exc})") from exc
    if not isinstance(data, list):
        raise ValueError(f"{what}: expected a JSON list")
    return [item for item in data if isinstance(item, dict)]


def _kind(link_type: str) -> InterfaceKind:
    if link_type == "loopback":
        return "loopback"
    if link_type == "ether":
        return "ethernet"
    return "other"


def parse_ip_addr(text: str) -> tuple[Interface, ...]:
    """``ip -json addr show``."""
    interfaces = []
    for link in _json_list(text, "ip addr"):
        flags = set(link.get("flags", ()))
        addresses: list[str] = []
        dynamic: list[str] = []
        for info in link.get("addr_info", ()):
            if info.get("family") not in ("inet", "inet6") or "local" not in info:
                continue
            cidr = f"{info['local']}/{info.get('prefixlen', 128 if info['family'] == 'inet6' else 32)}"
            addresses.append(cidr)
            lifetime = info.get("valid_life_time", FOREVER)
            if info.get("dynamic") or (isinstance(lifetime, int) and lifetime < FOREVER):
                dynamic.append(cidr)
        interfaces.append(
            Interface(
                name=str(link.get("ifname", "")),
                mac=str(link.get("address", "")),
                up="UP" in flags,
                carrier="LOWER_UP" in flags,
                addresses=tuple(addresses),
                kind=_kind(str(link.get("link_type", ""))),
                dynamic=tuple(dynamic),
            )
        )
    return tuple(interfaces)


def parse_default_routes(text: str, version: Literal[4, 6]) -> tuple[DefaultRoute, ...]:
    """Default routes from ``ip -<version> -json route show`` (multipath ones as one per hop)."""
    routes = []
    for route in _json_list(text, "ip route"):
        if route.get("dst") != "default" or route.get("type", "unicast") != "unicast":
            continue
        metric = route.get("metric")
        hops = route.get("nexthops") or [route]
        for hop in hops:
            routes.append(
                DefaultRoute(
                    version=version,
                    gateway=hop.get("gateway"),
                    dev=str(hop.get("dev", "")),
                    metric=metric if isinstance(metric, int) else None,
                    protocol=str(route.get("protocol", "")),
                )
            )
    return tuple(routes)


def parse_resolv_conf(text: str) -> tuple[str, ...]:
    """The ``nameserver`` addresses of a resolv.conf, in order; unparsable ones skipped."""
    servers = []
    for line in text.splitlines():
        words = re.split(r"[#;]", line, maxsplit=1)[0].split()
        if len(words) >= 2 and words[0] == "nameserver" and _ip(words[1]) is not None:
            servers.append(words[1])
    return tuple(servers)


def network_state(addr_json: str, route4_json: str, route6_json: str, resolv_conf: str) -> NetworkState:
    return NetworkState(
        interfaces=parse_ip_addr(addr_json),
        default_routes=parse_default_routes(route4_json, 4) + parse_default_routes(route6_json, 6),
        dns=parse_resolv_conf(resolv_conf),
    )


# --- what a person reads --------------------------------------------------------------------------


def _address_label(iface: Interface, cidr: str) -> str:
    if cidr not in iface.dynamic:
        return cidr
    return f"{cidr} (DHCP)" if ipaddress.ip_interface(cidr).version == 4 else f"{cidr} (auto)"


def summary(state: NetworkState) -> list[str]:
    """Three short ASCII lines: addresses, default gateway, DNS servers."""
    nics = [i for i in state.interfaces if i.kind != "loopback"]
    configured = [i for i in nics if i.global_addresses]
    if configured:
        first = "; ".join(
            f"{i.name} " + ", ".join(_address_label(i, a) for a in i.global_addresses) for i in configured
        )
    elif nics:
        silent = [i.name for i in nics if i.carrier]
        unplugged = [i.name for i in nics if not i.carrier]
        reasons = []
        if silent:
            reasons.append("no DHCP answer on " + ", ".join(silent))
        if unplugged:
            reasons.append("no link on " + ", ".join(unplugged))
        first = "no address: " + "; ".join(reasons) + " - set one below"
    else:
        first = "no network interface found"
    if state.default_routes:
        second = "gateway " + ", ".join(
            f"{r.gateway} on {r.dev}" if r.gateway else f"via {r.dev}" for r in state.default_routes
        )
    else:
        second = "no default gateway"
    third = "DNS " + ", ".join(state.dns) if state.dns else "no DNS server"
    return [first, second, third]


# --- a static setting -----------------------------------------------------------------------------


@dataclass(frozen=True)
class StaticConfig:
    iface: str
    address_cidr: str
    """``192.0.2.10/24`` or ``2001:db8::10/64``: the prefix length is required."""
    gateway: str = ""
    """Empty: no default route (the target is on the same link)."""
    dns: tuple[str, ...] = ()
    """Empty: resolv.conf is left as it is."""


def _ip(text: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(text.strip())
    except ValueError:
        return None


def _cidr(text: str) -> IPInterface | None:
    if "/" not in text:
        return None
    try:
        return ipaddress.ip_interface(text.strip())
    except ValueError:
        return None


def validate(cfg: StaticConfig, state: NetworkState) -> list[str]:
    """Errors that make ``cfg`` impossible to apply; empty when it can be applied.

    The address, gateway and DNS servers are checked by the parsers that
    check every address p2v writes (:mod:`p2v_tui.model.validate`); on top,
    this live system must reach beyond its link (no link-local or reserved
    address) through a gateway that can be a router.

    A gateway outside the address's subnet is not an error (hosting providers
    hand out /32 addresses with such gateways); :func:`warnings_for` names it
    and :func:`apply_argvs` adds the route ``onlink``.
    """
    errors = []
    iface = state.interface(cfg.iface)
    if iface is None:
        known = ", ".join(i.name for i in state.interfaces if i.kind != "loopback") or "none"
        errors.append(f"unknown interface {cfg.iface!r} (interfaces: {known})")
    elif iface.kind == "loopback":
        errors.append(f"{cfg.iface} is the loopback interface; choose a network card")
    addr: IPInterface | None = None
    problem = typed_address_problem(cfg.address_cidr)
    if problem:
        errors.append(
            problem if problem.startswith("address ") else f"address {cfg.address_cidr.strip()!r}: {problem}"
        )
    else:
        addr = parse_interface_address(cfg.address_cidr.strip())
        if addr.ip.is_link_local or addr.ip.is_reserved:
            errors.append(f"address {addr} cannot be used on a network (link-local or reserved)")
    if cfg.gateway.strip():
        try:
            if addr is None:  # the address's own error is said; the gateway alone
                parse_ip(cfg.gateway.strip(), "gateway")
            else:
                gw = parse_gateway(cfg.gateway.strip(), addr)
                if gw.is_loopback:
                    errors.append(f"gateway {gw} cannot be a router")
                elif _network_or_broadcast(addr, gw):
                    errors.append(f"gateway {gw} is the network's own or broadcast address")
        except ValueError as e:
            errors.append(str(e))
    for server in cfg.dns:  # already split: each bad one is named
        try:
            parse_dns_server(server)
        except ValueError as e:
            errors.append(str(e))
    return errors


def _network_or_broadcast(addr: IPInterface, ip: IPAddress) -> bool:
    """IPv4 subnets reserve their first and last address (except /31 and /32 links)."""
    net = addr.network
    return net.version == 4 and net.prefixlen <= 30 and ip in (net.network_address, net.broadcast_address)


def warnings_for(cfg: StaticConfig) -> list[str]:
    """Things that work but that a person should know about (for a valid ``cfg``)."""
    out = []
    addr = _cidr(cfg.address_cidr)
    gw = _ip(cfg.gateway) if cfg.gateway.strip() else None
    if addr is not None and gw is not None and _gateway_offlink(addr, gw):
        out.append(f"gateway {gw} is outside {addr.network}: it must be reachable directly on {cfg.iface}")
    if not cfg.dns:
        out.append("no DNS server: give the target by its IP address")
    elif len(cfg.dns) > RESOLV_MAXNS:
        out.append(f"only the first {RESOLV_MAXNS} DNS servers are used")
    return out


def _gateway_offlink(addr: IPInterface, gw: IPAddress) -> bool:
    """True when the kernel would refuse the gateway without ``onlink``."""
    return gw.version == addr.version and gw not in addr.network and not gw.is_link_local


def apply_argvs(cfg: StaticConfig, current: NetworkState | None = None) -> list[list[str]]:
    """The ``ip`` commands that put ``cfg`` in place, in order (``cfg`` must be valid).

    Only ``cfg.iface`` and only the address family of ``cfg.address_cidr``
    change: its global addresses of that family are replaced (link-local
    ones stay, IPv6 neighbour discovery needs them; a working IPv6 from
    router advertisements survives a static IPv4 and vice versa). With a
    gateway, the other default routes of that family in ``current`` are
    deleted first (before the old addresses go, which may take their routes
    with them), so the typed gateway is the one that is used.
    """
    addr = ipaddress.ip_interface(cfg.address_cidr.strip())
    family = f"-{addr.version}"
    gw = ipaddress.ip_address(cfg.gateway.strip()) if cfg.gateway.strip() else None
    argvs = [
        [
            "ip",
            "link",
            "set",
            "dev",
            cfg.iface,
            "up",  # a DHCP client may never have brought it up
        ]
    ]
    if gw is not None and current is not None:
        for route in current.default_routes:
            if route.version != addr.version:
                continue
            if route.gateway and ipaddress.ip_address(route.gateway) == gw and route.dev == cfg.iface:
                continue  # `route replace` below keeps it
            argv = ["ip", family, "route", "del", "default"]
            if route.gateway:
                argv += ["via", route.gateway]
            argv += ["dev", route.dev]
            if route.metric is not None:
                argv += ["metric", str(route.metric)]  # identifies the route among equal ones
            argvs.append(argv)
    argvs.append(
        [
            "ip",
            family,  # only this family's addresses ...
            "addr",
            "flush",
            "dev",
            cfg.iface,  # ... on this interface only ...
            "scope",
            "global",  # ... and not the link-local ones
        ]
    )
    argvs.append(["ip", "addr", "add", str(addr), "dev", cfg.iface])
    if gw is not None:
        route_argv = [
            "ip",
            family,
            "route",
            "replace",  # add, or update a default route left by an earlier try
            "default",
            "via",
            str(gw),
            "dev",
            cfg.iface,  # needed for an IPv6 link-local gateway
        ]
        if _gateway_offlink(addr, gw):
            route_argv.append("onlink")  # gateway outside the subnet: reach it on the link
        argvs.append(route_argv)
    return argvs


def resolv_conf_text(cfg: StaticConfig) -> str:
    lines = ["# Written by p2v: DNS servers set by hand on the live system."]
    lines += [f"nameserver {ipaddress.ip_address(s.strip())}" for s in cfg.dns]
    return "\n".join(lines) + "\n"
