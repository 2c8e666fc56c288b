"""Parsers for the output of the tools the source probe runs.

Each takes the text a tool printed (``LC_ALL=C``) and returns plain data, so
tests feed them recorded output and need no binaries or root.
"""

from __future__ import annotations

import json
import re
import shlex
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .fstab_syntax import unescape
from .machine import LogicalVolume, MdArray, VolumeGroup

# --- blkid ------------------------------------------------------------------

_BLKID_ESCAPE = re.compile(r"\\(.)")


def parse_blkid_export(text: str) -> dict[str, str]:
    """``blkid -p -o export DEV``: ``KEY=value`` lines, specials backslash-escaped.

    Only the first device's block is read (blank lines separate devices).
    """
    values: dict[str, str] = {}
    for line in text.split("\n"):  # not splitlines(): labels may hold U+2028 and kin
        if not line.strip(" \t"):
            if values:
                break
            continue
        key, sep, value = line.partition("=")
        if sep:
            values[key.strip()] = _BLKID_ESCAPE.sub(r"\1", value)
    return values


def partition_type_id(part_entry_type: str) -> str:
    """blkid's PART_ENTRY_TYPE as the model stores it: GPT GUIDs upper case,
    MBR types as two hex digits (``0x83`` -> ``83``, ``0x5`` -> ``05``)."""
    value = part_entry_type.strip()
    if value.lower().startswith("0x"):
        return f"{int(value, 16):02X}"
    return value.upper()


# --- ext2/3/4 ---------------------------------------------------------------


TRANSIENT_EXT_FEATURES = frozenset({"needs_recovery", "orphan_present"})
"""ext feature flags that describe a state, not a creation choice."""


@dataclass(frozen=True)
class ExtInfo:
    features: tuple[str, ...]
    state: str
    """``clean``, ``not clean``, ``clean with errors`` ..."""
    block_size: int
    block_count: int
    label: str = ""
    uuid: str = ""

    @property
    def size(self) -> int:
        return self.block_size * self.block_count

    @property
    def creation_features(self) -> tuple[str, ...]:
        """The features to create a copy with (not those that describe a state)."""
        return tuple(f for f in self.features if f not in TRANSIENT_EXT_FEATURES)

    @property
    def cleanly_unmounted(self) -> bool:
        """``needs_recovery`` means the journal holds transactions that a
        read-only ``noload`` mount will not replay."""
        return self.state == "clean" and "needs_recovery" not in self.features


def _colon_fields(text: str) -> dict[str, str]:
    fields: dict[str, str] = {}
    for line in text.splitlines():
        key, sep, value = line.partition(":")
        if sep and key.strip() and key.strip() not in fields:
            fields[key.strip()] = value.strip()
    return fields


def parse_dumpe2fs_header(text: str) -> ExtInfo:
    """``dumpe2fs -h DEV``: the superblock as ``Name:   value`` lines."""
    fields = _colon_fields(text)
    label = fields.get("Filesystem volume name", "")
    return ExtInfo(
        features=tuple(fields.get("Filesystem features", "").split()),
        state=fields.get("Filesystem state", ""),
        block_size=int(fields.get("Block size", "0") or 0),
        block_count=int(fields.get("Block count", "0") or 0),
        label="" if label == "<none>" else label,
        uuid=fields.get("Filesystem UUID", ""),
    )


# --- xfs --------------------------------------------------------------------


@dataclass(frozen=True)
class XfsInfo:
    features: tuple[str, ...]
    """mkfs.xfs ``-m``/``-i`` settings as ``name=value``, in a fixed order."""
    block_size: int
    data_blocks: int

    @property
    def size(self) -> int:
        return self.block_size * self.data_blocks


#: meta-data settings worth reproducing, in output order; older xfsprogs
#: call sparse inodes ``spinodes``.
_XFS_FEATURES = ("crc", "finobt", "sparse", "rmapbt", "reflink", "bigtime", "inobtcount", "nrext64")
_XFS_ALIASES = {"spinodes": "sparse"}
_XFS_PAIR = re.compile(r"([A-Za-z0-9_-]+)=(\S+?)(?=[,\s]|$)")


