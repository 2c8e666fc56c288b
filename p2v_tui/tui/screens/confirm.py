"""Confirm: the last screen before anything is written. It names what will
be erased (each target disk of the named instance) and what will be copied
where, and continues only after the person typed the instance's name.
"""

from __future__ import annotations

from typing import Any

import urwid

from ...engine.prepare import Prepared
from ...model.describe import SummaryKind, cluster_confirm_summary, confirm_summary
from ..controller import Controller
from ..widgets.dialogs import ask_typed
from ..widgets.frame import WizardFrame
from .base import NAV_KEYS, STEPS, Navigator

ATTR: dict[SummaryKind, str] = {"erased": "error", "heading": "title", "item": "body"}
"""The palette attribute of each kind of summary line."""


def indented(attr: str, line: str) -> Any:
    """A text line whose continuation rows keep its indent when it wraps."""
    body = line.lstrip(" ")
    return urwid.Padding(urwid.Text((attr, body)), left=len(line) - len(body))


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
        ready = self.controller.cluster_ready
        if ready is not None:
            summary = cluster_confirm_summary(prepared.plan, prepared.fixups, ready.cluster, ready.spec)
        else:
            summary = confirm_summary(
                prepared.plan,
                prepared.fixups,
                self.controller.answers.after,
                self._name(prepared),
                self.controller.warm,
            )
        rows: list[Any] = [indented(ATTR[kind], line) for kind, line in summary]
        self._walker[:] = rows
        verb = "Create" if ready is not None else "Erase the disks of"
        self.frame.set_title(f"{verb} {self._name(prepared)} and copy this machine into it?")
        self.frame.set_continue(True)
        self.frame.focus_buttons()

    def _name(self, prepared: Prepared) -> str:
        """The instance as the target said when connecting (or as it will be created)."""
        return self.controller.instance_name or prepared.facts.name

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
