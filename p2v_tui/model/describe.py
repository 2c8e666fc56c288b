"""Plain-text descriptions of the machine, the plan and the instance p2v
creates on a cluster, for the console, the report and the wizard's
screens (the Source screen's machine lines, the Confirm screen's summary).
80 columns, ASCII only (serial consoles).

Each fact has one phrasing here; the screens only lay the lines out.
"""

from __future__ import annotations

import base64
import shlex
from typing import Literal

from .answers import After
from .answers_cluster import KEEP_MAC, ClusterAnswers
from .edits import FixupSet
from .machine import (
    Disk,
    Filesystem,
    LogicalVolume,
    Machine,
    MdArray,
    Partition,
    Subvolume,
    SwapArea,
    VolumeGroup,
)
from .plan import TARGET_ROOT, CopyJob, Plan
from .rapi_requests import InstanceSpec, NicSpec
from .target import InstanceFacts
from .units import MiB, format_size
from .warm import WarmState, warm_summary

# -- the source machine ---------------------------------------------------------


def os_line(machine: Machine) -> str | None:
    """``Debian GNU/Linux 7 (wheezy), hostname web01``; None when the probe
    found neither."""
    if not (machine.os.pretty_name or machine.os.hostname):
        return None
    return f"{machine.os.pretty_name or 'unknown OS'}, hostname {machine.os.hostname or '?'}"


def disk_line(disk: Disk) -> str:
    state = f"  (not offered: {disk.excluded})" if disk.excluded else ""
    return f"{disk.path}  {format_size(disk.size)}  {disk.table or 'no table'}  {disk.model}{state}"


def partition_use(machine: Machine, device: str) -> str:
    """What a partition holds, in a few words."""
    for fs in machine.filesystems:
        if fs.device == device:
            return f"{fs.fstype} {fs.mountpoint or '(not in fstab)'}"
    for swap in machine.swaps:
        if swap.path == device:
            return "swap"
    for vg in machine.volume_groups:
        if device in vg.pvs:
            return f"LVM physical volume of {vg.name}"
    for md in machine.md_arrays:
        if device in md.members:
            return f"RAID member of {md.device}"
    return ""


def partition_line(part: Partition, detail: str) -> str:
    """``/dev/sda1   256 MiB  ext3 /boot``; ``detail``: its use or flags."""
    return f"{part.path:<16} {format_size(part.size):>10}  {detail}"


def volume_group_line(vg: VolumeGroup) -> str:
    return f"LVM {vg.name} {format_size(vg.size)} on {', '.join(vg.pvs)}"


def logical_volume_line(lv: LogicalVolume) -> str:
    return f"LV {lv.path} {format_size(lv.size)}"


def raid_line(md: MdArray) -> str:
    return f"RAID {md.device} {md.level} of {', '.join(md.members)}"


def subvolume_line(sv: Subvolume) -> str:
    where = f" at {sv.mountpoint}" if sv.mountpoint else ""
    return f"subvolume {sv.path or '<top>'}{where}" + (" (read-only)" if sv.readonly else "")


def used_text(fs: Filesystem) -> str:
    return format_size(fs.used) if fs.used is not None else "unknown"


FILESYSTEM_COLUMNS = f"{'Mount point':<14} {'Type':<6} {'Device':<14} {'Used':>10} {'Size':>10}"
"""The head of the table :func:`filesystem_row` and :func:`swap_row` fill."""


def filesystem_row(fs: Filesystem) -> str:
    return (
        f"{(fs.mountpoint or '-'):<14} {fs.fstype:<6} {fs.device:<14} {used_text(fs):>10} "
        f"{format_size(fs.size):>10}"
    )


def swap_row(swap: SwapArea) -> str:
    return f"{'swap':<14} {'swap':<6} {swap.path:<14} {'':>10} {format_size(swap.size):>10}  ({swap.kind})"


def describe_machine(machine: Machine) -> str:
    lines = ["Source machine"]
    if (system := os_line(machine)) is not None:
        lines.append(f"  {system}")
    for disk in machine.disks:
        lines.append(f"  {disk_line(disk)}")
        lines.extend(f"    {partition_line(part, ','.join(sorted(part.flags)))}" for part in disk.partitions)
    if machine.filesystems:
        lines.append("  Filesystems:")
        for fs in machine.filesystems:
            lines.append(
                f"    {fs.device:<16} {fs.fstype:<6} {fs.mountpoint or '-':<12} "
                f"{used_text(fs):>10} used of {format_size(fs.size)}"
            )
            lines.extend(f"      {subvolume_line(sv)}" for sv in fs.subvolumes)
            lines.extend(f"      note: {note}" for note in fs.notes)
    for swap in machine.swaps:
        lines.append(f"  Swap {swap.kind} {swap.path} {format_size(swap.size)}")
    for vg in machine.volume_groups:
        lines.append(f"  {volume_group_line(vg)}")
        lines.extend(f"    {logical_volume_line(lv)}" for lv in vg.lvs)
    lines.extend(f"  {raid_line(md)}" for md in machine.md_arrays)
    return "\n".join(lines) + "\n"


