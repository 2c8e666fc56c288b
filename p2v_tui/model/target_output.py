"""What the target's commands answer, parsed strictly.

The bootstrap OS is reached over the network and answers whatever it
answers: a broken or hostile one may print garbage, two lines where one is
due, megabytes, escape sequences or a document nested a million deep. Each
parser here takes the text and returns plain data, or raises
:class:`MalformedOutput` with one line saying what was wrong (quoting at
most :data:`QUOTE` characters of the answer); the engine names the command
in front of it. Nothing here raises anything else on any input.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from .validate import control_character, disk_size_problem, quoted

"""Characters of a malformed answer quoted in the message."""

JSON_DEPTH = 32
"""Nesting a JSON document from the target may have: instance.json needs 3,
``sfdisk --json`` 3; Python's parser recurses and fails at about 1000."""

_SECTOR_SIZES = frozenset(2**n for n in range(9, 17))  # 512 B .. 64 KiB


class MalformedOutput(ValueError):
    """A command on the target answered something it never prints."""


def parse_count(text: str, what: str) -> int:
    """One line holding one decimal integer (``blockdev`` prints that)."""
    line = text[:-1] if text.endswith("\n") else text
    if not re.fullmatch(r"[0-9]{1,20}", line):
        raise MalformedOutput(f"expected one line with {what}, got {quoted(text)}")
    return int(line)


def parse_disk_size(text: str) -> int:
    """``blockdev --getsize64``: bytes, 1 to 2^50."""
    size = parse_count(text, "a size in bytes")
    problem = disk_size_problem(size)
    if problem:
        raise MalformedOutput(problem)
    return size


def parse_sector_size(text: str) -> int:
    """``blockdev --getss``: a power of two from 512 to 65536."""
    size = parse_count(text, "a sector size in bytes")
    if size not in _SECTOR_SIZES:
        raise MalformedOutput(f"a sector size of {size} bytes is not one a disk has")
    return size


