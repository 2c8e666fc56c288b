"""LVM volume groups on the source disks, described without activating them.

The reporting commands only read metadata from the PVs; ``--readonly`` also
keeps them from taking locks or repairing anything. Activation would need
device-mapper and is a separate, explicit step elsewhere.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence

from ...model.machine import VolumeGroup
from ...model.parsers import parse_lvm_report, volume_groups_from_reports
from ..runner import CommandError, CommandRunner

log = logging.getLogger(__name__)

_FIELDS = {
    "pvs": "pv_name,vg_name,pv_size,pv_uuid",
    "vgs": "vg_name,vg_size,vg_uuid,pv_count,lv_count",
    "lvs": "lv_name,vg_name,lv_size,lv_path,lv_attr,lv_uuid",
}
_KIND = {"pvs": "pv", "vgs": "vg", "lvs": "lv"}

#: lvm warns about inherited descriptors on stderr; the warning is noise here.
LVM_ENV = {"LVM_SUPPRESS_FD_WARNINGS": "1"}


def lvm_report_argv(command: str) -> list[str]:
    return [
        command,
        "--readonly",  # read metadata without locks, never repair or write
        "--reportformat", "json",  # machine-readable rows
        "--units", "b",  # sizes in bytes ...
        "--nosuffix",  # ... as bare numbers
        "-o", _FIELDS[command],  # only the columns the model needs
    ]  # fmt: skip


def _report(runner: CommandRunner, command: str) -> list[dict[str, str]]:
    result = runner.run(lvm_report_argv(command), check=False, env=LVM_ENV)
    try:
        rows = parse_lvm_report(result.stdout, _KIND[command])
    except (json.JSONDecodeError, AttributeError) as exc:
        raise CommandError(result.argv, result.returncode, result.stderr or str(exc)) from exc
    if result.returncode != 0:
        # Without device-mapper lvm complains on stderr yet reports metadata.
        log.debug("%s exit status %d: %s", command, result.returncode, result.stderr.strip())
    return rows


def probe_volume_groups(runner: CommandRunner, pv_devices: Sequence[str]) -> tuple[VolumeGroup, ...]:
    """Volume groups with at least one PV among ``pv_devices``."""
    if not pv_devices:
        return ()
    try:
        pvs = _report(runner, "pvs")
        vgs = _report(runner, "vgs")
        lvs = _report(runner, "lvs")
    except CommandError as exc:
        log.warning("LVM physical volumes %s found; LVM cannot describe them: %s", ", ".join(pv_devices), exc)
        return ()
    groups = volume_groups_from_reports(pvs, vgs, lvs)
    ours = set(pv_devices)
    return tuple(vg for vg in groups if ours & set(vg.pvs))