def parse_xfs_info(text: str) -> XfsInfo:
    """``xfs_info MOUNTPOINT`` (or DEV): sections of ``key=value`` pairs."""
    sections: dict[str, dict[str, str]] = {}
    current = ""
    for line in text.splitlines():
        if not line.strip():
            continue
        rest = line
        if not line[0].isspace():  # "meta-data=/dev/sda2  isize=512 ..." opens a section
            name, _, rest = line.partition("=")
            current = name.strip()
        section = sections.setdefault(current, {})
        for key, value in _XFS_PAIR.findall(rest):
            section.setdefault(_XFS_ALIASES.get(key, key), value)
    meta = sections.get("meta-data", {})
    data = sections.get("data", {})
    return XfsInfo(
        features=tuple(f"{name}={meta[name]}" for name in _XFS_FEATURES if name in meta),
        block_size=int(data.get("bsize", "0")),
        data_blocks=int(data.get("blocks", "0")),
    )


_XFS_LOG_STATE = re.compile(r"state:\s*<(\w+)>")


def parse_xfs_log_state(text: str) -> str:
    """``xfs_logprint -t DEV``: ``clean`` or ``dirty`` from the log header
    (``log tail: 14 head: 14 state: <CLEAN>``), ``""`` when absent."""
    m = _XFS_LOG_STATE.search(text)
    return m.group(1).lower() if m else ""


# --- btrfs ------------------------------------------------------------------


@dataclass(frozen=True)
class BtrfsSubvolumeRow:
    id: int
    gen: int
    parent: int | None
    top_level: int
    path: str
    """Path from the top-level subvolume (id 5), without a leading ``/``."""


_SUBVOL_LINE = re.compile(
    r"^ID (?P<id>\d+) gen (?P<gen>\d+)(?: cgen \d+)?(?: parent (?P<parent>\d+))?"
    r" top level (?P<top>\d+)(?: parent_uuid \S+)?(?: received_uuid \S+)?(?: uuid \S+)?"
    r" path (?P<path>.*)$"
)


def parse_btrfs_subvolume_list(text: str) -> list[BtrfsSubvolumeRow]:
    """``btrfs subvolume list [-a] [-p] MNT``; ``-a`` prefixes paths that lie
    outside the mounted subvolume with ``<FS_TREE>/``."""
    rows = []
    for line in text.splitlines():
        m = _SUBVOL_LINE.match(line.strip())
        if not m:
            continue
        path = m["path"].removeprefix("<FS_TREE>/").strip("/")
        rows.append(
            BtrfsSubvolumeRow(
                id=int(m["id"]),
                gen=int(m["gen"]),
                parent=int(m["parent"]) if m["parent"] else None,
                top_level=int(m["top"]),
                path=path,
            )
        )
    return rows


def parse_btrfs_get_default(text: str) -> int:
    """``btrfs subvolume get-default MNT``: ``ID 5 (FS_TREE)`` or a list line."""
    m = re.search(r"^ID (\d+)", text.strip())
    if not m:
        raise ValueError(f"unexpected btrfs get-default output: {text.strip()!r}")
    return int(m.group(1))


# --- /proc/mounts -----------------------------------------------------------


@dataclass(frozen=True)
class MountEntry:
    source: str
    target: str
    fstype: str
    options: str


def parse_proc_mounts(text: str) -> list[MountEntry]:
    """/proc/self/mounts: fields separated by one ASCII space; the kernel
    writes space, tab, newline and backslash in paths as octal (``\\040``)
    and leaves every other character, even Unicode blanks, as it is."""
    entries = []
    for line in text.split("\n"):
        fields = [f for f in line.split(" ") if f]
        if len(fields) < 4:
            continue
        entries.append(MountEntry(unescape(fields[0]), unescape(fields[1]), fields[2], fields[3]))
    return entries


# --- os-release and other shell-variable files ------------------------------


def parse_shell_assignments(text: str) -> dict[str, str]:
    """``KEY=value`` files with shell quoting: os-release(5),
    /etc/sysconfig/network, /etc/default/grub (values only, no expansion)."""
    values: dict[str, str] = {}
    for line in text.splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        stripped = stripped.removeprefix("export ")
        key, sep, raw = stripped.partition("=")
        if not sep or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", key):
            continue
        try:
            words = shlex.split(raw, comments=True)
        except ValueError:
            words = [raw.strip().strip("'\"")]
        values[key] = " ".join(words)
    return values


# --- LVM --------------------------------------------------------------------


