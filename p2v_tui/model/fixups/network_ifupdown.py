"""Debian's ifupdown: /etc/network/interfaces and interfaces.d/*.

Stanzas start with ``iface``, ``mapping``, ``auto``, ``allow-*``,
``source*``, ``rename`` or ``no-*``; an ``iface`` stanza's options are the
lines up to the next one. A static address is written as ``address`` plus
``netmask`` (every ifupdown release understands that, CIDR only newer ones).
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, replace

from ..edits import StaticAddress
from ._interfaces import SourceInterface, is_virtual, normal_mac, same_case
from ._text import body, indent_of, lines_of, rewrite_line
from ._workspace import Scope

MAIN = "/etc/network/interfaces"
DIR = "/etc/network/interfaces.d/*"

_STARTS = ("iface", "mapping", "auto", "source", "source-directory", "rename")
_MEMBERS = ("bridge_ports", "bridge-ports", "bond-slaves", "bond_slaves", "slaves")
_ADDRESSING = {"address", "netmask", "broadcast", "network", "gateway", "pointopoint", "hwaddress"}


@dataclass(frozen=True)
class Stanza:
    start: int
    end: int
    """Index after its last option line."""
    name: str
    family: str
    method: str
    options: tuple[tuple[int, str, str], ...]
    """(line index, key, value)."""

    def option(self, key: str) -> str | None:
        return next((v for _i, k, v in self.options if k == key), None)


def files(scope: Scope) -> list[str]:
    return ([MAIN] if scope.read(MAIN) is not None else []) + scope.glob(DIR)


def stanzas(lines: list[str]) -> list[Stanza]:
    found: list[Stanza] = []
    current: Stanza | None = None
    for i, line in enumerate(lines):
        words = body(line).split()
        if not words or words[0].startswith("#"):
            continue
        if words[0] in _STARTS or words[0].startswith(("allow-", "no-")):
            if current is not None:
                found.append(current)
            current = None
            if words[0] == "iface" and len(words) >= 4:
                current = Stanza(i, i + 1, words[1], words[2], words[3], ())
            continue
        if current is not None:
            option = (i, words[0], " ".join(words[1:]))
            current = replace(current, end=i + 1, options=(*current.options, option))
    if current is not None:
        found.append(current)
    return found


def discover(scope: Scope) -> list[SourceInterface]:
    found: list[SourceInterface] = []
    for path in files(scope):
        for st in stanzas(lines_of(scope.read(path) or "")):
            if st.family not in ("inet", "inet6"):
                continue
            members = [st.option(k) for k in _MEMBERS]
            for value in members:
                for member in (value or "").split():
                    if member not in ("none", "all") and not is_virtual(member):
                        found.append(SourceInterface(member, "ifupdown", path))
            if any(members) or st.option("vlan-raw-device") or st.option("vlan_raw_device"):
                continue
            if is_virtual(st.name):
                continue
            hw = (st.option("hwaddress") or "").split()
            mac = normal_mac(hw[-1]) if hw else None
            found.append(SourceInterface(st.name, "ifupdown", path, mac=mac))
    return found


def fix_macs(scope: Scope, new_mac: dict[str, str], reason: str) -> None:
    """``hwaddress`` set to a source MAC would override the instance NIC's."""
    for path in files(scope):
        lines = lines_of(scope.read(path) or "")
        for st in reversed(stanzas(lines)):
            new = new_mac.get(st.name)
            for i, k, v in st.options:
                if k == "hwaddress" and new and normal_mac(v.split()[-1]) != new:
                    old = v.split()[-1]
                    rewrite_line(lines, i, lines[i].replace(old, same_case(new, old), 1))
        scope.write(path, "".join(lines), reason)


def set_static(scope: Scope, name: str, static: StaticAddress, reason: str) -> list[str]:
    """Paths changed (absolute; empty: ifupdown does not configure ``name``);
    other strings are notes."""
    iface = ipaddress.ip_interface(static.address)
    family = "inet" if iface.version == 4 else "inet6"
    for path in files(scope):
        lines = lines_of(scope.read(path) or "")
        all_stanzas = stanzas(lines)
        mine = [s for s in all_stanzas if s.name == name]
        if not mine:
            continue
        target = name
        if all(s.method == "manual" for s in mine):
            bridge = next(
                (s for s in all_stanzas if any(name in (s.option(k) or "").split() for k in _MEMBERS)), None
            )
            if bridge is not None:
                target = bridge.name
                mine = [s for s in all_stanzas if s.name == target]
        new_lines = _static_lines(lines, mine, target, family, iface=iface, static=static)
        scope.write(path, "".join(new_lines), reason)
        return [path] + ([f"static address on bridge {target}"] if target != name else [])
    return []


def _static_lines(
    lines: list[str],
    mine: list[Stanza],
    name: str,
    family: str,
    *,
    iface: ipaddress.IPv4Interface | ipaddress.IPv6Interface,
    static: StaticAddress,
) -> list[str]:
    netmask = str(iface.netmask) if iface.version == 4 else str(iface.network.prefixlen)
    options = [("address", str(iface.ip)), ("netmask", netmask)]
    if static.gateway:
        options.append(("gateway", static.gateway))
    if static.dns:
        options.append(("dns-nameservers", " ".join(static.dns)))
    drop = _ADDRESSING - {"hwaddress"} | ({"dns-nameservers"} if static.dns else set())
    stanza = next((s for s in mine if s.family == family), None)
    if stanza is None:
        last = max(mine, key=lambda s: s.end)
        indent = indent_of(lines[last.options[0][0]]) if last.options else "\t"
        block = ["\n", f"iface {name} {family} static\n", *(f"{indent}{k} {v}\n" for k, v in options)]
        out = list(lines)
        if out[last.end - 1 : last.end] and not out[last.end - 1].endswith("\n"):
            out[last.end - 1] += "\n"
        out[last.end : last.end] = block
        return out
    indent = indent_of(lines[stanza.options[0][0]]) if stanza.options else "\t"
    out = list(lines)
    for i, k, _v in reversed(stanza.options):
        if k in drop:
            del out[i]
    head = out[stanza.start]
    words = body(head).split()
    words[3] = "static"
    out[stanza.start] = indent_of(head) + " ".join(words) + (head[len(body(head)) :] or "\n")
    out[stanza.start + 1 : stanza.start + 1] = [f"{indent}{k} {v}\n" for k, v in options]
    return out
