"""Plain-text descriptions of the machine and the plan, for the console, the
report and the wizard's summaries. 80 columns, ASCII only (serial consoles)."""

from __future__ import annotations

import shlex

from .edits import FixupSet
from .machine import Machine
from .plan import Plan
from .target import InstanceFacts
from .units import format_size


def describe_machine(machine: Machine) -> str:
    lines = ["Source machine"]
    if machine.os.pretty_name or machine.os.hostname:
        lines.append(f"  {machine.os.pretty_name or 'unknown OS'}, hostname {machine.os.hostname or '?'}")
    for disk in machine.disks:
        state = f"  (not offered: {disk.excluded})" if disk.excluded else ""
        lines.append(
            f"  {disk.path}  {format_size(disk.size)}  {disk.table or 'no table'}  {disk.model}{state}"
        )
        for part in disk.partitions:
            flags = ",".join(sorted(part.flags))
            lines.append(f"    {part.path:<16} {format_size(part.size):>10}  {flags}")
    if machine.filesystems:
        lines.append("  Filesystems:")
        for fs in machine.filesystems:
            used = format_size(fs.used) if fs.used is not None else "unknown"
            lines.append(
                f"    {fs.device:<16} {fs.fstype:<6} {fs.mountpoint or '-':<12} "
                f"{used:>10} used of {format_size(fs.size)}"
            )
            for sv in fs.subvolumes:
                ro = " (read-only)" if sv.readonly else ""
                lines.append(f"      subvolume {sv.path or '<top>'} at {sv.mountpoint or '-'}{ro}")
            lines.extend(f"      note: {note}" for note in fs.notes)
    for swap in machine.swaps:
        lines.append(f"  Swap {swap.kind} {swap.path} {format_size(swap.size)}")
    for vg in machine.volume_groups:
        lines.append(f"  LVM volume group {vg.name} on {', '.join(vg.pvs)}: {format_size(vg.size)}")
        lines.extend(f"    LV {lv.name} {format_size(lv.size)}" for lv in vg.lvs)
    for md in machine.md_arrays:
        lines.append(f"  RAID {md.device} {md.level} of {', '.join(md.members)}")
    return "\n".join(lines) + "\n"


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
        lines.append(
            f"  {job.source_device}{job.source_path if job.source_path != '/' else ''} -> {job.dest}{excl}"
        )
    for sf in plan.swapfiles:
        lines.append(f"Swap file {sf.path}: {format_size(sf.size)} (recreated)")
    boot = (
        "its own kernel (GRUB on " + (plan.bootloader_disk or "?") + ")"
        if plan.boot == "own"
        else "the cluster kernel"
    )
    lines.append(f"Boot: {boot}")
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
        lines.append(f"  [{cmd.fixup}] run {shlex.join(cmd.argv)}: {cmd.reason}")
    lines.extend(f"  note: {note}" for note in fixups.notes)
    return "\n".join(lines) + "\n"
