"""Checks for values that end up in the migrated system's configuration
files, in commands, or on a console: one set for the answers file, the
wizard's fields and the instance facts a target reports.

Each checker returns ``None`` when the value is good and otherwise one line
saying what is wrong, so callers prefix it with where the value came from
(``network.gateway: ...``). The parsers raise :class:`ValueError` with that
same line.
"""

from __future__ import annotations

import ipaddress
import re
import unicodedata

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPInterface = ipaddress.IPv4Interface | ipaddress.IPv6Interface

HOSTNAME_MAX = 253
"""RFC 1123 / RFC 1035: a name of at most 253 characters (without the root dot)."""

_LABEL = re.compile(r"[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?\Z")


def control_character(text: str) -> str | None:
    """The first control (or other unprintable) character of ``text`` as a
    description, e.g. ``a newline``; None when there is none. Tabs count:
    no value p2v writes anywhere needs one."""
    for ch in text:
        if ch == "\n":
            return "a newline"
        if ch == "\r":
            return "a carriage return"
        if unicodedata.category(ch) in ("Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"):
            return f"the control character U+{ord(ch):04X}"
    return None


def hostname_problem(name: str) -> str | None:
    """Why ``name`` is not a host name (short or fully qualified, RFC 1123:
    labels of letters, digits and inner hyphens, 1-63 characters, 253 in
    all); None when it is one. A trailing dot is not accepted: the files it
    lands in (/etc/hostname, /etc/hosts) want the name without it."""
    if not name:
        return "a host name is needed"
    bad = control_character(name)
    if bad:
        return f"a host name has no {bad.removeprefix('a ').removeprefix('the ')}"
    if len(name) > HOSTNAME_MAX:
        return f"{len(name)} characters, at most {HOSTNAME_MAX}"
    for label in name.split("."):
        if not label:
            return "an empty label (two dots, or a dot at an end)"
        if len(label) > 63:
            return f"the label {label[:12]}... has {len(label)} characters, at most 63"
        if not _LABEL.match(label):
            return "letters, digits and '-' between dots, e.g. web01.example.org"
    if name.rsplit(".", 1)[-1].isdigit():
        return "the last label is a number (an address is not a host name)"
    return None


def parse_ip(text: str, what: str = "address") -> IPAddress:
    """One IPv4 or IPv6 address, nothing around it (no prefix, no zone)."""
    bad = control_character(text)
    if bad:
        raise ValueError(f"{what} with {bad}")
    try:
        ip = ipaddress.ip_address(text)
    except ValueError:
        shown = text if len(text) <= 40 else text[:37] + "..."
        raise ValueError(f"{what} {shown!r} is not an IP address") from None
    if ip.is_unspecified or ip.is_multicast:
        raise ValueError(f"{what} {text} is {'unspecified' if ip.is_unspecified else 'multicast'}")
    return ip


def parse_interface_address(text: str) -> IPInterface:
    """A host address with its prefix length (``198.51.100.10/24``): the
    prefix is required (a static address without one cannot be written
    into any network configuration), and the address must be one a host
    can have on that network."""
    bad = control_character(text)
    if bad:
        raise ValueError(f"address with {bad}")
    if "/" not in text:
        try:
            ipaddress.ip_address(text)
        except ValueError:
            raise ValueError("not an IPv4/IPv6 address with prefix, e.g. 192.0.2.10/24") from None
        raise ValueError(f"with the prefix length, e.g. {text}/24")
    try:
        iface = ipaddress.ip_interface(text)
    except ValueError:
        raise ValueError("not an IPv4/IPv6 address with prefix, e.g. 192.0.2.10/24") from None
    ip = iface.ip
    if iface.network.prefixlen == 0:
        raise ValueError(f"address {text}: a prefix length of 0 is not a network")
    if ip.is_unspecified or ip.is_multicast or ip.is_loopback:
        raise ValueError(f"address {text} cannot be a host's address (unspecified, multicast or loopback)")
    if ip.version == 4 and iface.network.prefixlen <= 30:
        if ip == iface.network.network_address:
            raise ValueError(f"address {text} is the network's own address")
        if ip == iface.network.broadcast_address:
            raise ValueError(f"address {text} is the network's broadcast address")
    return iface


def parse_gateway(text: str, address: IPInterface) -> IPAddress:
    """A gateway for ``address``: an address of the same family, not the
    host's own. (Outside the subnet is allowed: providers hand out /32
    addresses with on-link gateways.)"""
    gw = parse_ip(text, "gateway")
    if gw.version != address.version:
        raise ValueError(f"gateway {text} is IPv{gw.version}, the address IPv{address.version}")
    if gw == address.ip:
        raise ValueError(f"gateway {text} is the address itself")
    return gw