# -- the plan -------------------------------------------------------------------


def boot_text(plan: Plan) -> str:
    """How the instance boots: ``its own kernel (GRUB on /dev/vda)``."""
    if plan.boot == "own":
        return f"its own kernel (GRUB on {plan.bootloader_disk or '?'})"
    return "the cluster's kernel"


def _copy_source(job: CopyJob) -> str:
    """``/dev/sda3``, or ``/dev/sda2/@home`` for a btrfs subvolume."""
    return job.source_device + (job.source_path if job.source_path != "/" else "")


def describe_plan(plan: Plan, facts: InstanceFacts | None = None) -> str:
    lines = []
    if facts is not None:
        lines.append(f"Target instance {facts.name} ({facts.hypervisor})")
    for dp in plan.disks:
        lines.append(f"Target disk {dp.disk.path} ({format_size(dp.disk.size)}), {dp.table} table - ERASED")
        for p in dp.partitions:
            what = p.mountpoint or p.role
            src = f"from {p.source}" if p.source else "new"
            lines.append(
                f"  {p.device:<16} {format_size(p.size):>10}  {p.fstype or '-':<6} {what:<14} {src}"
                + (f"  (needs {format_size(p.min_size)})" if p.min_size else "")
            )
    lines.append(f"Copy ({format_size(plan.total_bytes)} in {len(plan.copies)} jobs):")
    for job in plan.copies:
        excl = f"  excluding {', '.join(job.excludes)}" if job.excludes else ""
        lines.append(f"  {_copy_source(job)} -> {job.dest}{excl}")
    for sf in plan.swapfiles:
        lines.append(f"Swap file {sf.path}: {format_size(sf.size)} (recreated)")
    lines.append(f"Boot: {boot_text(plan)}")
    if plan.dropped:
        lines.append(f"Not migrated: {', '.join(plan.dropped)}")
    for src, dst in plan.merged.items():
        lines.append(f"Merged: {src} now lives on the {dst} filesystem")
    lines.extend(f"Note: {note}" for note in plan.notes)
    return "\n".join(lines) + "\n"


def describe_fixups(fixups: FixupSet) -> str:
    lines = [f"Configuration changes ({len(fixups.edits)} files, {len(fixups.commands)} commands):"]
    for edit in fixups.edits:
        lines.append(f"  [{edit.fixup}] {edit.path}: {edit.reason}")
    for cmd in fixups.commands:
        unless = (
            " (left out if the images already hold those drivers: checked after the copy)"
            if cmd.unless
            else ""
        )
        lines.append(f"  [{cmd.fixup}] run {shlex.join(cmd.argv)}: {cmd.reason}{unless}")
    lines.extend(f"  note: {note}" for note in fixups.notes)
    return "\n".join(lines) + "\n"


# -- the Confirm screen's summary ----------------------------------------------

SummaryKind = Literal["erased", "heading", "item"]
"""``erased``: the warning naming what is lost; ``heading``: a section;
``item``: a line of one."""

AFTER_TEXT: dict[str, str] = {
    "poweroff": "the bootstrap OS powers the instance off",
    "reboot": "the bootstrap OS reboots the instance",
    "none": "the instance keeps running the bootstrap OS (shut it down yourself)",
}


def _target_mountpoint(job: CopyJob) -> str:
    """Where a copy job's tree lands in the migrated system."""
    rel = job.dest[len(TARGET_ROOT) :] if job.dest.startswith(TARGET_ROOT) else job.dest
    return rel or "/"


def _copy_lines(plan: Plan) -> list[str]:
    """``/dev/sda3 (/) -> /dev/vda1 ext4 /  24.5 MiB`` and its exclusions."""
    lines = []
    for job in plan.copies:
        where = _target_mountpoint(job)
        part = plan.partition_at(job.mountpoint or where) or plan.partition_at(where)
        into = f"{part.device} {part.fstype or ''}".rstrip() if part is not None else job.dest
        lines.append(f"  {_copy_source(job)} -> {into} at {where}, {format_size(job.bytes)} used")
        if job.excludes:
            base = "" if where == "/" else where
            lines.append(f"      not copied: {', '.join(base + e for e in job.excludes)}")
    return lines


