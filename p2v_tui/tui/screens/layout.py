"""Layout: the planned target disks, each as a bar, and a table to resize,
refit or move each filesystem; whether the data fits is always in view.

Every edit becomes an explicit layout (model/layout_edit) that the controller
plans again; while the result does not fit, the bars show the request
overflowing, the reason is on screen and Continue is refused.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import urwid

from ...engine.prepare import Prepared
from ...model.layout_edit import (
    SWAP,
    Edit,
    Fit,
    Move,
    Rest,
    SetSize,
    Step,
    SwapPolicyEdit,
    apply_edit,
    current_requests,
    partition_for,
    shown_size,
)
from ...model.plan import LayoutRequest, SwapPolicy
from ...model.units import MiB, format_size
from ..controller import Controller, Done, Result
from ..widgets.common import PlainButton, boxed, styled_button, truncate_end
from ..widgets.diskbar import DiskBar, Segment
from ..widgets.fields import SizeField
from .base import STEPS, Navigator, list_frame

KEYS = [
    ("+/-", "size"),
    ("Enter", "type size"),
    ("f", "fit"),
    ("r", "rest"),
    ("m", "move"),
    ("a", "automatic"),
    ("F2", "continue"),
    ("Esc", "back"),
    ("F10", "quit"),
]

HEADER = f"  {'Mount':<14} {'FS':<6} {'Size':>10} {'Mode':<5} {'Used':>10} {'Needs':>10}  Disk"


class _Row(urwid.WidgetWrap):  # type: ignore[misc]
    """One table line; its keys go to the screen with the row's index."""

    def __init__(self, index: int, text: str, on_key: Callable[[int, str], bool]) -> None:
        self.index = index
        self._on_key = on_key
        super().__init__(urwid.AttrMap(urwid.Text(text, wrap="clip"), None, "field.focus"))

    def selectable(self) -> bool:
        return True

    def keypress(self, size: tuple[int], key: str) -> str | None:
        return None if self._on_key(self.index, key) else key


class _SizeDialog(urwid.WidgetWrap):  # type: ignore[misc]
    """A typed size: Enter applies it when valid, Esc cancels."""

    def __init__(self, question: str, field: SizeField, on_done: Callable[[int | None], None], glyphs: Any):
        self.field = field
        self._on_done = on_done
        ok = PlainButton("Apply", lambda _b: self._apply())
        body = urwid.Pile(
            [
                urwid.Text(question),
                field,
                urwid.Text("Sizes such as 20G, 512M, 1.5T. Enter applies, Esc cancels."),
                urwid.Padding(styled_button(ok), align="center", width=ok.width),
            ]
        )
        body.focus_position = 1
        super().__init__(urwid.AttrMap(boxed(urwid.Padding(body, left=1, right=1), glyphs, "Size"), "dialog"))

    def _apply(self) -> None:
        if self.field.check() is None:
            self._on_done(self.field.size)

    def keypress(self, size: tuple[int], key: str) -> str | None:
        if key == "esc":
            self._on_done(None)
        elif key == "enter":
            self._apply()
        else:
            super().keypress(size, key)
        return None  # a modal keeps every key


