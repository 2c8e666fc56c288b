"""Source: what the probe found on this machine (read-only) and what of it
migrates: a checkbox per mount point and per disk, and paths to leave out
with what each saves."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from typing import Any

import urwid

from ...model.describe import (
    FILESYSTEM_COLUMNS,
    disk_line,
    filesystem_row,
    logical_volume_line,
    os_line,
    partition_line,
    partition_use,
    raid_line,
    subvolume_line,
    swap_row,
    volume_group_line,
)
from ...model.machine import Machine
from ...model.units import format_size
from ..controller import Controller, Done, Result
from ..widgets.common import PlainButton, styled_button
from ..widgets.fields import TextField
from .base import NAV_KEYS, STEPS, Navigator, list_frame

KEYS = [("Space", "toggle"), ("Enter", "add/remove"), *NAV_KEYS[2:]]


def exclusion_error(text: str) -> str | None:
    if text and not text.startswith("/"):
        return "an absolute path, as the source sees it: /var/cache/apt/archives"
    return None


class SourceScreen:
    index = STEPS.index("Source")

    def __init__(self, controller: Controller, nav: Navigator) -> None:
        self.controller = controller
        self.nav = nav
        self.glyphs = nav.glyphs
        self._walker, self.frame = list_frame(
            self.index, "Source: what is on this machine, and what migrates", KEYS, nav, self._continue
        )
        self._list: urwid.ListBox = self.frame.body
        self._busy = False
        self._sizes: dict[str, int] = {}
        self._asked: set[str] = set()
        """Exclusions measured or being measured (each once)."""
        self._add: TextField | None = None
        self._focus_body = False
        self._typed = False
        """The person added an exclusion: the focus stays on the add field."""

    # -- probing ------------------------------------------------------------

    def enter(self) -> None:
        self._focus_body = True
        if self.controller.machine is not None:
            self._show()
            return
        if self._busy:
            return
        self._busy = True
        self.frame.set_status("Reading the disks (read-only)" + ("..." if self.glyphs.ascii else "…"))
        self.frame.set_continue(False, "reading the disks")
        self.controller.probe(self._probed)

    def _probed(self, result: Result[Machine]) -> None:
        self._busy = False
        if isinstance(result, Done):
            self.frame.set_status(None)
            self._show()
        else:
            self.frame.set_error(f"Reading the disks failed: {result.message}")
            self.frame.set_continue(False, "the disks could not be read")
        self.nav.redraw()

    def _continue(self) -> None:
        if not self._busy and self.controller.machine is not None:
            self.nav.next()

    # -- choices ------------------------------------------------------------

    def _toggle_mount(self, mountpoint: str, box: Any, _old: bool) -> None:
        layout = self.controller.answers.layout
        drop = [d for d in layout.drop if d != mountpoint]
        if not box.get_state():
            drop.append(mountpoint)
        explicit = layout.explicit
        if explicit is not None:  # a dropped filesystem cannot keep a partition
            explicit = tuple(r for r in explicit if r.mountpoint not in drop)
        self.controller.set_layout(dataclasses.replace(layout, drop=tuple(drop), explicit=explicit))

    def _toggle_disk(self, path: str, box: Any, _old: bool) -> None:
        machine = self.controller.machine
        assert machine is not None
        chosen = set(self._chosen_disks(machine))
        if box.get_state():
            chosen.add(path)
        else:
            chosen.discard(path)
        self.controller.set_source_disks(tuple(d.path for d in machine.disks if d.path in chosen))

    def _chosen_disks(self, machine: Machine) -> tuple[str, ...]:
        if self.controller.answers.source_disks is not None:
            return self.controller.answers.source_disks
        return tuple(d.path for d in machine.disks if d.excluded is None)

    def _add_exclusion(self) -> None:
        if self._add is None or self._busy:
            return
        path = self._add.text.strip().rstrip("/") or self._add.text.strip()
        if not path or self._add.check() is not None:
            return
        layout = self.controller.answers.layout
        if path not in layout.exclude:
            self.controller.set_layout(dataclasses.replace(layout, exclude=(*layout.exclude, path)))
        self._busy = True
        self.frame.set_status(f"Measuring {path}" + ("..." if self.glyphs.ascii else "…"))
        self._asked.add(path)
        self._typed = True
        self.controller.measure_exclusions((path,), self._measured)

    def _measured(self, result: Result[Mapping[str, int]]) -> None:
        self._busy = False
        if isinstance(result, Done):
            self._sizes.update(result.value)
            self.frame.set_status(None)
        else:
            self.frame.set_error(f"Could not measure the exclusion: {result.message}")
        self._show(focus_add=self._typed)
        self._typed = False
        self.nav.redraw()

    def _remove_exclusion(self, path: str) -> None:
        layout = self.controller.answers.layout
        self.controller.set_layout(
            dataclasses.replace(layout, exclude=tuple(e for e in layout.exclude if e != path))
        )
        self._show(focus_add=True)

    def _remover(self, path: str) -> Callable[[Any], None]:
        return lambda _button: self._remove_exclusion(path)

    # -- drawing ------------------------------------------------------------

    def _show(self, focus_add: bool = False) -> None:
        self._draw(focus_add)
        self._measure_unmeasured()

    def _draw(self, focus_add: bool) -> None:
        machine = self.controller.machine
        assert machine is not None
        self.frame.set_continue(True)
        items = [
            *self._machine_items(machine),
            urwid.Divider(),
            *self._filesystem_items(machine),
            urwid.Divider(),
            *self._exclusion_items(),
        ]
        self._walker[:] = items
        if focus_add:
            self._list.set_focus(len(items) - 1)
        else:
            self._list.set_focus(next((i for i, w in enumerate(items) if w.selectable()), 0))
        if self._focus_body:  # the frame was built before there were fields
            self._focus_body = False
            self.frame.focus_body()

    def _machine_items(self, machine: Machine) -> list[Any]:
        """The OS, the disks (a checkbox each when there are several) with
        their partitions, volume groups and RAID arrays."""
        items: list[Any] = []
        if (system := os_line(machine)) is not None:
            items.append(urwid.Text(f" {system}"))
        chosen = self._chosen_disks(machine)
        several = len(machine.disks) > 1
        for disk in machine.disks:
            if several:
                box = urwid.CheckBox(disk_line(disk), disk.path in chosen)
                urwid.connect_signal(box, "postchange", self._toggle_disk, user_args=[disk.path])
                items.append(urwid.AttrMap(box, None, "field.focus"))
            else:
                items.append(urwid.Text(f" {disk_line(disk)}", wrap="clip"))
            items += [
                urwid.Text(f"   {partition_line(part, partition_use(machine, part.path))}", wrap="clip")
                for part in disk.partitions
            ]
        for vg in machine.volume_groups:
            items.append(urwid.Text(f" {volume_group_line(vg)}", wrap="clip"))
            items += [urwid.Text(f"   {logical_volume_line(lv)}", wrap="clip") for lv in vg.lvs]
        items += [urwid.Text(f" {raid_line(md)}", wrap="clip") for md in machine.md_arrays]
        return items

    def _filesystem_items(self, machine: Machine) -> list[Any]:
        """The table of filesystems and swap; a checkbox for each mount point
        that can stay behind."""
        items: list[Any] = [urwid.Text(("title", f"     {FILESYSTEM_COLUMNS}"))]
        drop = self.controller.answers.layout.drop
        for fs in machine.filesystems:
            line = filesystem_row(fs)
            if fs.mountpoint is None:
                items.append(urwid.Text(f"     {line}  (not in fstab)", wrap="clip"))
            elif fs.mountpoint == "/":
                items.append(urwid.Text(f"     {line}  (always)", wrap="clip"))
            else:
                box = urwid.CheckBox(line, fs.mountpoint not in drop)
                urwid.connect_signal(box, "postchange", self._toggle_mount, user_args=[fs.mountpoint])
                items.append(urwid.Padding(urwid.AttrMap(box, None, "field.focus"), left=1))
            items += [urwid.Text(f"            {subvolume_line(sv)}", wrap="clip") for sv in fs.subvolumes]
        items += [urwid.Text(f"     {swap_row(swap)}", wrap="clip") for swap in machine.swaps]
        return items

    def _exclusion_items(self) -> list[Any]:
        """The paths left out, each with what it saves, and the add field."""
        items: list[Any] = [urwid.Text(("title", " Not copied (the directories stay, empty)"))]
        for path in self.controller.answers.layout.exclude:
            measured = self._sizes.get(path)
            shown = format_size(measured) if measured is not None else "not measured"
            remove = PlainButton("Remove", self._remover(path))
            items.append(
                urwid.Columns(
                    [
                        urwid.Text(f"   {path}", wrap="clip"),
                        ("fixed", 12, urwid.Text(shown, align="right")),
                        ("fixed", remove.width, styled_button(remove)),
                    ],
                    dividechars=1,
                )
            )
        self._add = TextField("Add a path", glyphs=self.glyphs, validate=exclusion_error, label_width=12)
        items.append(_EnterAdds(self._add, self._add_exclusion))
        return items

    # -- measuring ----------------------------------------------------------

    def _measure_unmeasured(self) -> None:
        """Measure, once each, the exclusions not asked about yet (those of
        the answers file, on the first showing)."""
        unmeasured = tuple(p for p in self.controller.answers.layout.exclude if p not in self._asked)
        if unmeasured and not self._busy:
            self._asked.update(unmeasured)
            self._busy = True
            self.controller.measure_exclusions(unmeasured, self._measured)


class _EnterAdds(urwid.WidgetWrap):  # type: ignore[misc]
    """The add field: Enter adds what was typed (and does not continue)."""

    def __init__(self, field: TextField, on_enter: Any) -> None:
        self._on_enter = on_enter
        self._field = field
        super().__init__(field)

    def keypress(self, size: tuple[int], key: str) -> str | None:
        if key == "enter" and self._field.text.strip():
            self._on_enter()
            return None
        result: str | None = super().keypress(size, key)
        return result
