"""Probe the machine the live image booted on and describe it as a Machine.

The source is never written: filesystems are mounted only read-only with
options that skip journal replay, blkid does not use its cache, libparted is
never asked to commit or "fix", LVM volumes are activated read-only (no
metadata written) only while they are probed, md arrays are only reported
on, never assembled, and nothing is checked with fsck. ``partx --update`` only tells
the kernel about partitions it has not read itself.

Steps (see :func:`probe_machine`):

1. list disks (/sys/block or the ones named) and read their partition tables;
2. decide which disks are not sources by default (live medium, removable,
   in use by the live system, excluded by the user);
3. blkid every partition (and table-less disk); mount each filesystem
   read-only in a private directory for usage, features and subvolumes;
4. describe LVM volume groups and md arrays; probe the LVs (activated
   read-only) and the arrays the live kernel assembled;
5. find the root filesystem (the one with an /etc/fstab that mounts ``/``),
   map every fstab entry to a probed device;
6. read OS facts and the configuration snapshot through the source tree;
7. unmount everything and deactivate what step 4 activated (also on failure).
"""

from __future__ import annotations

import dataclasses
import logging
import os
import tempfile
from collections.abc import Sequence
from contextlib import ExitStack
from dataclasses import dataclass

from ...model.fstab_devices import apply_fstab, btrfs_subvolume_id, resolve_spec, swap_file_paths
from ...model.fstab_syntax import parse_fstab
from ...model.machine import Disk, Filesystem, Firmware, Machine, SwapArea
from ..runner import CommandRunner
from .blkid import probe_signature
from .config import live_device_links, snapshot_config, with_device_links
from .disks import (
    RawDisk,
    ensure_partition_nodes,
    is_removable,
    list_disks,
    read_disk,
    to_disk,
    unreadable_disk,
)
from .filesystems import probe_filesystem
from .live_mounts import OWN_MOUNTS, exclusion_reason, host_device_uses, read_active_swaps, read_host_mounts
from .lvm import activated_readonly, already_active_writable, probe_volume_groups
from .md import probe_md_arrays
from .osinfo import detect_os
from .tree import SourceTree

log = logging.getLogger(__name__)

__all__ = ["probe_machine"]

ESP_TYPE_GUID = "C12A7328-F81F-11D2-BA4B-00A0C93EC93B"


@dataclass(frozen=True)
class _Root:
    device: str
    subvolume: int | None
    host_dir: str
    fstab_text: str


def _read_disks(runner: CommandRunner, paths: Sequence[str]) -> list[RawDisk]:
    raws = []
    for path in paths:
        try:
            raw = read_disk(path)
        except Exception as exc:  # pyparted raises several unrelated types
            log.warning("cannot read %s: %s", path, exc)
            raws.append(unreadable_disk(path, str(exc)))
            continue
        ensure_partition_nodes(runner, raw)
        raws.append(raw)
    return raws


def _describe_disks(
    runner: CommandRunner,
    raws: Sequence[RawDisk],
    signatures: dict[str, dict[str, str]],
    *,
    named: bool,
    exclude: set[str],
    work_dir: str,
) -> list[Disk]:
    """The model's disks with exclusion reasons; fills ``signatures`` (blkid
    of every disk and partition node) on the way."""
    uses = host_device_uses(read_host_mounts(), read_active_swaps(), ignore_under=(*OWN_MOUNTS, work_dir))
    disks = []
    for raw in raws:
        signatures[raw.path] = probe_signature(runner, raw.path)
        for p in raw.partitions:
            if os.path.exists(p.path):  # extended ones too: their type id and PARTUUID
                signatures[p.path] = probe_signature(runner, p.path)
        removable = is_removable(raw.path)
        reason = (
            "excluded by the user"
            if raw.path in exclude
            else exclusion_reason(
                [raw.path, *(p.path for p in raw.partitions)],
                uses,
                whole_disk_type=signatures[raw.path].get("TYPE", ""),
            )
        )
        if reason is None and raw.error:
            reason = f"cannot be read: {raw.error}"
        if reason is None and raw.unsupported_table:
            reason = f"partition table type {raw.unsupported_table} is not supported"
        if reason is None and removable and not named:
            reason = "removable disk"
        disks.append(to_disk(raw, signatures, removable=removable, excluded=reason))
    return disks


