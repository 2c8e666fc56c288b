"""RHEL-family ifcfg files: /etc/sysconfig/network-scripts/ifcfg-*.

``DEVICE=`` (or the file's suffix) names the interface, ``HWADDR=`` binds
the file to a NIC, ``MACADDR=`` sets the NIC's MAC. Bridges, bonds, VLANs,
teams and aliases (``eth0:1``) are not physical interfaces. A static address
is ``BOOTPROTO=none`` with ``IPADDR``/``PREFIX``/``GATEWAY``/``DNSn``
(``IPV6ADDR``/``IPV6_DEFAULTGW`` for IPv6); values are quoted when the file
quotes its values (anaconda in RHEL 6 did).
"""

from __future__ import annotations

import ipaddress
import re

from ..edits import StaticAddress
from ._interfaces import NicMap, SourceInterface, is_virtual, normal_mac, same_case
from ._text import assignments, lines_of, parse_assignment, render, rewrite_line, set_var
from ._workspace import Scope

GLOB = "/etc/sysconfig/network-scripts/ifcfg-*"
_BACKUP = re.compile(r"(~|\.(bak|orig|old|rpmnew|rpmsave|save))$")
_NOT_PHYSICAL = {"bridge", "bond", "vlan", "team", "teamport", "infiniband", "ovsbridge", "ovsport", "ipip"}


def _value(lines: list[str], name: str) -> str | None:
    found = assignments(lines, name)
    return found[-1].value if found else None


def _files(scope: Scope) -> list[tuple[str, list[str], str]]:
    found = []
    for path in scope.glob(GLOB):
        if _BACKUP.search(path) or path.endswith("/ifcfg-lo"):
            continue
        lines = lines_of(scope.read(path) or "")
        name = _value(lines, "DEVICE") or path.rsplit("/ifcfg-", 1)[-1]
        found.append((path, lines, name))
    return found


def discover(scope: Scope) -> list[SourceInterface]:
    found = []
    for path, lines, name in _files(scope):
        kind = (_value(lines, "TYPE") or "ethernet").lower()
        if (
            kind in _NOT_PHYSICAL
            or is_virtual(name)
            or _value(lines, "BONDING_OPTS")
            or (_value(lines, "VLAN") or "").lower() == "yes"
        ):
            continue
        mac = _value(lines, "HWADDR") or _value(lines, "MACADDR")
        found.append(SourceInterface(name, "ifcfg", path, mac=normal_mac(mac) if mac else None))
    return found


def fix_macs(scope: Scope, nics: NicMap, reason: str) -> None:
    for path, lines, name in _files(scope):
        hwaddr = _value(lines, "HWADDR")
        new = nics.replacement(name, hwaddr)
        if not new:
            continue
        for var in ("HWADDR", "MACADDR"):
            for a in reversed(assignments(lines, var)):
                if a.value and normal_mac(a.value) != new:
                    rewrite_line(lines, a.index, render(a, same_case(new, a.value), lines[a.index]))
        scope.write(path, "".join(lines), reason)


_V4_GONE = re.compile(r"^(IPADDR|PREFIX|NETMASK|GATEWAY)\d*$")
_V6_GONE = re.compile(r"^(IPV6ADDR|IPV6ADDR_SECONDARIES|IPV6_DEFAULTGW|DHCPV6C)$")


def set_static(scope: Scope, name: str, static: StaticAddress, reason: str) -> list[str]:
    """Paths changed (empty: this tool does not configure ``name``)."""
    iface = ipaddress.ip_interface(static.address)
    for path, lines, ifname in _files(scope):
        if ifname != name:
            continue
        quote = '"' if any((a := parse_assignment(ln)) is not None and a.quote for ln in lines) else ""
        gone = _V4_GONE if iface.version == 4 else _V6_GONE
        out = [ln for ln in lines if not ((a := parse_assignment(ln)) is not None and gone.match(a.name))]
        if static.dns:
            out = [
                ln
                for ln in out
                if not ((a := parse_assignment(ln)) is not None and re.fullmatch(r"DNS\d+", a.name))
            ]
        if iface.version == 4:
            settings = [
                ("BOOTPROTO", "none"),
                ("IPADDR", str(iface.ip)),
                ("PREFIX", str(iface.network.prefixlen)),
            ]
            if static.gateway:
                settings.append(("GATEWAY", static.gateway))
        else:
            settings = [("IPV6INIT", "yes"), ("IPV6_AUTOCONF", "no"), ("IPV6ADDR", str(iface))]
            if static.gateway:
                settings.append(("IPV6_DEFAULTGW", static.gateway))
        settings += [(f"DNS{n}", d) for n, d in enumerate(static.dns, start=1)]
        for var, value in settings:
            out = set_var(out, var, value, quote=quote, was=False)
        scope.write(path, "".join(out), reason)
        return [path]
    return []
