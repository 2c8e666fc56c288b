"""NetworkManager keyfiles: /etc/NetworkManager/system-connections/*.

Ethernet profiles (``type=ethernet``/``802-3-ethernet``) are the configured
interfaces; ``interface-name=`` ties a profile to a name, ``mac-address=``
to a NIC, ``cloned-mac-address=`` sets the NIC's MAC. A static address is
``method=manual`` with ``address1=ADDR/PREFIX`` and ``gateway=`` (both read
by every NetworkManager since 1.0), ``dns=a;b;``.
"""

from __future__ import annotations

import ipaddress
import re

from ..edits import StaticAddress
from ._interfaces import (
    NicMap,
    SourceInterface,
    ini_keys,
    ini_section_end,
    ini_value,
    normal_mac,
    same_case,
    text_lines,
)
from ._text import rewrite_line
from ._workspace import Scope

GLOB = "/etc/NetworkManager/system-connections/*"
KEYFILE_MODE = 0o600
"""NetworkManager ignores keyfiles others can read."""
_ETHERNET = ("ethernet", "802-3-ethernet")
_ADDRESS_KEY = re.compile(r"^(address|addresses)\d*$")


def _profiles(scope: Scope) -> list[tuple[str, list[str]]]:
    found = []
    for path in scope.glob(GLOB):
        lines = text_lines(scope.read(path))
        if ini_value(lines, "connection", "type") in _ETHERNET:
            found.append((path, lines))
    return found


def _name(lines: list[str], path: str) -> tuple[str, bool]:
    name = ini_value(lines, "connection", "interface-name")
    if name:
        return name, True
    return ini_value(lines, "connection", "id") or path.rsplit("/", 1)[-1], False


def discover(scope: Scope) -> list[SourceInterface]:
    found = []
    for path, lines in _profiles(scope):
        name, by_name = _name(lines, path)
        mac = ini_value(lines, _ETHERNET, "mac-address")
        found.append(
            SourceInterface(
                name, "networkmanager", path, mac=normal_mac(mac) if mac else None, by_name=by_name
            )
        )
    return found


def fix_macs(scope: Scope, nics: NicMap, reason: str) -> None:
    for path, lines in _profiles(scope):
        name, _by_name = _name(lines, path)
        bound = ini_value(lines, _ETHERNET, "mac-address")
        new = nics.replacement(name, bound)
        if not new:
            continue
        for k in reversed(ini_keys(lines)):
            if k.section in _ETHERNET and k.key in ("mac-address", "cloned-mac-address"):
                if k.key == "cloned-mac-address" and (not bound or normal_mac(k.value) != normal_mac(bound)):
                    continue
                if normal_mac(k.value) != new:
                    line = lines[k.index]
                    rewrite_line(lines, k.index, line.replace(k.value, same_case(new, k.value), 1))
        scope.write(path, "".join(lines), reason, mode=KEYFILE_MODE)


def set_static(scope: Scope, name: str, static: StaticAddress, reason: str) -> list[str]:
    """Paths changed (empty: this tool does not configure ``name``)."""
    iface = ipaddress.ip_interface(static.address)
    section = "ipv4" if iface.version == 4 else "ipv6"
    for path, lines in _profiles(scope):
        if _name(lines, path)[0] != name:
            continue
        dns = [d for d in static.dns if ipaddress.ip_address(d).version == iface.version]
        settings = [("method", "manual"), ("address1", str(iface))]
        if static.gateway:
            settings.append(("gateway", static.gateway))
        if dns:
            settings.append(("dns", "".join(f"{d};" for d in dns)))
        out = list(lines)
        for k in reversed(ini_keys(out)):
            if k.section == section and (
                k.key in ("method", "gateway") or _ADDRESS_KEY.match(k.key) or (dns and k.key == "dns")
            ):
                del out[k.index]
        end = ini_section_end(out, section)
        new = [f"{k}={v}\n" for k, v in settings]
        if end is None:
            if out and out[-1].strip():
                out.append("\n")
            out += [f"[{section}]\n", *new]
        else:
            out[end:end] = new
        scope.write(path, "".join(out), reason, mode=KEYFILE_MODE)
        return [path]
    return []
