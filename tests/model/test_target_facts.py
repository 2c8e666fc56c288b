"""instance.json (and the answers' instance section) checked field by field:
what the OS definition writes is accepted; every other value is a
FactsError naming the key, in one line."""

from __future__ import annotations

import copy
import json
from importlib import resources
from typing import Any

import pytest

from p2v_tui.model.answers import answers_from_doc
from p2v_tui.model.target import FactsError, facts_from_json, facts_to_json


def demo_doc() -> dict[str, Any]:
    text = resources.files("p2v_tui").joinpath("data/demo/instance.json").read_text()
    doc: dict[str, Any] = json.loads(text)
    return doc


def with_change(path: str, value: Any) -> dict[str, Any]:
    """The demo's instance.json with ``path`` (``nics.0.ip``) set."""
    doc = copy.deepcopy(demo_doc())
    *parents, last = path.split(".")
    node: Any = doc
    for key in parents:
        node = node[int(key)] if key.isdigit() else node[key]
    node[int(last) if last.isdigit() else last] = value
    return doc


def test_the_demo_facts_round_trip() -> None:
    facts = facts_from_json(demo_doc())
    assert facts.name == "web01.example.org"
    assert facts_from_json(facts_to_json(facts)) == facts


@pytest.mark.parametrize(
    ("path", "value"),
    [
        ("disks.0.path", ""),  # a disk the bootstrap OS does not see (README)
        ("disks.0.path", "/dev/mmcblk0"),
        ("disks.0.size", 2**50),
        ("nics.0.ip", None),
        ("nics.0.ip", "2001:db8::10"),
        ("nics.0.mode", "openvswitch"),
        ("nics.0.network", "lab-net"),
        ("kernel_path", "/boot/vmlinuz-6.1.0-18-amd64"),
        ("name", "web01"),
        ("hypervisor", "chroot"),  # unknown, not refused
    ],
)
def test_good_values(path: str, value: Any) -> None:
    facts_from_json(with_change(path, value))


@pytest.mark.parametrize(
    ("path", "value", "says"),
    [
        ("name", "web01\x1b[2J\x1b]0;owned\x07", "name: text with the control character U+001B"),
        ("name", "web01;reboot", "name: 'web01;reboot' is not a host name: letters, digits"),
        ("name", "web01|sh", "name: 'web01|sh' is not a host name"),
        ("name", "$(reboot)", "name: '$(reboot)' is not a host name"),
        ("name", "web01.example.org.", "name: 'web01.example.org.' is not a host name: an empty label"),
        ("name", "a" * 300, f"name: {'a' * 40!r}... (300 characters) is not a host name: 300"),
        ("name", 7, "name: expected str, got int"),
        ("name", ["web01"], "name: expected str, got list"),
        ("version", 2, "version: unsupported"),
        ("version", "1", "version: expected int"),
        ("serial_console", "yes", "serial_console: expected bool"),
        ("root_path", "/dev/vda1;reboot", "root_path: '/dev/vda1;reboot' is not a device path"),
        ("root_path", "vda1", "root_path: 'vda1' is not a device path"),
        ("kernel_path", "vmlinuz", "kernel_path: 'vmlinuz' is not an absolute path"),
        ("kernel_args", "ro\nquiet", "kernel_args: text with a newline"),
        ("kernel_args", "x" * 5000, "kernel_args: text of 5000 characters"),
        ("os_variant", "de fault", "os_variant: 'de fault' is not a name"),
        ("disks", {"path": "/dev/vda"}, "disks: expected list, got dict"),
        ("disks", [[]], "disks[0]: expected an object"),
        ("disks", [{"path": "/dev/vda", "size": 1}] * 65, "disks: 65 entries (at most 64)"),
        ("disks.0.path", "/dev/vda\x1b[2J", "disks[0].path: text with the control character U+001B"),
        ("disks.0.path", "/dev/vda b", "disks[0].path: '/dev/vda b' is not a device path"),
        ("disks.0.path", "/etc/shadow", "disks[0].path: '/etc/shadow' is not a device path"),
        ("disks.0.size", 0, "disks[0].size: a size of 0 bytes is not a disk"),
        ("disks.0.size", -1, "disks[0].size: a size of -1 bytes"),
        ("disks.0.size", 2**50 + 1, "disks[0].size: a size of 1125899906842625 bytes is more than 2^50"),
        ("disks.0.size", 10.5, "disks[0].size: expected int, got float"),
        ("disks.0.size", "10G", "disks[0].size: expected int, got str"),
        ("disks.0.size", True, "disks[0].size: expected an integer"),
        ("disks.0.index", -1, "disks[0].index: -1 is not a new index"),
        ("disks.0.index", 10**9, "disks[0].index: 1000000000 is not a new index"),
        ("nics.0.mac", "aa:00:00:4f:1e", "nics[0].mac: not a MAC address"),
        ("nics.0.mac", "aa:00:00:4f:1e:02\n", "nics[0].mac: text with a newline"),
        ("nics.0.ip", "192.0.2.10; reboot", "nics[0].ip: address '192.0.2.10; reboot' is not an IP address"),
        ("nics.0.ip", "192.0.2.0/24", "nics[0].ip: address '192.0.2.0/24' is not an IP address"),
        ("nics.0.ip", 3232235530, "nics[0].ip: expected str, got int"),
        ("nics.0.mode", "bridge", "nics[0].mode: 'bridge' is not one of bridged, routed, openvswitch"),
        ("nics.0.link", "br0 br1", "nics[0].link: 'br0 br1' is not a name"),
        ("nics.0.network", "\u202enet", "nics[0].network: text with the control character U+202E"),
    ],
)
def test_bad_values(path: str, value: Any, says: str) -> None:
    with pytest.raises(FactsError) as info:
        facts_from_json(with_change(path, value))
    message = str(info.value)
    assert message.startswith(says), message
    assert "\n" not in message and "\x1b" not in message


def test_two_disks_with_one_path_or_index_are_refused() -> None:
    disk = {"index": 0, "path": "/dev/vda", "size": 2**30}
    with pytest.raises(FactsError, match=r"disks\[1\].path: /dev/vda is listed twice"):
        facts_from_json(with_change("disks", [disk, {**disk, "index": 1}]))
    with pytest.raises(FactsError, match=r"disks\[1\].index: 0 is not a new index"):
        facts_from_json(with_change("disks", [disk, {**disk, "path": "/dev/vdb"}]))


def test_the_answers_instance_section_is_checked_the_same() -> None:
    doc = {"target": {"host": "192.0.2.10"}, "instance": {"name": "web01;reboot", "disks": []}}
    with pytest.raises(ValueError, match=r"^instance\.name: 'web01;reboot' is not a host name"):
        answers_from_doc(doc)