def _find_root(machine: Machine, hosts: dict[str, str]) -> _Root | None:
    """The filesystem (and btrfs subvolume) whose /etc/fstab mounts ``/``.

    A btrfs filesystem may hold several (snapshots of the root): prefer the
    one its own fstab points at, then writable, then the default subvolume.
    """
    best: tuple[tuple[int, ...], _Root] | None = None
    for fs in machine.filesystems:
        host = hosts.get(fs.device)
        if host is None:
            continue
        places: list[tuple[int | None, str, bool]] = [(None if fs.fstype != "btrfs" else 5, host, False)]
        places += [(sv.id, os.path.join(host, sv.path), sv.readonly) for sv in fs.subvolumes]
        for subvol, directory, readonly in places:
            text = SourceTree({"/": directory}).read_text("/etc/fstab")
            if text is None:
                continue
            root_entries = [e for e in parse_fstab(text) if e.file == "/"]
            if not root_entries:
                continue
            resolved = resolve_spec(root_entries[0].spec, machine)
            own = resolved is not None and resolved.device == fs.device
            subvol_ok = fs.fstype != "btrfs" or btrfs_subvolume_id(fs, root_entries[0].mntops) == subvol
            score = (int(own), int(own and subvol_ok), int(not readonly), int(subvol == fs.default_subvolume))
            if best is None or score > best[0]:
                best = (score, _Root(fs.device, subvol, directory, text))
    return best[1] if best else None


def _source_tree(machine: Machine, hosts: dict[str, str], root: _Root) -> SourceTree:
    mounts: dict[str, str] = {}
    devices: dict[str, str] = {}
    for fs in machine.filesystems:
        host = hosts.get(fs.device)
        if host is None:
            continue
        by_id = {sv.id: sv for sv in fs.subvolumes}
        for sv in fs.subvolumes:
            if sv.mountpoint:
                mounts[sv.mountpoint], devices[sv.mountpoint] = os.path.join(host, sv.path), fs.device
        if fs.mountpoint and fs.mountpoint not in mounts:
            default = by_id.get(fs.default_subvolume)
            mounts[fs.mountpoint] = os.path.join(host, default.path) if default else host
            devices[fs.mountpoint] = fs.device
    mounts["/"], devices["/"] = root.host_dir, root.device  # the fstab we read is the root's
    return SourceTree(mounts, devices)


def _swap_files(runner: CommandRunner, tree: SourceTree, machine: Machine) -> list[SwapArea]:
    swaps = []
    for path in swap_file_paths(machine.fstab):
        st = tree.stat(path)
        host = tree.host_path(path)
        if st is None or host is None:
            log.warning("fstab names swap file %s, which does not exist on the source", path)
            continue
        signature = probe_signature(runner, host)
        swaps.append(
            SwapArea(
                kind="file",
                path=tree.resolve(path) or path,
                size=st.st_size,
                uuid=signature.get("UUID", ""),
                label=signature.get("LABEL", ""),
                on_device=tree.device_of(path),
                mtime_ns=st.st_mtime_ns,
            )
        )
    return swaps


def _same_btrfs(filesystems: Sequence[Filesystem], uuid: str) -> int | None:
    for i, fs in enumerate(filesystems):
        if uuid and fs.fstype == "btrfs" and fs.uuid == uuid:
            return i
    return None


def _firmware(machine: Machine) -> Firmware:
    parts = {p.path: p for d in machine.disks for p in d.partitions}
    for mountpoint in ("/boot/efi", "/efi", "/boot"):
        fs = machine.filesystem_at(mountpoint)
        part = parts.get(fs.device) if fs else None
        if fs and fs.fstype == "vfat" and part and ("esp" in part.flags or part.type_id == ESP_TYPE_GUID):
            return "efi"
    return "bios"