class LayoutScreen:
    index = STEPS.index("Layout")

    def __init__(self, controller: Controller, nav: Navigator) -> None:
        self.controller = controller
        self.nav = nav
        self.glyphs = nav.glyphs
        self._walker, self.frame = list_frame(
            self.index, "Target layout: size, fit or move each filesystem", KEYS, nav, self._continue
        )
        self._list: urwid.ListBox = self.frame.body
        self._busy = False
        self._fits = False
        self._reason = ""
        self._base: Prepared | None = None
        self._rows: list[_Row] = []
        self._swap_row: Any = None
        self._focus_rows = False
        """Put the focus on the table once it is first shown."""

    # -- planning -----------------------------------------------------------

    def enter(self) -> None:
        self._focus_rows = True
        self._replan()

    def _replan(self) -> None:
        if self._busy:
            return
        self._busy = True
        self.frame.set_error(None)
        self.frame.set_status("Planning the layout…" if not self.glyphs.ascii else "Planning the layout...")
        self.frame.set_continue(False, "planning")
        self.controller.plan(self._planned)

    def _planned(self, result: Result[Prepared]) -> None:
        self._busy = False
        if isinstance(result, Done):
            self._base = result.value
            self._fits = True
            self._reason = ""
            self.frame.set_status(None)
            self.frame.set_continue(True)
        else:
            self._fits = False
            self._reason = result.message
            if self._base is None:
                self._base = self.controller.prepared
            # The first line says what is missing; the rest (what could be
            # excluded) is under the table, where there is room for it.
            self.frame.set_error(self._summary())
            why = "the data does not fit" if self._base is not None else "no layout possible"
            self.frame.set_continue(False, why)
        self._rebuild()
        self.nav.redraw()

    def _continue(self) -> None:
        if not self._busy and self._fits:
            self.nav.next()

    # -- editing ------------------------------------------------------------

    def _requests(self) -> tuple[LayoutRequest, ...]:
        assert self._base is not None
        return current_requests(self._base.plan, self.controller.answers.layout, self._base.machine)

    def _edit(self, edit: Edit) -> None:
        if self._busy or self._base is None:
            return
        b = self._base
        old = self.controller.answers.layout
        new = apply_edit(edit, plan=b.plan, choices=old, machine=b.machine, disks=b.disks)
        if new == old:
            self.frame.set_status("Nothing to change: it is at its smallest already.")
            return
        self.controller.set_layout(new)
        self._replan()

    def _automatic(self) -> None:
        if self._busy:
            return
        layout = self.controller.answers.layout
        if layout.explicit is not None:
            self.controller.set_layout(dataclasses.replace(layout, explicit=None))
            self._replan()

    def _row_key(self, index: int, key: str) -> bool:
        disks = self._base.disks if self._base is not None else ()
        if key in ("+", "="):
            self._edit(Step(index, 1))
        elif key == "-":
            self._edit(Step(index, -1))
        elif key == "f":
            self._edit(Fit(index))
        elif key == "r":
            self._edit(Rest(index))
        elif key == "enter":
            self._ask_size(index)
        elif key == "m":
            if len(disks) < 2:
                self.frame.set_status("The instance has one disk: there is nowhere to move it.")
            else:
                order = [d.index for d in disks]
                now = self._requests()[index].disk
                nxt = order[(order.index(now) + 1) % len(order)] if now in order else order[0]
                self._edit(Move(index, nxt))
        elif key == "a":
            self._automatic()
        else:
            return False
        return True

    def _ask_size(self, index: int | None) -> None:
        """Type the size of row ``index`` (None: the swap size policy)."""
        if self._busy or self._base is None:
            return
        b = self._base
        reqs = self._requests()
        if index is None:
            question = "Size of each swap partition:"
            swaps = [i for i, r in enumerate(reqs) if r.mountpoint == SWAP]
            now = self._size_of(swaps[0]) if swaps else 0
            maximum = max(d.size for d in b.disks)
        else:
            r = reqs[index]
            disk = next(d for d in b.disks if d.index == r.disk)
            question = f"Size of {r.mountpoint} on {disk.path} ({format_size(disk.size)}):"
            now = self._size_of(index)
            maximum = disk.size
        field = SizeField("New size", now or None, glyphs=self.glyphs, minimum=MiB, maximum=maximum)

        def done(size: int | None) -> None:
            self.frame.close_modal()
            if size is None:
                self._rebuild()  # the swap choice shows the policy in force again
                return
            self._edit(SwapPolicyEdit(size) if index is None else SetSize(index, size))

        self.frame.open_modal(_SizeDialog(question, field, done, self.glyphs), 60, "pack")

    def _swap_chosen(self, policy: str) -> None:
        if policy == "size":
            self._ask_size(None)
        else:
            self._edit(SwapPolicyEdit(policy))  # type: ignore[arg-type]

    # -- drawing ------------------------------------------------------------

    def _size_of(self, index: int) -> int:
        assert self._base is not None
        reqs = self._requests()
        part = partition_for(reqs, index, self._base.plan, self._base.machine)
        disk_size = next((d.size for d in self._base.disks if d.index == reqs[index].disk), 0)
        return shown_size(reqs[index], part, disk_size, self._fits)

    def _indicator(self) -> Any:
        g = self.glyphs
        if self._fits and self._base is not None:
            plan = self._base.plan
            free = sum(dp.disk.size - sum(p.size for p in dp.partitions) for dp in plan.disks)
            text = (
                f" {g.check} The data fits: {format_size(plan.total_bytes)} to copy, "
                f"{format_size(max(0, free))} left unpartitioned."
            )
            return urwid.Text(("check.done", text))
        return urwid.Text(("error", f" {g.cross} Does not fit: {self._summary()}"), wrap="clip")

    def _summary(self) -> str:
        """The planner's first line up to its details (``needs 2 GiB more
        than /dev/vda offers``); all of it is under the table."""
        first = self._reason.splitlines()[0] if self._reason else "planning"
        return truncate_end(first.split(": ", 1)[0] if len(first) > 60 else first, 64, self.glyphs.ellipsis)

    def _rebuild(self) -> None:
        focus: Any = self._list.focus.index if isinstance(self._list.focus, _Row) else None
        if self._swap_row is not None and self._list.focus is self._swap_row:
            focus = SWAP
        self._swap_row = None
        items: list[Any] = [self._indicator()]
        self._rows = []
        b = self._base
        if b is None:
            self._walker[:] = items
            return
        reqs = self._requests()
        sizes = [self._size_of(i) for i in range(len(reqs))]
        for disk in b.disks:
            segs: list[Segment] = [
                ("bios_grub", p.size, "bios_grub")
                for p in b.plan.partitions
                if p.disk_index == disk.index and p.role == "bios_grub"
            ]
            for r, size in zip(reqs, sizes, strict=True):
                if r.disk == disk.index:
                    kind = "swap" if r.mountpoint == SWAP else "filesystem"
                    segs.append((r.mountpoint, size, kind))
            items.append(DiskBar(disk.path, disk.size, segs, self.glyphs))
        items += [urwid.Divider(), urwid.Text(("title", HEADER), wrap="clip")]
        for i, r in enumerate(reqs):
            row = _Row(i, self._row_text(i, r, sizes[i]), self._row_key)
            self._rows.append(row)
            items.append(row)
        if any(r.mountpoint == SWAP for r in reqs) or any(s for s in b.machine.swaps):
            self._swap_row = self._swap_choice()
            items += [urwid.Divider(), self._swap_row]
        if not self._fits and self._reason:
            items += [urwid.Divider(), urwid.Text(("reason", self._reason))]
        self._walker[:] = items
        if self._rows:
            target: Any = self._rows[0]
            if focus == SWAP and self._swap_row is not None:
                target = self._swap_row
            elif isinstance(focus, int) and focus < len(self._rows):
                target = self._rows[focus]
            self._list.set_focus(items.index(target))
            if self._focus_rows:
                self._focus_rows = False
                self.frame.focus_body()

    def _row_text(self, i: int, r: LayoutRequest, size: int) -> str:
        assert self._base is not None
        b = self._base
        part = partition_for(self._requests(), i, b.plan, b.machine)
        src = next((fs for fs in b.machine.filesystems if part and fs.device == part.source), None)
        used = format_size(src.used) if src is not None and src.used is not None else "-"
        needs = format_size(part.min_size) if part is not None and part.min_size else "-"
        fstype = r.fstype or (part.fstype if part else None) or ("swap" if r.mountpoint == SWAP else "-")
        mode = {"size": "", "fit": "fit", "rest": "rest", "percent": f"{r.size}%"}[r.mode]
        shown = format_size(size) if size else "rest"
        disk = next((d.path for d in b.disks if d.index == r.disk), f"disk {r.disk}")
        return f"  {r.mountpoint:<14} {fstype:<6} {shown:>10} {mode:<5} {used:>10} {needs:>10}  {disk}"

    def _swap_choice(self) -> Any:
        policy: SwapPolicy = self.controller.answers.layout.swap
        now = policy if isinstance(policy, str) else "size"
        group: list[Any] = []
        cells: list[Any] = [("fixed", 7, urwid.Text("  Swap:"))]
        labels = {"auto": "auto", "keep": "keep", "drop": "drop", "size": "size"}
        if isinstance(policy, int):
            labels["size"] = f"size {format_size(policy)}"
        for key, label in labels.items():
            button = urwid.RadioButton(group, label, key == now)
            urwid.connect_signal(button, "postchange", self._radio_changed, user_args=[key])
            cells.append(("fixed", len(label) + 5, urwid.AttrMap(button, None, "field.focus")))
        cols = urwid.Columns(cells, dividechars=1)
        cols.focus_position = 1 + list(labels).index(now)
        return cols

    def _radio_changed(self, key: str, button: Any, _old: bool) -> None:
        if button.get_state():
            self._swap_chosen(key)
