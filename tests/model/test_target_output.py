"""What the target answers, parsed strictly (model/target_output.py): the
recorded output of the real tools parses; garbage, two lines, megabytes,
escape sequences and deep nesting are MalformedOutput with one line, never
another exception."""

from __future__ import annotations

import contextlib
import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from p2v_tui.model.target_output import (
    MalformedOutput,
    PartitionTable,
    load_json,
    parse_blkid_export,
    parse_disk_size,
    parse_missing_tools,
    parse_sector_size,
    parse_sfdisk_json,
    parse_stat_devices,
    parse_stat_times,
)

DATA = Path(__file__).parent.parent / "data" / "target"

MEGABYTES = "9" * 3_000_000


def recorded(name: str) -> str:
    return (DATA / name).read_text()


def refused(parse: object, text: str) -> str:
    """The one-line message ``parse`` refuses ``text`` with."""
    with pytest.raises(MalformedOutput) as info:
        parse(text)  # type: ignore[operator]
    message = str(info.value)
    assert "\n" not in message and len(message) < 200, message
    return message


# -- blockdev --------------------------------------------------------------------


@pytest.mark.parametrize(("text", "size"), [("67108864\n", 67108864), ("1\n", 1), (f"{2**50}\n", 2**50)])
def test_disk_size(text: str, size: int) -> None:
    assert parse_disk_size(text) == size


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("", "expected one line with a size in bytes, got ''"),
        ("garbage\n", "got 'garbage\\n'"),
        ("10737418240\n10737418240\n", "got '10737418240\\n10737418240\\n'"),
        (" 1024\n", "got ' 1024\\n'"),
        ("-1024\n", "got '-1024\\n'"),
        ("1e9\n", "got '1e9\\n'"),
        ("0\n", "a size of 0 bytes is not a disk"),
        (f"{2**50 + 1}\n", "more than 2^50 (1 PiB)"),
        ("9" * 30 + "\n", "got '999999"),
        ("\x1b[2J1024\n", "got '\\x1b[2J1024\\n'"),
        (MEGABYTES, "(3000000 characters)"),
    ],
)
def test_disk_size_refused(text: str, says: str) -> None:
    assert says in refused(parse_disk_size, text)


@pytest.mark.parametrize(("text", "size"), [("512\n", 512), ("4096\n", 4096)])
def test_sector_size(text: str, size: int) -> None:
    assert parse_sector_size(text) == size


@pytest.mark.parametrize(
    ("text", "says"), [("0\n", "0 bytes"), ("513\n", "513 bytes"), ("512\n512\n", "one line")]
)
def test_sector_size_refused(text: str, says: str) -> None:
    assert says in refused(parse_sector_size, text)


# -- JSON --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("[" * 100_000 + "]" * 100_000, "nested more than 32 deep"),
        ('{"a":' * 5000 + "1" + "}" * 5000, "nested more than 32 deep"),
        ("[" * 100_000, "nested more than 32 deep"),
        ('{"name": "a", "name": "b"}', "the key 'name' twice"),
        ('{"size": NaN}', "JSON with NaN"),
        ('{"size": -Infinity}', "JSON with -Infinity"),
        ("{", "not JSON"),
        ('{"name": "web01"} trailing', "not JSON"),
        ('{"size": ' + "9" * 5000 + "}", "not JSON"),
        ('"\\"' * 100_000, "not JSON"),  # an open string, quotes escaped: scanned once
    ],
)
def test_json_refused(text: str, says: str) -> None:
    assert says in refused(load_json, text)


def test_json_brackets_inside_strings_are_not_nesting() -> None:
    doc = {"name": "[" * 1000 + "{" * 1000, "kernel_args": 'a\\"[[[["'}
    assert load_json(json.dumps(doc)) == doc


def test_json_bytes_must_be_utf8() -> None:
    assert load_json(b'{"a": "caf\xc3\xa9"}') == {"a": "café"}
    with pytest.raises(MalformedOutput, match="not UTF-8"):
        load_json(b'{"a": "\xff"}')