def load_json(text: str | bytes, depth: int = JSON_DEPTH) -> Any:
    """A JSON document nested at most ``depth`` deep, without duplicate
    keys, NaN or Infinity; anything else is :class:`MalformedOutput`."""
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError as e:
            raise MalformedOutput(f"not UTF-8 (byte {e.start})") from None
    # brackets outside strings: each string is skipped whole, escapes and
    # all; one left open runs to the end (so the scan stays linear)
    level = 0
    for m in re.finditer(r'"(?:[^"\\]+|\\.)*"?|[\[\]{}]', text, re.DOTALL):
        token = m.group()
        if token in ("[", "{"):
            level += 1
            if level > depth:
                raise MalformedOutput(f"JSON nested more than {depth} deep")
        elif token in ("]", "}"):
            level -= 1

    def refuse_constant(name: str) -> None:
        raise MalformedOutput(f"JSON with {name}")

    def unique(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key, value in pairs:
            if key in out:
                raise MalformedOutput(f"JSON with the key {quoted(key)} twice")
            out[key] = value
        return out

    try:
        return json.loads(text, parse_constant=refuse_constant, object_pairs_hook=unique)
    except MalformedOutput:
        raise
    except (ValueError, RecursionError) as e:
        # ValueError: not JSON, or an integer of more than 4300 digits
        raise MalformedOutput(f"not JSON ({str(e).splitlines()[0][:80]})") from None


@dataclass(frozen=True)
class PartitionTable:
    """``sfdisk --json``: the table's type and partitions in bytes."""

    label: str
    """``msdos``, ``gpt``, another type as sfdisk names it, or ``""`` (none)."""
    partitions: dict[str, tuple[int, int]]
    """device -> (start, size) in bytes."""


_LABELS = {"dos": "msdos", "gpt": "gpt"}


def _table_int(value: object, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 2**50:
        raise MalformedOutput(f"{what} is {quoted(repr(value))}, not a number of sectors")
    return value


def parse_sfdisk_json(text: str) -> PartitionTable:
    """``sfdisk --json DISK``; no output at all is a disk without a table
    (sfdisk prints nothing there)."""
    if not text.strip():
        return PartitionTable("", {})
    doc = load_json(text)
    table = doc.get("partitiontable") if isinstance(doc, dict) else None
    if not isinstance(table, dict):
        raise MalformedOutput("no 'partitiontable' object")
    label = table.get("label", "")
    if not isinstance(label, str) or control_character(label) or len(label) > 16:
        raise MalformedOutput(f"the table type is {quoted(repr(label))}")
    sector = table.get("sectorsize", 512)
    if sector not in _SECTOR_SIZES or isinstance(sector, bool):
        raise MalformedOutput(f"sectorsize {quoted(repr(sector))}")
    entries = table.get("partitions", [])
    if not isinstance(entries, list):
        raise MalformedOutput("'partitions' is not a list")
    parts: dict[str, tuple[int, int]] = {}
    for i, p in enumerate(entries):
        node = p.get("node") if isinstance(p, dict) else None
        if not isinstance(node, str) or control_character(node) or node in parts:
            raise MalformedOutput(f"partition {i} has no node of its own")
        start = _table_int(p.get("start"), f"the start of {node}")
        size = _table_int(p.get("size"), f"the size of {node}")
        parts[node] = (start * sector, size * sector)
    return PartitionTable(_LABELS.get(label, label), parts)


_TAG = re.compile(r"[A-Z][A-Z0-9_]{0,63}\Z")
_ID = re.compile(r"[0-9A-Za-z][0-9A-Za-z-]{0,63}\Z")
"""UUIDs and PARTUUIDs blkid prints: hex with hyphens (``ABCD-1234`` for
FAT, 36 characters for most), nothing a path or an fstab line could trip on."""


def parse_blkid_export(text: str) -> dict[str, str]:
    """``blkid -p -o export DEVICE``: ``KEY=value`` lines. blkid escapes
    blanks, quotes and shell characters with a backslash and prints no
    control characters (``^[``), so any is a lie; UUIDs must look like
    UUIDs. No output (nothing found) is no tags."""
    tags: dict[str, str] = {}
    for line in text.splitlines():
        if not line:
            continue
        key, sep, raw = line.partition("=")
        if not sep or not _TAG.match(key) or key in tags:
            raise MalformedOutput(f"expected KEY=value lines, got {quoted(line)}")
        value = re.sub(r"\\(.)", r"\1", raw)
        if control_character(value) or len(value) > 4096:
            raise MalformedOutput(f"{key} is {quoted(value)}")
        if key in ("UUID", "UUID_SUB", "PART_ENTRY_UUID", "PTUUID") and not _ID.match(value):
            raise MalformedOutput(f"{key} {quoted(value)} is not a UUID")
        tags[key] = value
    return tags


def parse_stat_devices(text: str, devices: Sequence[str]) -> dict[str, tuple[int, int]]:
    """``stat -L --format='%n %t %T' DEVICE...``: each asked device once,
    with its major and minor number (hex; at most 12 and 20 bits)."""
    numbers: dict[str, tuple[int, int]] = {}
    for line in text.splitlines():
        m = re.fullmatch(r"(.+) ([0-9a-f]{1,3}) ([0-9a-f]{1,5})", line)
        if m is None:
            raise MalformedOutput(f"expected 'DEVICE MAJOR MINOR' lines, got {quoted(line)}")
        path = m.group(1)
        if path not in devices or path in numbers:
            raise MalformedOutput(f"a line for {quoted(path)}, which was not asked (or twice)")
        numbers[path] = (int(m.group(2), 16), int(m.group(3), 16))
    missing = [d for d in devices if d not in numbers]
    if missing:
        raise MalformedOutput(f"no line for {', '.join(missing)}")
    return numbers


_STAT_TIME = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(\.\d{1,9})? [+-]\d{4}\Z")


def parse_stat_times(text: str, paths: Sequence[str]) -> dict[str, tuple[str, str]]:
    """``stat --format='%x<TAB>%y<TAB>%n' PATH...``: access and modification
    time of each asked path, as ``touch -d`` takes them back."""
    times: dict[str, tuple[str, str]] = {}
    for line in text.splitlines():
        fields = line.split("\t", 2)
        if len(fields) != 3 or not all(_STAT_TIME.match(t) for t in fields[:2]):
            raise MalformedOutput(f"expected 'ATIME<TAB>MTIME<TAB>PATH' lines, got {quoted(line)}")
        atime, mtime, path = fields
        if path not in paths or path in times:
            raise MalformedOutput(f"a line for {quoted(path)}, which was not asked (or twice)")
        times[path] = (atime, mtime)
    missing = [p for p in paths if p not in times]
    if missing:
        raise MalformedOutput(f"no line for {', '.join(missing)}")
    return times


def parse_missing_tools(text: str, names: Sequence[str]) -> list[str]:
    """The names a ``command -v`` loop printed as missing: each one asked."""
    said = text.split()
    unknown = [w for w in said if w not in names]
    if unknown:
        raise MalformedOutput(f"{quoted(unknown[0])} is not a tool that was asked about")
    return [n for n in names if n in said]
