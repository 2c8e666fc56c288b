"""One filesystem: its identity, size, usage and creation features.

Mounted read-only (:mod:`p2v_tui.model.source_mount_options`) for statvfs and for the
source tree; the mount stays in the caller's :class:`~contextlib.ExitStack`
until the whole probe is done. Encrypted volumes, swap, LVM and md members
are never mounted.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Mapping
from contextlib import ExitStack
from dataclasses import dataclass

from ...model.machine import Filesystem, Subvolume
from ...model.parsers import (
    parse_btrfs_get_default,
    parse_btrfs_subvolume_list,
    parse_dumpe2fs_header,
    parse_xfs_info,
    parse_xfs_log_state,
)
from ...model.source_mount_options import can_mount_readonly
from ..runner import CommandError, CommandRunner
from ..source_mounts import readonly_mount

log = logging.getLogger(__name__)

EXT_TYPES = ("ext2", "ext3", "ext4")

NOTE_JOURNAL = (
    "not cleanly unmounted: the journal will not be replayed (the source is never written); "
    "data in it is not copied"
)
NOTE_XFS_LOG = (
    "not cleanly unmounted: the log will not be replayed (the source is never written); "
    "changes still in it are neither seen nor copied"
)
NOTE_UNCHECKED = (
    "not cleanly unmounted and not checked (the source is never written): "
    "any inconsistency is copied as it is"
)
NOTE_BTRFS_LOG = (
    "has a log tree that was not replayed (the source is never written); "
    "the last synced writes in it are not copied"
)
NOTE_LUKS = "encrypted (LUKS): the probe does not open it, its contents are unknown"


@dataclass(frozen=True)
class ProbedFilesystem:
    filesystem: Filesystem
    host_dir: str | None
    """Where it is mounted read-only on this host (btrfs: the top level,
    subvolid=5), None when it could not be mounted."""


def dumpe2fs_argv(device: str) -> list[str]:
    return [
        "dumpe2fs",
        "-h",  # superblock only: features, state, sizes
        device,
    ]


def xfs_info_argv(mountpoint: str) -> list[str]:
    return ["xfs_info", mountpoint]


def xfs_logprint_argv(device: str) -> list[str]:
    return [
        "xfs_logprint",
        "-t",  # transactional view; its header says whether the log is clean
        device,
    ]


def btrfs_list_argv(mountpoint: str, *, readonly_only: bool = False) -> list[str]:
    argv = [
        "btrfs", "subvolume", "list",
        "-a",  # all subvolumes, paths from the top level
        "-p",  # with parent ids
    ]  # fmt: skip
    if readonly_only:
        argv.append("-r")  # only read-only subvolumes (snapshots)
    argv.append(mountpoint)
    return argv


def btrfs_default_argv(mountpoint: str) -> list[str]:
    return ["btrfs", "subvolume", "get-default", mountpoint]


def btrfs_dump_super_argv(device: str) -> list[str]:
    return ["btrfs", "inspect-internal", "dump-super", device]


def _ext(runner: CommandRunner, device: str) -> tuple[tuple[str, ...], int, list[str]]:
    """features, size, notes"""
    result = runner.run(dumpe2fs_argv(device), check=False)
    if result.returncode != 0:
        log.warning("dumpe2fs -h %s failed: %s", device, result.stderr.strip())
        return (), 0, []
    info = parse_dumpe2fs_header(result.stdout)
    notes = []
    if not info.cleanly_unmounted:
        notes.append(NOTE_JOURNAL if "has_journal" in info.features else NOTE_UNCHECKED)
    return info.creation_features, info.size, notes


def _btrfs(runner: CommandRunner, device: str, top: str) -> tuple[tuple[Subvolume, ...], int, list[str]]:
    """subvolumes, default subvolume id, notes"""
    rows = parse_btrfs_subvolume_list(runner.run(btrfs_list_argv(top)).stdout)
    readonly_rows = parse_btrfs_subvolume_list(runner.run(btrfs_list_argv(top, readonly_only=True)).stdout)
    readonly = {r.id for r in readonly_rows}
    default = parse_btrfs_get_default(runner.run(btrfs_default_argv(top)).stdout)
    notes = []
    dump = runner.run(btrfs_dump_super_argv(device), check=False)
    m = re.search(r"^log_root\s+(\d+)", dump.stdout, re.MULTILINE)
    if m and int(m.group(1)) != 0:
        notes.append(NOTE_BTRFS_LOG)
    subvolumes = tuple(Subvolume(id=r.id, path=r.path, readonly=r.id in readonly) for r in rows)
    return subvolumes, default, notes


def probe_filesystem(
    runner: CommandRunner,
    device: str,
    signature: Mapping[str, str],
    device_size: int,
    *,
    stack: ExitStack,
    mount_base: str,
) -> ProbedFilesystem:
    """Describe the filesystem blkid found on ``device``, leaving it mounted
    read-only in ``stack`` when it can be."""
    fstype = signature.get("TYPE", "")
    size = device_size
    features: tuple[str, ...] = ()
    notes: list[str] = []
    if fstype == "crypto_LUKS":
        notes.append(NOTE_LUKS)
    if fstype in EXT_TYPES:
        features, ext_size, ext_notes = _ext(runner, device)
        size = ext_size or size
        notes += ext_notes
    if fstype == "xfs":
        # Before mounting: a dirty log means recent changes are invisible
        # to the norecovery mount.
        logprint = runner.run(xfs_logprint_argv(device), check=False, timeout=120)
        if parse_xfs_log_state(logprint.stdout) == "dirty":
            notes.append(NOTE_XFS_LOG)
    host_dir = None
    used = inodes_used = None
    subvolumes: tuple[Subvolume, ...] = ()
    default_subvolume = 5
    if can_mount_readonly(fstype):
        try:
            host_dir = stack.enter_context(
                readonly_mount(
                    device,
                    fstype,
                    subvolid=5 if fstype == "btrfs" else None,
                    base=mount_base,
                    runner=runner,
                )
            )
        except CommandError as exc:
            log.warning("cannot mount %s read-only: %s", device, exc)
            notes.append(f"could not be mounted read-only here ({exc.stderr.strip() or exc}); usage unknown")
    elif fstype != "crypto_LUKS":
        notes.append(f"{fstype} is not mounted by the probe; usage unknown")
    if host_dir is not None:
        st = os.statvfs(host_dir)
        used = (st.f_blocks - st.f_bfree) * st.f_frsize
        inodes_used = st.f_files - st.f_ffree if st.f_files else None
        if fstype not in EXT_TYPES:
            size = st.f_blocks * st.f_frsize or size
        try:
            if fstype == "xfs":
                info = parse_xfs_info(runner.run(xfs_info_argv(host_dir)).stdout)
                features, size = info.features, info.size or size
            elif fstype == "btrfs":
                subvolumes, default_subvolume, btrfs_notes = _btrfs(runner, device, host_dir)
                notes += btrfs_notes
        except (CommandError, ValueError) as exc:
            log.warning("cannot read %s details of %s: %s", fstype, device, exc)
            notes.append(f"could not read its {fstype} details: {exc}")
    return ProbedFilesystem(
        Filesystem(
            device=device,
            fstype=fstype,
            uuid=signature.get("UUID", ""),
            label=signature.get("LABEL", ""),
            size=size,
            used=used,
            inodes_used=inodes_used,
            features=features,
            subvolumes=subvolumes,
            default_subvolume=default_subvolume,
            notes=tuple(notes),
        ),
        host_dir,
    )
