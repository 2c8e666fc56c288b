"""Whether a target already holds a plan's partitions and filesystems.

A migration that was cancelled or failed after mkfs is resumed by running it
again: when every planned partition is on the disk with the planned
geometry and a filesystem of the planned type and UUID, partitioning and
mkfs are skipped and the copy continues where it stopped (rsync finds what
is already there). Anything else and the disks are prepared from scratch.

A run that lost its link to the target could not unmount there: the next
run finds its mounts and unmounts them first (:func:`leftover_mounts`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace

from .layout_geometry import partition_device
from .parsers import MountEntry
from .plan import SIDE_MOUNTS, TARGET_ROOT, DiskPlan, Plan
from .target_output import MalformedOutput, parse_blkid_export, parse_sfdisk_json


def _disk_matches(dp: DiskPlan, text: str) -> str:
    try:
        table = parse_sfdisk_json(text)
    except MalformedOutput as e:
        return f"sfdisk --json {dp.disk.path} answered malformed output: {e}"
    if table.label != dp.table:
        return f"{dp.disk.path} has {'no' if not table.label else 'a ' + table.label} table, not {dp.table}"
    for p in dp.partitions:
        if table.partitions.get(p.device) != (p.start, p.size):
            return f"{p.device} is not where the plan puts it"
    return ""


def resumable(
    plan: Plan, tables: Mapping[str, str], signatures: Mapping[str, str]
) -> tuple[Plan | None, str]:
    """``(plan, "")`` - with the UUIDs found filled in - when the target
    already holds exactly this plan; ``(None, why not)`` otherwise.

    ``tables``: disk path -> ``sfdisk --json`` output; ``signatures``:
    partition device -> ``blkid -p -o export`` output. Output that is
    malformed is a reason not to resume, never an error: the disks are
    then prepared from scratch, as for any other mismatch.
    """
    disks = []
    for dp in plan.disks:
        why = _disk_matches(dp, tables.get(dp.disk.path, ""))
        if why:
            return None, why
        parts = []
        for p in dp.partitions:
            if p.fstype is None or p.role == "bios_grub":
                parts.append(p)
                continue
            try:
                found = parse_blkid_export(signatures.get(p.device, ""))
            except MalformedOutput as e:
                return None, f"blkid -p -o export {p.device} answered malformed output: {e}"
            if found.get("TYPE") != p.fstype:
                return None, f"{p.device} holds {found.get('TYPE') or 'no filesystem'}, not {p.fstype}"
            uuid = found.get("UUID", "")
            if p.uuid and uuid.lower() != p.uuid.lower():
                return None, f"{p.device} has UUID {uuid or 'none'}, not {p.uuid}"
            parts.append(replace(p, uuid=uuid) if not p.uuid else p)
        disks.append(replace(dp, partitions=tuple(parts)))
    return replace(plan, disks=tuple(disks)), ""


def on_disk(device: str, disk: str) -> bool:
    """``device`` is ``disk`` or one of its partitions (/dev/loop1p2 is on
    /dev/loop1, /dev/loop10 is not)."""
    return device == disk or any(device == partition_device(disk, n) for n in range(1, 129))


def leftover_mounts(mounts: Sequence[MountEntry], disks: Sequence[str]) -> list[str]:
    """Mount points an earlier run left on the target, in the order to
    unmount them (the last mounted first): everything below TARGET_ROOT and
    SIDE_MOUNTS (p2v mounts nothing else there), and those directories
    themselves where a filesystem of the instance's ``disks`` is on them
    (a tmpfs the bootstrap OS put there stays)."""
    left = []
    for m in reversed(mounts):
        for top in (TARGET_ROOT, SIDE_MOUNTS):
            below = m.target.startswith(top + "/")
            if below or (m.target == top and any(on_disk(m.source, d) for d in disks)):
                left.append(m.target)
                break
    return left
