"""Confirm: the last screen before anything is written. It names what will
be erased (each target disk of the named instance) and what will be copied
where, and continues only after the person typed the instance's name.
"""

from __future__ import annotations

from typing import Any

import urwid

from ...engine.prepare import Prepared
from ...model.answers import After
from ...model.plan import TARGET_ROOT, CopyJob, Plan
from ...model.units import format_size
from ..controller import Controller
from ..widgets.dialogs import ask_typed
from ..widgets.frame import WizardFrame
from .base import NAV_KEYS, STEPS, Navigator

AFTER: dict[str, str] = {
    "poweroff": "the bootstrap OS powers the instance off",
    "reboot": "the bootstrap OS reboots the instance",
    "none": "the instance keeps running the bootstrap OS (shut it down yourself)",
}


def indented(attr: str, line: str) -> Any:
    """A text line whose continuation rows keep its indent when it wraps."""
    body = line.lstrip(" ")
    return urwid.Padding(urwid.Text((attr, body)), left=len(line) - len(body))


def target_mountpoint(job: CopyJob) -> str:
    """Where a copy job's tree lands in the migrated system."""
    rel = job.dest[len(TARGET_ROOT) :] if job.dest.startswith(TARGET_ROOT) else job.dest
    return rel or "/"


def copy_lines(plan: Plan) -> list[str]:
    """``/dev/sda3 (/) -> /dev/vda1 ext4 /  24.5 MiB`` and its exclusions."""
    lines = []
    for job in plan.copies:
        where = target_mountpoint(job)
        part = plan.partition_at(job.mountpoint or where) or plan.partition_at(where)
        into = f"{part.device} {part.fstype or ''}".rstrip() if part is not None else job.dest
        src = job.source_device + (job.source_path if job.source_path != "/" else "")
        lines.append(f"  {src} -> {into} at {where}, {format_size(job.bytes)} used")
        if job.excludes:
            base = "" if where == "/" else where
            lines.append(f"      not copied: {', '.join(base + e for e in job.excludes)}")
    return lines


def summary_lines(prepared: Prepared, after: After, name: str) -> list[tuple[str, str]]:
    """(palette attribute, line) of the whole summary; ``name``: the
    instance whose disks are erased."""
    plan = prepared.plan
    out: list[tuple[str, str]] = [("error", f"ERASED on instance {name}:")]
    for dp in plan.disks:
        out.append(
            (
                "body",
                f"  {dp.disk.path}  {format_size(dp.disk.size)}: everything on it is replaced by"
                f" {len(dp.partitions)} new partitions ({dp.table})",
            )
        )
    out.append(("title", f"Copied ({format_size(plan.total_bytes)}):"))
    out += [("body", line) for line in copy_lines(plan)]
    swaps = [p for p in plan.partitions if p.role == "swap"]
    for p in swaps:
        out.append(("body", f"  new swap {p.device} {format_size(p.size)}"))
    for sf in plan.swapfiles:
        out.append(("body", f"  swap file {sf.path} {format_size(sf.size)} (recreated)"))
    if plan.dropped:
        out.append(("body", f"  not migrated: {', '.join(plan.dropped)}"))
    boot = (
        f"its own kernel (GRUB on {plan.bootloader_disk or '?'})"
        if plan.boot == "own"
        else "the cluster's kernel"
    )
    out.append(("title", "Then:"))
    out.append(("body", f"  {len(prepared.fixups.edits)} configuration files adapted; boots {boot}"))
    out.append(("body", f"  {AFTER.get(after, after)}"))
    out.append(("body", "Nothing on this (source) machine is changed."))
    return out


class ConfirmScreen:
    index = STEPS.index("Confirm")

    def __init__(self, controller: Controller, nav: Navigator) -> None:
        self.controller = controller
        self.nav = nav
        self._walker = urwid.SimpleListWalker([])
        self.frame = WizardFrame(
            STEPS,
            self.index,
            "Erase and copy?",
            urwid.ListBox(self._walker),
            NAV_KEYS,
            glyphs=nav.glyphs,
            on_back=nav.back,
            on_continue=self._continue,
            continue_label="Erase and copy",
        )

    def enter(self) -> None:
        prepared = self.controller.prepared
        self.frame.set_error(None)
        if prepared is None:
            self._walker[:] = [urwid.Text("There is no plan yet: go back to the layout.")]
            self.frame.set_continue(False, "no plan yet")
            return
        rows: list[Any] = [
            indented(attr, line)
            for attr, line in summary_lines(prepared, self.controller.answers.after, self._name(prepared))
        ]
        self._walker[:] = rows
        self.frame.set_title(f"Erase the disks of {self._name(prepared)} and copy this machine into it?")
        self.frame.set_continue(True)
        self.frame.focus_buttons()

    def _name(self, prepared: Prepared) -> str:
        """The instance as the target said when connecting."""
        connected = self.controller.connected
        return connected.facts.name if connected is not None else prepared.facts.name

    def _continue(self) -> None:
        prepared = self.controller.prepared
        if prepared is None or self.frame.modal_open:
            return
        disks = ", ".join(dp.disk.path for dp in prepared.plan.disks)
        ask_typed(
            self.frame,
            f"Everything on {disks} of {self._name(prepared)} will be erased.",
            self._name(prepared),
            "Erase and copy",
            self._answered,
        )

    def _answered(self, yes: bool) -> None:
        if yes:
            self.nav.next()
        else:
            self.frame.set_status("Nothing was written. Press Erase and copy when ready, or go back.")
