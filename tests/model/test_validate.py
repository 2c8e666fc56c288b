"""The one set of value checks (model/validate.py), table-driven."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from p2v_tui.model.validate import (
    DISK_SIZE_MAX,
    clean_hostname,
    control_character,
    device_path_problem,
    disk_size_problem,
    hostname_problem,
    parse_dns_list,
    parse_gateway,
    parse_interface_address,
    parse_ip,
    printable,
    typed_address_problem,
    typed_dns_problem,
    typed_gateway_problem,
    typed_hostname_problem,
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


@pytest.mark.parametrize(
    "path", ["/dev/vda", "/dev/vda1", "/dev/mmcblk0p2", "/dev/mapper/vg-root", "/dev/xvdaa"]
)
def test_device_path_good(path: str) -> None:
    assert device_path_problem(path) is None


@pytest.mark.parametrize(
    ("path", "says"),
    [
        ("", "not a device path"),
        ("vda", "not a device path"),
        ("/dev/", "not a device path"),
        ("/dev/vda;reboot", "not a device path"),
        ("/dev/vda b", "not a device path"),
        ("/dev/$(reboot)", "not a device path"),
        ("/dev/../etc/shadow", "not a device path"),
        ("/dev/a//b", "not a device path"),
        ("/dev/vda\n", "newline"),
        ("/dev/vda\x1b[2J", "U+001B"),
        ("/dev/" + "a" * 300, "at most 255"),
    ],
)
def test_device_path_bad(path: str, says: str) -> None:
    assert says in (device_path_problem(path) or "")


@pytest.mark.parametrize(
    ("size", "says"),
    [
        (1, None),
        (DISK_SIZE_MAX, None),
        (0, "0 bytes is not a disk"),
        (-512, "-512 bytes"),
        (DISK_SIZE_MAX + 1, "more than 2^50"),
        (True, "integer number of bytes, not bool"),
        (10.0, "not float"),
        ("10G", "not str"),
    ],
)
def test_disk_size(size: object, says: str | None) -> None:
    problem = disk_size_problem(size)
    assert problem == says if says is None else says in (problem or "")


@pytest.mark.parametrize(
    ("text", "one_line", "several_lines"),
    [
        ("web01.example.org", "web01.example.org", "web01.example.org"),
        ("naïve café", "naïve café", "naïve café"),
        ("web\x1b[2J\x1b]0;owned\x07", "web\\x1b[2J\\x1b]0;owned\\x07", "web\\x1b[2J\\x1b]0;owned\\x07"),
        ("a\nb\tc", "a\\x0ab\\x09c", "a\nb\tc"),
        ("100%\rdone", "100%\\x0ddone", "100%\\x0ddone"),
        ("evil\u202etxt.exe", "evil\\u202etxt.exe", "evil\\u202etxt.exe"),
        ("caf\udce9", "caf\\xe9", "caf\\xe9"),  # a byte that was not UTF-8 (surrogateescape)
        ("\x7f", "\\x7f", "\\x7f"),
    ],
)
def test_printable(text: str, one_line: str, several_lines: str) -> None:
    assert printable(text) == one_line
    assert printable(text, lines=True) == several_lines
    assert control_character(printable(text)) is None
    printable(text).encode("utf-8")  # a stream can write it


# --- what a person types in a form field --------------------------------------------------------


@pytest.mark.parametrize(
    ("check", "text", "error"),
    [
        (typed_hostname_problem, "web01.example.org", None),
        (typed_hostname_problem, "web01", None),
        (typed_hostname_problem, "", "a host name is needed"),
        (typed_hostname_problem, "-web", "letters, digits and '-' between dots, e.g. web01.example.org"),
        (typed_address_problem, "192.0.2.10/24", None),
        (typed_address_problem, "2001:db8::10/64", None),
        (typed_address_problem, "192.0.2.10", "with the prefix length, e.g. 192.0.2.10/24"),
        (typed_address_problem, "192.0.2.300/24", "not an IPv4/IPv6 address with prefix, e.g. 192.0.2.10/24"),
        (typed_dns_problem, "192.0.2.53 192.0.2.54", None),
        (typed_dns_problem, "ns1", "DNS server 'ns1' is not an IP address (separate servers with commas)"),
    ],
)
def test_settings_are_checked(check: Callable[[str], str | None], text: str, error: str | None) -> None:
    assert check(text) == error


def test_a_typed_gateway_may_be_empty_and_a_host_name_may_end_in_a_dot() -> None:
    assert typed_gateway_problem("  ") is None
    assert typed_gateway_problem("gw") == "gateway 'gw' is not an IP address"
    assert clean_hostname(" web01.example.org. ") == "web01.example.org"
    assert typed_hostname_problem("web01.example.org.") is None


@pytest.mark.parametrize(
    ("text", "servers"),
    [
        ("192.0.2.53, 2001:db8::53", ("192.0.2.53", "2001:db8::53")),
        (" 192.0.2.53  192.0.2.54,,", ("192.0.2.53", "192.0.2.54")),
        ("", ()),
    ],
)
def test_parse_dns_list(text: str, servers: tuple[str, ...]) -> None:
    assert parse_dns_list(text) == servers
