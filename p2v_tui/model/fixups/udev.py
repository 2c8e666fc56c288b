"""Interface names bound to MAC addresses by udev: the persistent-net rules
older udev wrote (/etc/udev/rules.d/70-persistent-net.rules) and the
systemd ``.link`` files p2v writes to keep a name.

Rules keep their ``NAME=`` and get the MAC of the instance NIC that replaces
that interface, without the ``KERNEL=="eth*"`` condition: an initramfs
that is not the system's own (a cluster's kernel_path/initrd_path) may
already have given the NIC a predictable name (ens13), and the rule must
still rename it by its MAC; rules for interfaces without a NIC on the instance are
commented out, so that their names are free for NICs added later (udev's
generator would otherwise call a new NIC eth2 while the configuration says
eth1).
"""

from __future__ import annotations

import re

from ._interfaces import NicMap, normal_mac
from ._text import MARK, disabled, lines_of, rewrite_line
from ._workspace import Scope

RULES_GLOB = "/etc/udev/rules.d/*persistent-net*.rules"
RULES = "/etc/udev/rules.d/70-persistent-net.rules"
LINK_DIR = "/etc/systemd/network"

_ADDRESS = re.compile(r'ATTRS?\{address\}=="(?P<mac>[^"]*)"')
_KERNEL_ETH = re.compile(r',\s*KERNEL=="eth\*"')
_NAME = re.compile(r'NAME:?="(?P<name>[^"]*)"')


def parse_rule(line: str) -> tuple[str, str] | None:
    """(MAC, NAME) of a persistent-net rule line, None for anything else."""
    text = line.strip()
    if not text or text.startswith("#") or 'SUBSYSTEM=="net"' not in text:
        return None
    mac, name = _ADDRESS.search(text), _NAME.search(text)
    if not mac or not name:
        return None
    return normal_mac(mac.group("mac")), name.group("name")


def rule_macs(scope: Scope) -> dict[str, str]:
    """Interface name -> MAC from every persistent-net rules file."""
    found: dict[str, str] = {}
    for path in scope.glob(RULES_GLOB):
        for line in lines_of(scope.read(path) or ""):
            rule = parse_rule(line)
            if rule:
                found.setdefault(rule[1], rule[0])
    return found


def fix_rules(scope: Scope, nics: NicMap, reason: str) -> None:
    for path in scope.glob(RULES_GLOB):
        lines = lines_of(scope.read(path) or "")
        i = 0
        while i < len(lines):
            rule = parse_rule(lines[i])
            if rule is not None:
                mac, name = rule
                new = nics.new_mac.get(name)
                if new is None:
                    lines[i] = disabled(lines[i], "no such NIC on the instance")
                elif new != mac:
                    line = _ADDRESS.sub(f'ATTR{{address}}=="{new}"', lines[i], count=1)
                    i = rewrite_line(lines, i, _KERNEL_ETH.sub("", line))
            i += 1
        scope.write(path, "".join(lines), reason)


def rule_line(mac: str, name: str) -> str:
    return (
        f'SUBSYSTEM=="net", ACTION=="add", DRIVERS=="?*", ATTR{{address}}=="{mac}", '
        f'ATTR{{type}}=="1", NAME="{name}"\n'
    )


def with_rule(text: str | None, mac: str, name: str) -> str:
    """A rules file that names the NIC with ``mac`` ``name``."""
    for line in lines_of(text or ""):
        if parse_rule(line) == (mac, name):
            return text or ""
    base = text or ""
    if base and not base.endswith("\n"):
        base += "\n"
    return base + f"{MARK}keep the name the migrated configuration uses\n" + rule_line(mac, name)


def link_path(name: str) -> str:
    return f"{LINK_DIR}/10-p2v-{name}.link"


def link_file(mac: str, name: str) -> str:
    return (
        f"{MARK}keep the interface name the migrated network configuration uses\n"
        "[Match]\n"
        f"MACAddress={mac}\n"
        "\n"
        "[Link]\n"
        f"Name={name}\n"
    )