def parse_lvm_report(text: str, kind: str) -> list[dict[str, str]]:
    """``pvs|vgs|lvs --reportformat json``: rows of the ``pv``/``vg``/``lv`` report."""
    doc: Any = json.loads(text)
    rows: list[dict[str, str]] = []
    for report in doc.get("report", []):
        for row in report.get(kind, []):
            rows.append({str(k): str(v) for k, v in row.items()})
    return rows


def _int(text: str) -> int:
    try:
        return int(float(text))
    except ValueError:
        return 0


def volume_groups_from_reports(
    pvs: Sequence[Mapping[str, str]],
    vgs: Sequence[Mapping[str, str]],
    lvs: Sequence[Mapping[str, str]],
) -> tuple[VolumeGroup, ...]:
    """Join the three reports (sizes in bytes: ``--units b --nosuffix``)."""
    groups = []
    for vg in vgs:
        name = vg.get("vg_name", "")
        members = tuple(pv["pv_name"] for pv in pvs if pv.get("vg_name") == name and pv.get("pv_name"))
        volumes = tuple(
            LogicalVolume(
                vg=name,
                name=lv["lv_name"],
                size=_int(lv.get("lv_size", "0")),
                path=lv.get("lv_path") or f"/dev/{name}/{lv['lv_name']}",
            )
            for lv in lvs
            if lv.get("vg_name") == name and lv.get("lv_name")
        )
        groups.append(VolumeGroup(name=name, size=_int(vg.get("vg_size", "0")), pvs=members, lvs=volumes))
    return tuple(groups)


# --- md ---------------------------------------------------------------------


def _md_blocks(text: str) -> list[tuple[str, dict[str, str]]]:
    """Split ``mdadm --examine|--detail`` output into ``(device, fields)``
    per ``/dev/X:`` header; lines ``Key : value``."""
    blocks: list[tuple[str, dict[str, str]]] = []
    for line in text.splitlines():
        if line and not line[0].isspace() and line.rstrip().endswith(":") and " : " not in line:
            blocks.append((line.rstrip()[:-1], {}))
            continue
        key, sep, value = line.partition(" : ")
        if sep and blocks and key.strip() not in blocks[-1][1]:
            blocks[-1][1][key.strip()] = value.strip()
    return blocks


def _md_kib(value: str) -> int:
    """``523264 KiB (511.00 MiB 535.82 MB)`` or ``523264 (511.00 MiB ...)``:
    mdadm prints array sizes in KiB."""
    m = re.match(r"(\d+)", value)
    return int(m.group(1)) * 1024 if m else 0


def md_device_name(fields: Mapping[str, str]) -> str:
    """Where the source system's udev names the array: ``/dev/md/NAME`` for
    1.x superblocks (``Name : host:NAME``), ``/dev/mdN`` for 0.90."""
    name = fields.get("Name", "").split()[0] if fields.get("Name") else ""
    if name:
        return f"/dev/md/{name.rsplit(':', 1)[-1]}"
    minor = fields.get("Preferred Minor", "")
    return f"/dev/md{minor}" if minor.isdigit() else ""


def md_arrays_from_examine(text: str) -> tuple[MdArray, ...]:
    """``mdadm --examine DEV...`` of member devices, grouped by array UUID."""
    arrays: dict[str, tuple[dict[str, str], list[str]]] = {}
    for device, fields in _md_blocks(text):
        uuid = fields.get("Array UUID") or fields.get("UUID", "")
        if not uuid:
            continue
        arrays.setdefault(uuid, (fields, []))[1].append(device)
    return tuple(
        MdArray(
            device=md_device_name(fields),
            level=fields.get("Raid Level", ""),
            members=tuple(members),
            uuid=uuid,
            size=_md_kib(fields.get("Array Size", "")),
        )
        for uuid, (fields, members) in arrays.items()
    )


def md_array_from_detail(text: str) -> MdArray | None:
    """``mdadm --detail /dev/mdN`` of an assembled array; members come from
    the device table at the end (last column)."""
    blocks = _md_blocks(text)
    if not blocks:
        return None
    device, fields = blocks[0]
    members = []
    in_table = False
    for line in text.splitlines():
        if line.split()[:2] == ["Number", "Major"]:
            in_table = True
            continue
        if in_table and line.strip():
            last = line.split()[-1]
            if last.startswith("/dev/"):
                members.append(last)
    return MdArray(
        device=device,
        level=fields.get("Raid Level", ""),
        members=tuple(members),
        uuid=fields.get("UUID", ""),
        size=_md_kib(fields.get("Array Size", "")),
    )