@given(st.text(alphabet='[]{}",:-0123456789.eE \\ntrufalsNIaiy', max_size=300))
def test_json_any_text_is_a_value_or_malformed(text: str) -> None:
    with contextlib.suppress(MalformedOutput):
        load_json(text)


# -- sfdisk --json ------------------------------------------------------------------


def test_sfdisk_json_recorded() -> None:
    table = parse_sfdisk_json(recorded("sfdisk-gpt.json"))
    assert table == PartitionTable(
        "gpt",
        {
            "/dev/loop0p1": (2048 * 512, 16384 * 512),
            "/dev/loop0p2": (18432 * 512, 49152 * 512),
            "/dev/loop0p3": (67584 * 512, 61440 * 512),
        },
    )


def test_sfdisk_json_dos_and_no_table() -> None:
    dos = {"partitiontable": {"label": "dos", "id": "0x5e1a", "device": "/dev/vda", "unit": "sectors",
                              "partitions": [{"node": "/dev/vda1", "start": 2048, "size": 4096, "type": "83",
                                              "bootable": True}]}}  # fmt: skip
    assert parse_sfdisk_json(json.dumps(dos)) == PartitionTable(
        "msdos", {"/dev/vda1": (2048 * 512, 4096 * 512)}
    )
    # a disk without a table: sfdisk prints nothing (and exits 1)
    assert parse_sfdisk_json("") == PartitionTable("", {})


def _table(**changes: object) -> str:
    doc = json.loads(recorded("sfdisk-gpt.json"))
    doc["partitiontable"].update(changes)
    return json.dumps(doc)


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("garbage", "not JSON"),
        ("[]", "no 'partitiontable' object"),
        ('{"partitiontable": []}', "no 'partitiontable' object"),
        ("[" * 5000, "nested"),
        (_table(label=7), "the table type is '7'"),
        (_table(label="gpt\x1b[2J"), "the table type"),
        (_table(sectorsize="512"), "sectorsize"),
        (_table(sectorsize=3), "sectorsize"),
        (_table(partitions={"node": "/dev/loop0p1"}), "'partitions' is not a list"),
        (_table(partitions=["/dev/loop0p1"]), "partition 0 has no node"),
        (_table(partitions=[{"start": 1, "size": 1}]), "partition 0 has no node"),
        (_table(partitions=[{"node": "/dev/a", "start": 1, "size": 1}] * 2), "partition 1 has no node"),
        (_table(partitions=[{"node": "/dev/a", "start": "2048", "size": 1}]), "the start of /dev/a"),
        (_table(partitions=[{"node": "/dev/a", "start": 2048, "size": -1}]), "the size of /dev/a"),
        (_table(partitions=[{"node": "/dev/a", "start": 2048, "size": 2**60}]), "the size of /dev/a"),
        (_table(partitions=[{"node": "/dev/a", "start": True, "size": 1}]), "the start of /dev/a"),
    ],
)
def test_sfdisk_json_refused(text: str, says: str) -> None:
    assert says in refused(parse_sfdisk_json, text)


# -- blkid -p -o export --------------------------------------------------------------