def probe_machine(
    runner: CommandRunner,
    *,
    disks: Sequence[str] | None = None,
    work_dir: str = "/run/p2v/probe",
    exclude: Sequence[str] = (),
) -> Machine:
    """Describe the source machine; see the module docstring for the steps.

    ``disks`` limits the probe to these devices (loop devices only this
    way); ``exclude`` names disks or partitions the user left out.
    """
    excluded = {os.path.realpath(p) if os.path.islink(p) else p for p in exclude}
    raws = _read_disks(runner, list_disks(disks))
    signatures: dict[str, dict[str, str]] = {}
    disk_models = _describe_disks(
        runner, raws, signatures, named=disks is not None, exclude=excluded, work_dir=work_dir
    )

    candidates: list[tuple[str, int]] = []
    for disk, raw in zip(disk_models, raws, strict=True):
        if disk.excluded is not None:
            continue
        if raw.table is None:
            candidates.append((raw.path, raw.size))
        candidates += [(p.path, p.size) for p in raw.partitions if not p.extended and p.path not in excluded]

    os.makedirs(work_dir, mode=0o700, exist_ok=True)
    session = tempfile.mkdtemp(prefix="probe-", dir=work_dir)
    with ExitStack() as stack:
        stack.callback(os.rmdir, session)
        filesystems: list[Filesystem] = []
        swaps: list[SwapArea] = []
        pvs: list[str] = []
        md_members: list[str] = []
        hosts: dict[str, str] = {}

        def take(device: str, size: int, signature: dict[str, str]) -> None:
            kind = signature.get("TYPE", "")
            same = _same_btrfs(filesystems, signature.get("UUID", "")) if kind == "btrfs" else None
            if kind == "swap":
                uuid, label = signature.get("UUID", ""), signature.get("LABEL", "")
                swaps.append(SwapArea("partition", device, size, uuid, label))
            elif kind == "LVM2_member":
                pvs.append(device)
            elif kind == "linux_raid_member":
                md_members.append(device)
            elif same is not None:
                # One btrfs on several devices: described (and mounted) once.
                fs = filesystems[same]
                note = f"btrfs spanning several devices; {device} is one of them"
                filesystems[same] = dataclasses.replace(fs, notes=(*fs.notes, note))
            elif kind and signature.get("USAGE", "filesystem") in ("filesystem", "crypto"):
                probed = probe_filesystem(runner, device, signature, size, stack=stack, mount_base=session)
                filesystems.append(probed.filesystem)
                if probed.host_dir:
                    hosts[device] = probed.host_dir

        for device, size in candidates:
            take(device, size, signatures.get(device, {}))
        volume_groups = probe_volume_groups(runner, pvs)
        for path in already_active_writable(volume_groups):
            log.warning("%s was already active and writable before the probe; it is only read", path)
        stack.enter_context(activated_readonly(runner, volume_groups))
        for lv in (lv for vg in volume_groups for lv in vg.lvs):
            if os.path.exists(lv.path) and lv.path not in excluded:
                take(lv.path, lv.size, probe_signature(runner, lv.path))
        md = probe_md_arrays(runner, md_members)
        for array in md.arrays:
            if array.device in md.assembled and array.device not in excluded:
                take(array.device, array.size, probe_signature(runner, array.device))

        machine = Machine(
            disks=tuple(disk_models),
            filesystems=tuple(filesystems),
            swaps=tuple(swaps),
            volume_groups=volume_groups,
            md_arrays=md.arrays,
        )
        root = _find_root(machine, hosts)
        if root is None:
            log.warning("no probed filesystem has an /etc/fstab that mounts /; the OS is unknown")
            return machine
        machine = apply_fstab(
            dataclasses.replace(machine, fstab=parse_fstab(root.fstab_text)),
            root_device=root.device,
            root_subvolume=root.subvolume,
        )
        tree = _source_tree(machine, hosts, root)
        return dataclasses.replace(
            machine,
            swaps=machine.swaps + tuple(_swap_files(runner, tree, machine)),
            os=detect_os(tree),
            config=with_device_links(snapshot_config(tree), live_device_links()),
            firmware=_firmware(machine),
        )
