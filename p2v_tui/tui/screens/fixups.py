"""Fixups: every change the migration makes to the migrated system's
configuration, each readable as a diff before anything is written, and the
few settings that decide them (hostname, addressing, boot mode).

Every settings change goes through the controller (``set_fixups`` /
``set_layout``) and plans again, so the list and the diffs shown are always
the ones the executor will apply. Secrets in the diffs' context lines are
masked as they are in the report.
"""

from __future__ import annotations

import dataclasses
import shlex
from collections.abc import Callable
from functools import partial
from typing import Any

import urwid

from ...engine.prepare import Prepared
from ...model.edits import FileEdit, FixupChoices, StaticAddress
from ...model.fixups.network import static_problem
from ...model.validate import (
    clean_hostname,
    parse_dns_list,
    typed_address_problem,
    typed_dns_problem,
    typed_gateway_problem,
    typed_hostname_problem,
)
from ..controller import Controller, Done, Failed, Result
from ..widgets.common import FitLine, Markup, PlainButton, styled_button, truncate_end
from ..widgets.diffview import DiffView
from ..widgets.fields import LABEL_WIDTH, RadioGroup, TextField
from ..widgets.frame import WizardFrame
from .base import NAV_KEYS, STEPS, Navigator

ADDRESSING = [("keep", "keep the source's"), ("static", "static address")]
BOOT_MODES = [
    ("own", "own kernel via its bootloader (GRUB)"),
    ("cluster", "the cluster's kernel (no bootloader)"),
]
DIFF_KEYS = [("Up/Down PgUp/PgDn", "scroll"), ("Esc", "back to the list"), ("F10", "quit")]


def edit_line(edit: FileEdit, width: int) -> str:
    """``/etc/fstab  fstab: why`` fitted to ``width``."""
    text = f"   {edit.path:<32} {edit.fixup}: {edit.reason}"
    return truncate_end(text, width, "...")


def _labelled(label: str, widget: Any) -> Any:
    """``label`` in the fields' label column, ``widget`` beside it."""
    return urwid.Columns([("fixed", LABEL_WIDTH, urwid.Text(label, align="right")), widget], dividechars=1)


def _title(prepared: Prepared) -> str:
    fixups = prepared.fixups
    return (
        f"Configuration changes: {len(fixups.edits)} files, {len(fixups.commands)} commands"
        f" for {prepared.facts.name}"
    )


def _line(text: str) -> Any:
    """A line cut with an ellipsis when too long, never wrapped."""
    return FitLine(lambda w: truncate_end(text, w, "..."))


class Row(urwid.WidgetWrap):  # type: ignore[misc]
    """One selectable line; Enter calls ``on_enter``."""

    def __init__(self, make: Callable[[int], Markup], on_enter: Callable[[], None]) -> None:
        self._on_enter = on_enter
        super().__init__(urwid.AttrMap(FitLine(make), None, "field.focus"))

    def selectable(self) -> bool:
        return True

    def keypress(self, size: tuple[int], key: str) -> str | None:
        if key == "enter":
            self._on_enter()
            return None
        return key


class _Body(urwid.WidgetPlaceholder):  # type: ignore[misc]
    """The list, or one diff over it; keys the shown widget leaves go to
    ``on_key`` first (Esc closes a diff, Enter applies settings)."""

    def __init__(self, widget: Any, on_key: Callable[[str], bool]) -> None:
        super().__init__(widget)
        self._on_key = on_key

    def keypress(self, size: tuple[int, int], key: str) -> str | None:
        rest: str | None = self.original_widget.keypress(size, key)
        if rest is not None and self._on_key(rest):
            return None
        return rest