def test_blkid_recorded() -> None:
    ext4 = parse_blkid_export(recorded("blkid-ext4.txt"))
    assert ext4["TYPE"] == "ext4"
    assert ext4["UUID"] == "5f1c0f9e-3b7a-4c1e-9d2a-1a2b3c4d5e6f"
    assert ext4["LABEL"] == "my root"  # blkid wrote my\ root
    assert ext4["PART_ENTRY_UUID"] == "281dbe9e-5774-4f42-a162-ebe03455440f"
    vfat = parse_blkid_export(recorded("blkid-vfat.txt"))
    assert (vfat["UUID"], vfat["LABEL"]) == ("ABCD-1234", "EFI$`")
    assert parse_blkid_export(recorded("blkid-swap.txt"))["TYPE"] == "swap"
    assert parse_blkid_export(recorded("blkid-disk.txt"))["PTTYPE"] == "gpt"
    assert parse_blkid_export("") == {}  # nothing found (blkid exits 2)


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("5f1c0f9e-3b7a-4c1e-9d2a-1a2b3c4d5e6f\n", "expected KEY=value lines"),
        ("TYPE=ext4\nTYPE=xfs\n", "expected KEY=value lines"),
        ("type=ext4\n", "expected KEY=value lines"),
        ("=ext4\n", "expected KEY=value lines"),
        ("UUID=$(reboot)\n", "is not a UUID"),
        ("UUID=5f1c0f9e 3b7a\n", "is not a UUID"),
        ("UUID=../../sda\n", "is not a UUID"),
        ("UUID=" + "a" * 65 + "\n", "is not a UUID"),
        ("LABEL=root\x1b]0;owned\x07\n", "LABEL is 'root\\x1b]0;owned\\x07'"),
        ("LABEL=" + "x" * 5000 + "\n", "LABEL is 'xxxx"),
        (MEGABYTES, "expected KEY=value lines"),
    ],
)
def test_blkid_refused(text: str, says: str) -> None:
    assert says in refused(parse_blkid_export, text)


# -- stat ----------------------------------------------------------------------------


def test_stat_devices_recorded() -> None:
    devices = ["/dev/loop0", "/dev/loop0p1", "/dev/loop0p2"]
    assert parse_stat_devices(recorded("stat-devices.txt"), devices) == {
        "/dev/loop0": (7, 0),
        "/dev/loop0p1": (259, 0),
        "/dev/loop0p2": (259, 1),
    }


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("", "no line for /dev/vda, /dev/vda1"),
        ("/dev/vda fd 0\n", "no line for /dev/vda1"),
        ("/dev/vda fd 0\n/dev/vda1 fd 1\n/dev/vda1 fd 1\n", "which was not asked (or twice)"),
        ("/dev/vda fd 0\n/dev/sda 8 0\n", "a line for '/dev/sda', which was not asked"),
        ("/dev/vda fd\n", "expected 'DEVICE MAJOR MINOR' lines"),
        ("/dev/vda 1000 0\n", "expected 'DEVICE MAJOR MINOR' lines"),
        ("/dev/vda fd zz\n", "expected 'DEVICE MAJOR MINOR' lines"),
        ("/dev/vda;reboot fd 0\n", "'/dev/vda;reboot', which was not asked"),
        (MEGABYTES, "expected 'DEVICE MAJOR MINOR' lines"),
    ],
)
def test_stat_devices_refused(text: str, says: str) -> None:
    assert says in refused(lambda t: parse_stat_devices(t, ["/dev/vda", "/dev/vda1"]), text)


def test_stat_times_recorded() -> None:
    times = parse_stat_times(recorded("stat-times.txt"), ["/target/etc", "/target"])
    assert times["/target"] == ("2026-12-07 08:08:15.206460286 +0000", "2026-12-07 08:25:36.198499689 +0000")


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("", "no line for /target/etc"),
        ("/target/etc\n", "expected 'ATIME<TAB>MTIME<TAB>PATH' lines"),
        ("yesterday\ttoday\t/target/etc\n", "expected 'ATIME<TAB>MTIME<TAB>PATH' lines"),
        (
            "2026-12-07 08:08:15.2 +0000\t2026-12-07 08:08:15 +0000\t/etc\n",
            "a line for '/etc', which was not asked",
        ),
    ],
)
def test_stat_times_refused(text: str, says: str) -> None:
    assert says in refused(lambda t: parse_stat_times(t, ["/target/etc"]), text)


def test_missing_tools() -> None:
    assert parse_missing_tools("rsync\nmkfs.xfs\n", ["mkfs.xfs", "rsync", "sfdisk"]) == ["mkfs.xfs", "rsync"]
    assert parse_missing_tools("", ["rsync"]) == []
    assert "'\\x1b[2J' is not a tool" in refused(lambda t: parse_missing_tools(t, ["rsync"]), "\x1b[2J")