def confirm_summary(
    plan: Plan, fixups: FixupSet, after: After, name: str, warm: WarmState | None = None
) -> list[tuple[SummaryKind, str]]:
    """(kind, line) of what a run erases, copies and does then, asked
    before anything is written; ``name``: the instance whose disks are
    erased; ``warm``: the warm copy on it, which the run completes."""
    out: list[tuple[SummaryKind, str]] = []
    if warm is not None:
        out.append(("heading", f"A warm copy is on {name}:"))
        out += [("item", f"  {line}") for line in warm_summary(warm)]
        out.append(("item", "  (the disks are prepared again only if the target no longer holds this plan)"))
    out.append(("erased", f"ERASED on instance {name}:"))
    for dp in plan.disks:
        out.append(
            (
                "item",
                f"  {dp.disk.path}  {format_size(dp.disk.size)}: everything on it is replaced by"
                f" {len(dp.partitions)} new partitions ({dp.table})",
            )
        )
    out.append(("heading", f"Copied ({format_size(plan.total_bytes)}):"))
    out += [("item", line) for line in _copy_lines(plan)]
    for p in plan.partitions:
        if p.role == "swap":
            out.append(("item", f"  new swap {p.device} {format_size(p.size)}"))
    for sf in plan.swapfiles:
        out.append(("item", f"  swap file {sf.path} {format_size(sf.size)} (recreated)"))
    if plan.dropped:
        out.append(("item", f"  not migrated: {', '.join(plan.dropped)}"))
    out.append(("heading", "Then:"))
    out.append(("item", f"  {len(fixups.edits)} configuration files adapted; boots {boot_text(plan)}"))
    out.append(("item", f"  {AFTER_TEXT.get(after, after)}"))
    out.append(("item", "Nothing on this (source) machine is changed."))
    return out


# -- the instance p2v creates on a cluster --------------------------------------


def _nic_text(nic: NicSpec, kept: bool) -> str:
    where = (
        f"network {nic.network}" if nic.network else f"link {nic.link}" if nic.link else "the default link"
    )
    address = f", address {nic.ip}" if nic.ip else ""
    mac = f"MAC {nic.mac}" + (" (the source's)" if kept else "") if nic.mac else "MAC from Ganeti"
    return f"{where}{address}, {mac}"


def cluster_confirm_summary(
    plan: Plan, fixups: FixupSet, cluster: ClusterAnswers, spec: InstanceSpec
) -> list[tuple[SummaryKind, str]]:
    """:func:`confirm_summary` for an instance p2v creates first: what is
    created on the cluster, then what is erased and copied on it, then the
    hand-over (p2v stops the bootstrap and starts the migrated server)."""
    where = f"on node {spec.pnode}" if spec.pnode else f"placed by {spec.iallocator}"
    disks = ", ".join(format_size(size * MiB) for size in spec.disks)
    out: list[tuple[SummaryKind, str]] = [
        ("erased", f"CREATED on the Ganeti cluster {cluster.rapi}: instance {spec.name}"),
        ("item", f"  {where}, {spec.disk_template} disks: {disks}"),
        ("item", f"  boots the bootstrap OS with {format_size(spec.memory * MiB)} of memory"),
    ]
    stop = f"  {AFTER_TEXT.get('none', 'none')}"
    proof = cluster.migrated_address or "the network's address"
    then = f"  p2v starts {spec.name} and proves it booted: SSH at {proof} with the source's host key"
    out += [
        (kind, then if line == stop else line)
        for kind, line in confirm_summary(plan, fixups, "none", spec.name)
    ]
    return out


def describe_cluster(cluster: ClusterAnswers, spec: InstanceSpec) -> str:
    """What p2v creates on the cluster, in a few lines (``--dry-run``, the
    report): ``spec`` as :func:`~p2v_tui.model.cluster_plan.instance_spec`
    made it from ``cluster``."""
    trust = (
        f"certificate SHA256:{base64.b64encode(cluster.pin.sha256).decode().rstrip('=')}"
        if cluster.pin is not None
        else f"certificate of {cluster.certificate_file}"
    )
    where = f"on node {spec.pnode}" if spec.pnode else f"placed by {spec.iallocator}"
    disks = ", ".join(format_size(size * MiB) for size in spec.disks)
    lines = [
        f"Ganeti cluster {cluster.rapi}, RAPI user {cluster.user}, {trust}",
        f"  creates instance {spec.name} (stopped), {where}",
        f"  OS {spec.os_type}, {spec.disk_template} disks: {disks}",
        f"  memory {format_size(spec.memory * MiB)}, {spec.vcpus} vcpu{'s' if spec.vcpus != 1 else ''}",
    ]
    kept = [nic.mac == KEEP_MAC for nic in cluster.instance.nics]
    lines += [f"  NIC {i}: {_nic_text(nic, kept[i])}" for i, nic in enumerate(spec.nics)]
    kernel, initrd = spec.hvparams.get("kernel_path"), spec.hvparams.get("initrd_path")
    if kernel:
        lines.append(f"  boots the bootstrap OS: kernel {kernel}")
        lines.append(f"    initrd {initrd}")
    return "\n".join(lines) + "\n"