class FixupsScreen:
    index = STEPS.index("Fixups")

    def __init__(self, controller: Controller, nav: Navigator) -> None:
        self.controller = controller
        self.nav = nav
        g = nav.glyphs
        self._busy = False
        self._loading = False
        self._again = False
        self._failed: str | None = None
        self._diff: DiffView | None = None
        self._optional: dict[str, Any] = {}

        self.hostname = TextField(
            "Hostname", glyphs=g, validate=typed_hostname_problem, on_change=self._typed
        )
        self.addressing = RadioGroup(ADDRESSING, "keep", on_change=self._apply)
        self.address = TextField("Address", glyphs=g, validate=self._address_error, on_change=self._typed)
        self.gateway = TextField("Gateway", glyphs=g, validate=typed_gateway_problem, on_change=self._typed)
        self.dns = TextField("DNS servers", glyphs=g, validate=typed_dns_problem, on_change=self._typed)
        self.boot = RadioGroup(BOOT_MODES, "own", on_change=self._apply)
        # made once: the list is rebuilt after each change and keeps its
        # focus only on the same widgets (a new wrapper sent it to the top)
        self._addressing_row = _labelled("Addressing", self.addressing)
        self._boot_row = _labelled("Boot", self.boot)
        apply = PlainButton("Apply", lambda _b: self._apply())
        self._apply_row = urwid.Padding(styled_button(apply), left=LABEL_WIDTH + 1, width=apply.width)
        self._walker = urwid.SimpleListWalker([urwid.Text("")])
        self._list = urwid.ListBox(self._walker)
        self._body = _Body(self._list, self._body_key)
        self.frame = WizardFrame(
            STEPS,
            self.index,
            "Configuration changes",
            self._body,
            NAV_KEYS,
            glyphs=g,
            on_back=self._back,
            on_continue=self._continue,
        )

    # -- the screen contract -------------------------------------------------

    def enter(self) -> None:
        c = self.controller
        fx = c.answers.fixups
        name = c.prepared.facts.name if c.prepared else c.connected.facts.name if c.connected else ""
        self._loading = True  # showing the answers is not a change
        try:
            self.hostname.set_text(fx.hostname or name)
            self.addressing.set_value("static" if fx.static else "keep")
            self.address.set_text(fx.static.address if fx.static else "")
            self.gateway.set_text(fx.static.gateway or "" if fx.static else "")
            self.dns.set_text(", ".join(fx.static.dns) if fx.static else "")
            self.boot.set_value(c.answers.layout.boot)
            for fid, box in self._optional.items():
                box.set_state(fid not in fx.disabled)
        finally:
            self._loading = False
        self._close_diff()
        self._failed = None
        self.frame.set_error(None)
        if c.prepared is None:
            self._plan()
        else:
            self._show(c.prepared)

    # -- what the person chose ------------------------------------------------

    def _address_error(self, text: str) -> str | None:
        return typed_address_problem(text) if self.addressing.value == "static" else None

    def _choices(self) -> tuple[FixupChoices, str] | str:
        """The fixup choices and boot mode the form says, or what is wrong."""
        fields = [("Hostname", self.hostname), ("Address", self.address)]
        fields += [("Gateway", self.gateway), ("DNS servers", self.dns)]
        for label, field in fields:
            error = field.check()
            if error:
                return f"{label}: {error}"
        static = None
        if self.addressing.value == "static":
            static = StaticAddress(
                self.address.text.strip(), self.gateway.text.strip() or None, parse_dns_list(self.dns.text)
            )
            problem = static_problem(static)  # what each field cannot say alone (a gateway's family)
            if problem:
                return f"Address: {problem}"
        disabled = frozenset(fid for fid, box in self._optional.items() if not box.get_state())
        fx = dataclasses.replace(
            self.controller.answers.fixups,
            hostname=clean_hostname(self.hostname.text),
            static=static,
            disabled=disabled,
        )
        return fx, self.boot.value

    def _changed(self) -> bool:
        got = self._choices()
        if isinstance(got, str):
            return True
        fx, boot = got
        a = self.controller.answers
        return fx != a.fixups or boot != a.layout.boot

    def _typed(self) -> None:
        if not self._loading:
            self._update_continue()

    def _apply(self) -> None:
        if self._loading:
            return
        if self._busy:
            self._again = True
            return
        got = self._choices()
        if isinstance(got, str):
            self.frame.set_error(got)
            self._update_continue()
            return
        fx, boot = got
        c = self.controller
        if fx == c.answers.fixups and boot == c.answers.layout.boot and self._failed is None:
            self._update_continue()
            return
        c.set_fixups(fx)
        if boot != c.answers.layout.boot:
            c.set_layout(dataclasses.replace(c.answers.layout, boot=boot))  # type: ignore[arg-type]
        self._plan()

    def _plan(self) -> None:
        self._busy = True
        self.frame.set_error(None)
        self.frame.set_status("Planning the changes again ...")
        self._update_continue()
        self.controller.plan(self._planned)

    def _planned(self, result: Result[Prepared]) -> None:
        self._busy = False
        self.frame.set_status(None)
        if isinstance(result, Failed):
            self._failed = result.message
            self.frame.set_error(f"The plan failed: {result.message}")
        elif isinstance(result, Done):
            self._failed = None
            self._show(result.value)
        if self._again:
            self._again = False
            self._apply()
            return
        self._update_continue()

    def _update_continue(self) -> None:
        if self._diff is not None:
            self.frame.set_continue(False, "Esc returns to the list")
        elif self._busy:
            self.frame.set_continue(False, "planning ...")
        elif self._failed is not None:
            self.frame.set_continue(False, "not possible as chosen (see below)")
        elif self.controller.prepared is None:
            self.frame.set_continue(False, "no plan yet")
        elif self._changed():
            self.frame.set_continue(False, "settings changed: Enter or Apply")
        else:
            self.frame.set_continue(True)

    # -- the list ---------------------------------------------------------------

    def _show(self, prepared: Prepared) -> None:
        fixups = prepared.fixups
        edits = fixups.edits
        focused = self._list.focus
        rows: list[Any] = [urwid.Text(("title", " Files changed (Enter shows the diff):"))]
        for i, edit in enumerate(edits):
            rows.append(Row(partial(edit_line, edit), partial(self.open_diff, i)))
        if fixups.commands:
            rows.append(urwid.Text(("title", " Run in the migrated system:")))
            for cmd in fixups.commands:
                rows.append(_line(f"   {shlex.join(cmd.argv)}  ({cmd.reason})"))
        if fixups.optional_ids:
            rows.append(urwid.Text(("title", " Optional changes (Space turns one off):")))
            for fid in sorted(fixups.optional_ids):
                box = self._optional.get(fid)
                if box is None:
                    box = urwid.CheckBox("", fid not in prepared.fixup_choices.disabled)
                    urwid.connect_signal(box, "postchange", lambda _b, _o: self._apply())
                    self._optional[fid] = box
                paths = [e.path for e in edits if fid in e.fixup.split("+")]
                box.set_label(f"{fid}: {', '.join(paths) if paths else 'turned off'}")
                rows.append(urwid.Padding(urwid.AttrMap(box, None, "field.focus"), left=3))
        rows += [
            urwid.Text(("title", " Settings:")),
            self.hostname,
            self._addressing_row,
            self.address,
            self.gateway,
            self.dns,
            self._boot_row,
            self._apply_row,
        ]
        notes = fixups.notes + prepared.plan.notes
        if notes:
            rows.append(urwid.Text(("title", " Left as they are:")))
            rows += [urwid.Text(f"   {note}") for note in notes]
        self._walker[:] = rows
        if focused in rows and focused is not None:
            self._list.set_focus(rows.index(focused))
        else:
            self._list.set_focus(1 if edits else next(i for i, r in enumerate(rows) if r.selectable()))
        self.frame.set_title(_title(prepared))
        # a plan that a run would refuse (the source cannot boot its own
        # disk): said here, where the boot mode is chosen, and not continued
        self._failed = prepared.refusal
        if prepared.refusal:
            self.frame.set_error(f"Not possible: {prepared.refusal}")

    # -- one diff ---------------------------------------------------------------

    def open_diff(self, i: int) -> None:
        prepared = self.controller.prepared
        if prepared is None or self._busy:
            return
        edits = prepared.fixups.edits
        edit = edits[i]
        self._diff = DiffView(
            edit.shown_diff(), self.nav.glyphs, path=edit.path, index=i + 1, count=len(edits)
        )
        self._body.original_widget = self._diff
        self.frame.set_title(f"{edit.fixup}: {edit.reason}")
        self.frame.set_keys(DIFF_KEYS)
        self.frame.focus_body()
        self._update_continue()

    def _close_diff(self) -> None:
        if self._diff is None:
            return
        self._diff = None
        self._body.original_widget = self._list  # as it was: on the row the diff is of
        self.frame.set_keys(NAV_KEYS)
        if self.controller.prepared is not None:
            self.frame.set_title(_title(self.controller.prepared))
        self.frame.focus_body()
        self._update_continue()

    # -- keys and buttons ---------------------------------------------------------

    def _body_key(self, key: str) -> bool:
        if self._diff is not None:
            if key in ("esc", "backspace", "q"):
                self._close_diff()
            return key != "f10"  # nothing else may act behind a diff
        if key == "enter" and self._changed():
            self._apply()
            return True
        return False

    def _back(self) -> None:
        if self._diff is not None:
            self._close_diff()
        else:
            self.nav.back()

    def _continue(self) -> None:
        if self._busy or self._diff is not None:
            return
        if self._changed():
            self._apply()
            return
        if self._failed is None and self.controller.prepared is not None:
            self.nav.next()
