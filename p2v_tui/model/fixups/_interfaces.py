"""Network interfaces as the source's configuration knows them, and which
of the instance's NICs takes the place of each.

The source's configured physical interfaces, in the order its configuration
lists them (netplan, NetworkManager keyfiles, ifcfg, ifupdown, networkd), are
matched with the instance's NICs in Ganeti's order: the first configured
interface (or ``choices.interface``) becomes NIC 0, the next NIC 1, and so
on. Interfaces left over have no NIC on the instance.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from ._text import body, lines_of

MAC = re.compile(r"^[0-9A-Fa-f]{2}([:-][0-9A-Fa-f]{2}){5}$")
_VIRTUAL = re.compile(
    r"^(lo|br|bond|team|vlan|virbr|docker|veth|tun|tap|wg|vnet|dummy|ppp|sit|ip6tnl"
    r"|gre|ovs)\w*$|[.:]"
)


def normal_mac(mac: str) -> str:
    return mac.replace("-", ":").lower()


def same_case(new: str, old: str) -> str:
    """``new`` in upper case when ``old`` was written in upper case."""
    return new.upper() if old != old.lower() else new


def is_virtual(name: str) -> bool:
    return bool(_VIRTUAL.search(name))


@dataclass(frozen=True)
class SourceInterface:
    name: str
    """The interface name the configuration uses (its id when it matches by
    MAC only)."""
    tool: str
    path: str
    mac: str | None = None
    """The MAC address the configuration binds to or sets (lower case)."""
    by_name: bool = True
    """The configuration works only if the interface carries ``name``."""


def _empty() -> Mapping[str, str]:
    return MappingProxyType({})


@dataclass(frozen=True)
class NicMap:
    names: tuple[str, ...] = ()
    """Configured physical interfaces, NIC order."""
    new_mac: Mapping[str, str] = field(default_factory=_empty)
    """Source interface name -> MAC of the instance NIC replacing it."""
    old_mac: Mapping[str, str] = field(default_factory=_empty)
    """Source interface name -> its MAC as the configuration knows it."""

    def index(self, name: str) -> int | None:
        return self.names.index(name) if name in self.names else None

    def by_old_mac(self, mac: str) -> str | None:
        mac = normal_mac(mac)
        return next((n for n, m in self.old_mac.items() if m == mac), None)

    def replacement(self, name: str | None, mac: str | None) -> str | None:
        """New MAC for a configuration naming ``name`` and/or binding ``mac``."""
        if name is not None and name in self.new_mac:
            return self.new_mac[name]
        owner = self.by_old_mac(mac) if mac else None
        return self.new_mac.get(owner) if owner else None


def build_map(
    interfaces: list[SourceInterface], extra_macs: Mapping[str, str], nics: list[str], first: str | None
) -> NicMap:
    names: list[str] = []
    old: dict[str, str] = {}
    for iface in interfaces:
        if iface.name not in names:
            names.append(iface.name)
        if iface.mac and iface.name not in old:
            old[iface.name] = iface.mac
    for name, mac in extra_macs.items():
        old.setdefault(name, mac)
    if first:
        names = [first, *(n for n in names if n != first)]
    new = {name: mac for name, mac in zip(names, nics, strict=False)}
    return NicMap(tuple(names), MappingProxyType(new), MappingProxyType(old))


# ---------------------------------------------------------------- INI files


@dataclass(frozen=True)
class IniKey:
    index: int
    section: str
    key: str
    value: str


def ini_keys(lines: list[str]) -> list[IniKey]:
    """``key=value`` lines with their section (NetworkManager keyfiles,
    systemd-networkd files); comments skipped."""
    section = ""
    found = []
    for i, line in enumerate(lines):
        text = body(line).strip()
        if not text or text[0] in "#;":
            continue
        if text.startswith("[") and text.endswith("]"):
            section = text[1:-1].strip()
            continue
        if "=" in text:
            k, v = text.split("=", 1)
            found.append(IniKey(i, section, k.strip(), v.strip()))
    return found


def ini_value(lines: list[str], section: str | tuple[str, ...], key: str) -> str | None:
    sections = (section,) if isinstance(section, str) else section
    hits = [k.value for k in ini_keys(lines) if k.section in sections and k.key == key]
    return hits[-1] if hits else None


def ini_section_end(lines: list[str], section: str) -> int | None:
    """Index after the last non-blank line of ``section`` (None if absent)."""
    current = None
    end = None
    for i, line in enumerate(lines):
        text = body(line).strip()
        if text.startswith("[") and text.endswith("]"):
            current = text[1:-1].strip()
            if current == section:
                end = i + 1
            continue
        if current == section and text:
            end = i + 1
    return end


def text_lines(text: str | None) -> list[str]:
    return lines_of(text or "")
