"""The one set of value checks (model/validate.py), table-driven."""

from __future__ import annotations

import pytest

from p2v_tui.model.validate import (
    control_character,
    hostname_problem,
    parse_gateway,
    parse_interface_address,
    parse_ip,
)


@pytest.mark.parametrize(
    ("text", "found"),
    [
        ("plain text", None),
        ("naïve café", None),
        ("a\nb", "a newline"),
        ("a\rb", "a carriage return"),
        ("a\tb", "the control character U+0009"),
        ("\x1b[31mred", "the control character U+001B"),
        ("zero\u200bwidth", "the control character U+200B"),
        ("line\u2028sep", "the control character U+2028"),
    ],
)
def test_control_character(text: str, found: str | None) -> None:
    assert control_character(text) == found


@pytest.mark.parametrize(
    "name",
    [
        "web01",
        "web01.example.org",
        "a",
        "x-1.y-2.example",
        "a" * 63 + ".org",
        ".".join(["a" * 63] * 3) + ".abcdefghi",
    ],
)
def test_hostname_good(name: str) -> None:
    assert hostname_problem(name) is None


@pytest.mark.parametrize(
    ("name", "says"),
    [
        ("", "needed"),
        ("web-", "letters, digits and '-' between dots"),
        ("-web", "letters, digits and '-' between dots"),
        ("web..org", "empty label"),
        ("web.", "empty label"),
        ("a" * 64, "64 characters"),
        ("a." * 127 + "ab", "256 characters"),
        ("web_01", "letters, digits"),
        ("web 01", "letters, digits"),
        ("web01\n", "newline"),
        ("10.0.0.1", "the last label is a number"),
        ("wéb", "letters, digits"),
    ],
)
def test_hostname_bad(name: str, says: str) -> None:
    problem = hostname_problem(name)
    assert problem is not None and says in problem


@pytest.mark.parametrize("text", ["198.51.100.10/24", "2001:db8::10/64", "198.51.100.7/32", "10.0.0.1/31"])
def test_interface_address_good(text: str) -> None:
    assert str(parse_interface_address(text)) == text


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("abc", "not an IPv4/IPv6 address with prefix"),
        ("198.51.100.10", "with the prefix length, e.g. 198.51.100.10/24"),
        ("999.1.1.1/24", "not an IPv4/IPv6 address"),
        ("198.51.100.10/33", "not an IPv4/IPv6 address"),
        ("198.51.100.10/0", "prefix length of 0"),
        ("198.51.100.0/24", "network's own"),
        ("198.51.100.255/24", "broadcast"),
        ("127.0.0.1/8", "loopback"),
        ("224.0.0.1/24", "multicast"),
        ("198.51.100.10/24\nup reboot", "newline"),
        (" 198.51.100.10/24", "not an IPv4/IPv6 address"),
    ],
)
def test_interface_address_bad(text: str, says: str) -> None:
    with pytest.raises(ValueError, match=says):
        parse_interface_address(text)


def test_ip_and_gateway() -> None:
    addr = parse_interface_address("198.51.100.10/24")
    assert str(parse_gateway("198.51.100.1", addr)) == "198.51.100.1"
    assert str(parse_gateway("203.0.113.1", addr)) == "203.0.113.1"  # on-link outside the subnet
    for bad, says in [
        ("198.51.100.1\npre-up reboot", "newline"),
        ("2001:db8::1", "IPv6, the address IPv4"),
        ("198.51.100.10", "the address itself"),
        ("0.0.0.0", "unspecified"),
        ("gw", "is not an IP address"),
        ("198.51.100.1/24", "is not an IP address"),
    ]:
        with pytest.raises(ValueError, match=says):
            parse_gateway(bad, addr)
    assert str(parse_ip("2001:db8::53", "dns")) == "2001:db8::53"
    with pytest.raises(ValueError, match="dns"):
        parse_ip("9.9.9.9 ; reboot", "dns")
