"""LVM volume groups on the source disks: described, and activated read-only
while their filesystems are probed and copied.

The reporting commands only read metadata from the PVs; ``--readonly`` also
keeps them from taking locks or repairing anything. Reading an LV's
filesystem needs its device-mapper device: :func:`activated_readonly`
creates those for the LVs that are not active yet, read-only in the kernel
(``activation/read_only_volume_list``), with metadata writes forbidden
(``global/metadata_read_only``: nothing is repaired, backed up or
archived), no dmeventd monitoring, and LVM looking at the source's PVs
only; it removes exactly the ones it created afterwards. LVs that were
active before (someone ran ``vgchange -ay``) are left as they are.
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager

from ...model.machine import LogicalVolume, VolumeGroup
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


# --- read-only activation ----------------------------------------------------


def _lvm_string(text: str) -> str:
    """A value in lvm.conf syntax (double quotes, backslash escapes: the
    same rules as JSON for the names LVM allows)."""
    return json.dumps(text)


def readonly_config(groups: Sequence[VolumeGroup]) -> str:
    """``--config`` text that keeps activation from writing anything."""
    names = ", ".join(_lvm_string(vg.name) for vg in groups)
    return " ".join(
        [
            "global { metadata_read_only = 1 }",  # never write, repair or update metadata
            f"activation {{ read_only_volume_list = [ {names} ] monitoring = 0 }}",  # ro dm tables
            "backup { backup = 0 archive = 0 }",  # nothing to /etc/lvm of the live system either
        ]
    )


def _devices(groups: Sequence[VolumeGroup]) -> str:
    return ",".join(pv for vg in groups for pv in vg.pvs)


def activate_argv(groups: Sequence[VolumeGroup], volumes: Sequence[LogicalVolume]) -> list[str]:
    return [
        "lvchange",
        "--activate", "y",  # create the device-mapper devices of these LVs ...
        "--config", readonly_config(groups),  # ... read-only, no metadata written
        "--devices", _devices(groups),  # look at the source's PVs only, no other disk
        "--ignoremonitoring",  # no dmeventd for the LVs
        "--ignoreactivationskip",  # also LVs flagged to be skipped at boot (snapshots, thin)
        *(f"{lv.vg}/{lv.name}" for lv in volumes),
    ]  # fmt: skip


def deactivate_argv(groups: Sequence[VolumeGroup], volumes: Sequence[LogicalVolume]) -> list[str]:
    return [
        "lvchange",
        "--activate", "n",  # remove the device-mapper devices activate_argv made
        "--config", readonly_config(groups),  # still no metadata written
        "--devices", _devices(groups),  # the source's PVs only
        "--ignoremonitoring",  # there is no dmeventd to tell
        *(f"{lv.vg}/{lv.name}" for lv in reversed(volumes)),
    ]  # fmt: skip


def inactive_volumes(
    groups: Sequence[VolumeGroup], exists: Callable[[str], bool]
) -> tuple[LogicalVolume, ...]:
    """LVs without a device node: the ones activation has to create."""
    return tuple(lv for vg in groups for lv in vg.lvs if not exists(lv.path))


def _read_only_in_kernel(path: str) -> bool | None:
    """Whether the kernel refuses writes to the block device at ``path``."""
    name = os.path.basename(os.path.realpath(path))
    try:
        with open(f"/sys/class/block/{name}/ro", encoding="ascii") as f:
            return f.read().strip() == "1"
    except OSError:
        return None


def _wait_for_nodes(volumes: Sequence[LogicalVolume], wait: float) -> None:
    """lvchange waits for udev; where there is none, LVM makes the nodes itself."""
    deadline = time.monotonic() + wait
    while any(not os.path.exists(lv.path) for lv in volumes) and time.monotonic() < deadline:
        time.sleep(0.1)


@contextmanager
def activated_readonly(
    runner: CommandRunner, groups: Sequence[VolumeGroup], *, wait: float = 10.0
) -> Iterator[tuple[LogicalVolume, ...]]:
    """Activate read-only the LVs of ``groups`` that are not active; yields
    them; deactivates them again on exit (also on failure)."""
    wanted = inactive_volumes(groups, os.path.exists)
    if not wanted:
        yield ()
        return
    names = ", ".join(f"{lv.vg}/{lv.name}" for lv in wanted)
    log.info("activating LVM volumes read-only: %s", names)
    try:
        result = runner.run(activate_argv(groups, wanted), check=False, env=LVM_ENV)
        if result.returncode != 0:
            log.warning("LVM volumes %s could not all be activated: %s", names, result.stderr.strip())
        _wait_for_nodes(wanted, wait)
        for lv in wanted:
            if not os.path.exists(lv.path):
                log.warning("%s did not appear; its contents cannot be probed", lv.path)
            elif _read_only_in_kernel(lv.path) is False:
                log.warning("%s was activated writable (LVM ignored read_only_volume_list)", lv.path)
        yield wanted
    finally:
        result = runner.run(deactivate_argv(groups, wanted), check=False, env=LVM_ENV)
        if result.returncode != 0:
            log.warning("could not deactivate LVM volumes %s: %s", names, result.stderr.strip())
        else:
            log.info("deactivated LVM volumes %s", names)


def already_active_writable(groups: Sequence[VolumeGroup]) -> tuple[str, ...]:
    """LVs that something other than p2v activated writable (e.g. the live
    system's auto-activation): p2v still only mounts them read-only."""
    return tuple(
        lv.path
        for vg in groups
        for lv in vg.lvs
        if os.path.exists(lv.path) and _read_only_in_kernel(lv.path) is False
    )
