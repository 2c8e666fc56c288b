"""systemd-networkd: /etc/systemd/network/*.network and *.link.

A ``.network`` file with ``[Match] Name=`` (one plain name) or
``MACAddress=`` is a configured interface; ``.link`` files bind names to
MACs. MAC values of either are rewritten to the instance NIC's; a static
address replaces ``Address=``/``Gateway=`` of its family in ``[Network]``
and takes that family out of ``DHCP=``.
"""

from __future__ import annotations

import ipaddress

from ..edits import StaticAddress
from ._interfaces import NicMap, SourceInterface, ini_keys, ini_section_end, ini_value, normal_mac, text_lines
from ._text import rewrite_line
from ._workspace import Scope

NETWORK = "/etc/systemd/network/*.network"
LINK = "/etc/systemd/network/*.link"
_MAC_KEYS = ("MACAddress", "PermanentMACAddress")


def _plain(name: str | None) -> str | None:
    if not name or any(c in name for c in "*?[ !"):
        return None
    return name


def discover(scope: Scope) -> list[SourceInterface]:
    found = []
    for path in scope.glob(NETWORK):
        lines = text_lines(scope.read(path))
        name = _plain(ini_value(lines, "Match", "Name"))
        mac = ini_value(lines, "Match", "MACAddress") or ini_value(lines, "Match", "PermanentMACAddress")
        mac = mac.split()[0] if mac else None
        if name is None and mac is None:
            continue
        found.append(
            SourceInterface(
                name or path.rsplit("/", 1)[-1],
                "networkd",
                path,
                mac=normal_mac(mac) if mac else None,
                by_name=mac is None,
            )
        )
    return found


def link_names(scope: Scope) -> dict[str, str]:
    """Name -> MAC bound by .link files (the name is kept by udev)."""
    found = {}
    for path in scope.glob(LINK):
        lines = text_lines(scope.read(path))
        mac = ini_value(lines, "Match", "MACAddress") or ini_value(lines, "Match", "PermanentMACAddress")
        name = ini_value(lines, "Link", "Name")
        if mac and name:
            found[name] = normal_mac(mac.split()[0])
    return found


def fix_macs(scope: Scope, nics: NicMap, reason: str) -> None:
    for path in [*scope.glob(NETWORK), *scope.glob(LINK)]:
        lines = text_lines(scope.read(path))
        name = ini_value(lines, "Link", "Name") or _plain(ini_value(lines, "Match", "Name"))
        for k in reversed(ini_keys(lines)):
            if k.section not in ("Match", "Link") or k.key not in _MAC_KEYS or not k.value:
                continue
            if len(k.value.split()) != 1:
                continue
            new = nics.replacement(name, k.value)
            if new and normal_mac(k.value) != new:
                rewrite_line(lines, k.index, lines[k.index].replace(k.value, new, 1))
        scope.write(path, "".join(lines), reason)


def set_static(scope: Scope, name: str, static: StaticAddress, reason: str) -> list[str]:
    """Paths changed (empty: this tool does not configure ``name``)."""
    iface = ipaddress.ip_interface(static.address)
    for path in scope.glob(NETWORK):
        lines = text_lines(scope.read(path))
        if _plain(ini_value(lines, "Match", "Name")) != name and path.rsplit("/", 1)[-1] != name:
            continue
        out = list(lines)
        dhcp_left = ""
        for k in reversed(ini_keys(out)):
            if k.section != "Network":
                continue
            same_family = k.key in ("Address", "Gateway") and _version(k.value) == iface.version
            if same_family or (k.key == "DNS" and static.dns):
                del out[k.index]
            elif k.key == "DHCP":
                dhcp_left = _dhcp_without(k.value, iface.version)
                out[k.index] = f"DHCP={dhcp_left}\n"
        settings = [f"Address={iface}\n"]
        if static.gateway:
            settings.append(f"Gateway={static.gateway}\n")
        settings += [f"DNS={d}\n" for d in static.dns]
        end = ini_section_end(out, "Network")
        if end is None:
            out += ["\n", "[Network]\n", *settings]
        else:
            out[end:end] = settings
        scope.write(path, "".join(out), reason)
        return [path]
    return []


def _version(value: str) -> int | None:
    try:
        return ipaddress.ip_interface(value.split(maxsplit=1)[0]).version
    except (ValueError, IndexError):
        return None


def _dhcp_without(value: str, version: int) -> str:
    v = value.strip().lower()
    both = v in ("yes", "true", "both", "1", "on")
    has4 = both or v == "ipv4"
    has6 = both or v == "ipv6"
    if version == 4:
        has4 = False
    else:
        has6 = False
    return "yes" if has4 and has6 else "ipv4" if has4 else "ipv6" if has6 else "no"
