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
from collections.abc import Callable

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


# -- what a person types in a form field ---------------------------------------
# The wizard's fields hold text as typed: blanks around it, a trailing dot on
# a host name, several DNS servers in one line. These checks take that text
# and say what is wrong in the words of the parsers above.


def parse_dns_list(text: str) -> tuple[str, ...]:
    """What a person types in a DNS field: addresses separated by commas or blanks."""
    return tuple(word for word in re.split(r"[\s,]+", text) if word)


def clean_hostname(text: str) -> str:
    """A host name as the files want it: blanks and a trailing dot dropped
    (a fully qualified name may be typed with its root dot)."""
    return text.strip().rstrip(".")


def typed_hostname_problem(text: str) -> str | None:
    """Why ``text`` is not a host name (short or fully qualified), or None."""
    return hostname_problem(clean_hostname(text))


def _problem(parse: Callable[[str], object], text: str) -> str | None:
    try:
        parse(text.strip())
    except ValueError as e:
        return str(e)
    return None


def typed_address_problem(text: str) -> str | None:
    """An address with its prefix length, e.g. 192.0.2.10/24."""
    return _problem(parse_interface_address, text)


def typed_gateway_problem(text: str) -> str | None:
    """A gateway's address, or nothing (no default route). Whether it suits
    the address is :func:`parse_gateway`'s to say, once both are known."""
    return _problem(lambda t: parse_ip(t, "gateway"), text) if text.strip() else None


def typed_dns_problem(text: str) -> str | None:
    """DNS servers' addresses as :func:`parse_dns_list` splits them."""
    for server in parse_dns_list(text):
        problem = _problem(parse_dns_server, server)
        if problem:
            return f"{problem} (separate servers with commas)"
    return None


def parse_dns_server(text: str) -> IPAddress:
    """One DNS server: an address, as resolv.conf and every network
    configuration take it (no name: it would need a DNS server itself)."""
    return parse_ip(text, "DNS server")


DISK_SIZE_MAX = 2**50
"""1 PiB: more than any disk a Ganeti instance has; a larger size a target
reports (or an answers file gives) is a lie or a typo, not a disk."""

_DEVICE_PATH = re.compile(r"/dev/[A-Za-z0-9][A-Za-z0-9_.:+/-]*\Z")


def disk_size_problem(size: object) -> str | None:
    """Why ``size`` is not a disk's size in bytes (an integer from 1 to
    :data:`DISK_SIZE_MAX`); None when it is one."""
    if isinstance(size, bool) or not isinstance(size, int):
        return f"a size must be an integer number of bytes, not {type(size).__name__}"
    if size < 1:
        return f"a size of {size} bytes is not a disk"
    if size > DISK_SIZE_MAX:
        return f"a size of {size} bytes is more than 2^50 (1 PiB)"
    return None


def device_path_problem(path: str) -> str | None:
    """Why ``path`` is not a block device's path as p2v writes it into
    commands and configuration (``/dev/`` then letters, digits and
    ``_.:+/-``, no ``..``); None when it is one."""
    bad = control_character(path)
    if bad:
        return f"device path with {bad}"
    if len(path) > 255:
        return f"device path of {len(path)} characters (at most 255)"
    if not _DEVICE_PATH.match(path) or "/../" in path + "/" or "//" in path:
        return f"{path!r} is not a device path (/dev/ then letters, digits and _.:+/- only)"
    return None


def text_problem(text: str, limit: int = 4096) -> str | None:
    """Why ``text`` cannot be a one-line value (a control character, or
    more than ``limit`` characters); None when it can."""
    bad = control_character(text)
    if bad:
        return f"text with {bad}"
    if len(text) > limit:
        return f"text of {len(text)} characters (at most {limit})"
    return None


def printable(text: str, *, lines: bool = False) -> str:
    """``text`` safe to show on a terminal, a screen or in a file a person
    cats: every control character (escape sequences, carriage returns, bidi
    overrides, bytes that were not UTF-8) is replaced by a visible escape
    such as ``\\x1b`` or ``\\u202e``. With ``lines`` newlines and tabs stay
    (a message or a diff of several lines); otherwise they are escaped too
    (a file name, an instance name)."""
    if control_character(text) is None:
        return text
    out = []
    for ch in text:
        if (lines and ch in "\n\t") or control_character(ch) is None:
            out.append(ch)
        elif "\udc80" <= ch <= "\udcff":
            out.append(f"\\x{ord(ch) - 0xDC00:02x}")  # a byte that was not UTF-8
        elif ord(ch) < 0x100:
            out.append(f"\\x{ord(ch):02x}")
        else:
            out.append(f"\\u{ord(ch):04x}" if ord(ch) < 0x10000 else f"\\U{ord(ch):08x}")
    return "".join(out)


QUOTE = 40
"""Characters of an outside value a message shows at most."""


def quoted(value: object, limit: int = QUOTE) -> str:
    """``value`` for a message: its repr (control characters escaped), a
    long text cut to ``limit`` characters with its length said (a hostile
    file or target may send megabytes)."""
    if isinstance(value, str) and len(value) > limit:
        return f"{value[:limit]!r}... ({len(value)} characters)"
    text = repr(value)
    return text if len(text) <= limit + 2 else text[:limit] + "..."
