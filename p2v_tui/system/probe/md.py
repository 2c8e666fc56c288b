"""Linux software RAID (md) on the source disks, described without assembling.

``mdadm --examine`` reads the member superblocks. Arrays the live kernel has
already assembled (udev on a normal live image does that) are matched by
UUID so that their filesystems can be probed like partitions.
"""

from __future__ import annotations

import dataclasses
import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass

from ...model.machine import MdArray
from ...model.parsers import md_array_from_detail, md_arrays_from_examine
from ..runner import CommandError, CommandRunner

log = logging.getLogger(__name__)


def examine_argv(devices: Sequence[str]) -> list[str]:
    return [
        "mdadm",
        "--examine",  # print member superblocks; reads only
        *devices,
    ]


def detail_argv(array: str) -> list[str]:
    return [
        "mdadm",
        "--detail",  # state of an assembled array; reads only
        array,
    ]


def assembled_arrays(sys_block: str = "/sys/block") -> list[str]:
    try:
        return [f"/dev/{n}" for n in sorted(os.listdir(sys_block)) if n.startswith("md")]
    except OSError:
        return []


@dataclass(frozen=True)
class MdProbe:
    arrays: tuple[MdArray, ...] = ()
    assembled: frozenset[str] = frozenset()
    """Devices of ``arrays`` that the live kernel has assembled (same UUID):
    only these can be probed, a ``/dev/md0`` of another array must not."""


def probe_md_arrays(
    runner: CommandRunner, members: Sequence[str], *, sys_block: str = "/sys/block"
) -> MdProbe:
    """Arrays that ``members`` belong to; ``device`` is the assembled
    ``/dev/mdN`` when the live kernel has one, else the superblock's name."""
    if not members:
        return MdProbe()
    try:
        result = runner.run(examine_argv(members))
    except CommandError as exc:
        log.warning("md members %s found, but mdadm cannot describe them: %s", ", ".join(members), exc)
        return MdProbe()
    arrays = md_arrays_from_examine(result.stdout)
    assembled: dict[str, MdArray] = {}
    for device in assembled_arrays(sys_block):
        detail = runner.run(detail_argv(device), check=False)
        array = md_array_from_detail(detail.stdout) if detail.returncode == 0 else None
        if array and array.uuid:
            assembled[array.uuid] = array
    described = tuple(
        dataclasses.replace(a, device=assembled[a.uuid].device) if a.uuid in assembled else a for a in arrays
    )
    return MdProbe(described, frozenset(assembled[a.uuid].device for a in arrays if a.uuid in assembled))
