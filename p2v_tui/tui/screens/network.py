"""Welcome / network: what will happen, and whether this live system can
reach the target.

The first thing a person needs to know is that this machine is only read;
the second, whether the live system got an address. When DHCP gave nothing
a static address is typed here and applied at once, so the Target screen
that follows can reach the instance.
"""

from __future__ import annotations

from typing import Any

import urwid

from ...model.netconfig import (
    NetworkState,
    StaticConfig,
    summary,
    warnings_for,
)
from ...model.validate import parse_dns_list, typed_address_problem, typed_dns_problem, typed_gateway_problem
from ..controller import Controller, Done, Failed, Result
from ..widgets.common import PlainButton, styled_button
from ..widgets.fields import LABEL_WIDTH, RadioGroup, TextField
from ..widgets.frame import WizardFrame
from .base import NAV_KEYS, STEPS, Navigator

INTRO = (
    "This machine's disks are only read: nothing on them is changed.",
    "Its filesystems are copied over SSH into a Ganeti instance started with the",
    "p2v-target OS. Nothing is written there until you confirm, step 6.",
)

NO_ADDRESS_WARNING = "No interface has an address: set one below, or the target may be unreachable."


class EnterActs(urwid.WidgetWrap):  # type: ignore[misc]
    """Enter in a form field acts on the form (apply, connect): the frame
    would otherwise take an unhandled Enter as Continue and leave with what
    was just typed unused."""

    def __init__(self, widget: Any, action: Any) -> None:
        self._action = action
        super().__init__(widget)

    def keypress(self, size: tuple[int], key: str) -> str | None:
        rest: str | None = super().keypress(size, key)
        if rest == "enter":
            self._action()
            return None
        return rest


class NetworkScreen:
    index = STEPS.index("Network")

    def __init__(self, controller: Controller, nav: Navigator) -> None:
        self.controller = controller
        self.nav = nav
        glyphs = nav.glyphs
        self.state: NetworkState | None = None
        self._busy = False
        self._continue_when_done = False
        """Continue was pressed while the state was read or an address set."""
        self._iface_names: tuple[str, ...] = ()

        self._summary = urwid.Text("  reading the network state ...")
        self._iface_row = urwid.Pile([urwid.Text("")])
        self.address = TextField("Address/prefix", glyphs=glyphs, validate=typed_address_problem)
        self.gateway = TextField("Gateway", glyphs=glyphs, validate=typed_gateway_problem)
        self.dns = TextField("DNS servers", glyphs=glyphs, validate=typed_dns_problem)
        self.interface: RadioGroup | None = None
        apply = PlainButton("Apply static address", lambda _b: self.apply())
        apply_row = urwid.Padding(styled_button(apply), left=LABEL_WIDTH + 1, width=apply.width)
        self._form = urwid.Pile(
            [
                self._iface_row,
                EnterActs(self.address, self.apply),
                EnterActs(self.gateway, self.apply),
                EnterActs(self.dns, self.apply),
                apply_row,
            ]
        )
        items = [
            *(urwid.Text(line) for line in INTRO),
            urwid.Divider(),
            urwid.Text(("title", "This live system's network")),
            self._summary,
            urwid.Divider(),
            urwid.Text(("title", "Static address (only when there is no DHCP)")),
            self._form,
        ]
        body = urwid.ListBox(urwid.SimpleFocusListWalker(items))
        self.frame = WizardFrame(
            STEPS,
            self.index,
            "Welcome: this live system's network",
            body,
            NAV_KEYS,
            glyphs=glyphs,
            on_back=None,
            on_continue=self._continue,
            back_label=None,
        )

    # -- shown ------------------------------------------------------------

    def enter(self) -> None:
        self._busy = True
        self.frame.set_status("Reading the network state ...")
        self.controller.network_state(self._got_state)

    def _got_state(self, result: Result[NetworkState]) -> None:
        self._busy = False
        if isinstance(result, Failed):
            self._continue_when_done = False
            self.frame.set_error(f"Cannot read the network state: {result.message}")
            return
        self.frame.set_status(None)
        self._show_state(result.value)
        self._warn_without_address()
        self._continue_if_asked()

    def _show_state(self, state: NetworkState) -> None:
        self.state = state
        self._summary.set_text("\n".join(f"  {line}" for line in summary(state)))
        ethernet = [i for i in state.interfaces if i.kind == "ethernet"]
        names = tuple(i.name for i in ethernet)
        if names == self._iface_names:
            return
        self._iface_names = names
        label = urwid.Text("Interface", align="right", wrap="clip")
        if not ethernet:
            self.interface = None
            choice: Any = urwid.Text("no network card found")
        else:
            chosen = (
                next((i for i in ethernet if i.carrier and not i.global_addresses), None)
                or next((i for i in ethernet if i.carrier), None)
                or ethernet[0]
            )
            options = [(i.name, f"{i.name} {i.mac} {'link' if i.carrier else 'no link'}") for i in ethernet]
            self.interface = RadioGroup(options, chosen.name)
            choice = self.interface
        row = urwid.Columns([("fixed", LABEL_WIDTH, label), choice], dividechars=1)
        self._iface_row.contents[:] = [(row, self._iface_row.options())]
        if self.interface is not None:
            self._form.focus_position = 0  # the form starts at its first field

    def _has_address(self) -> bool:
        return self.state is not None and any(
            i.global_addresses for i in self.state.interfaces if i.kind != "loopback"
        )

    def _warn_without_address(self) -> None:
        if self.state is not None and not self._has_address():
            self.frame.set_status(NO_ADDRESS_WARNING)

    # -- acting ----------------------------------------------------------

    def apply(self) -> None:
        if self._busy:
            return
        if self.interface is None:
            self.frame.set_error("There is no network card to set an address on.")
            return
        errors = [
            f"{name}: {error}"
            for name, field in (("address", self.address), ("gateway", self.gateway), ("DNS", self.dns))
            if (error := field.check()) is not None
        ]
        if errors:
            self.frame.set_error("Not applied: " + "; ".join(errors))
            return
        cfg = StaticConfig(
            iface=self.interface.value,
            address_cidr=self.address.text.strip(),
            gateway=self.gateway.text.strip(),
            dns=parse_dns_list(self.dns.text),
        )
        self._busy = True
        self.frame.set_error(None)
        self.frame.set_status(f"Setting {cfg.address_cidr} on {cfg.iface} ...")
        self.controller.apply_network(cfg, lambda result: self._applied(cfg, result))

    def _applied(self, cfg: StaticConfig, result: Result[NetworkState]) -> None:
        self._busy = False
        if isinstance(result, Failed):
            self._continue_when_done = False
            self.frame.set_error(f"Not applied, nothing was changed: {result.message}")
            return
        assert isinstance(result, Done)
        self._show_state(result.value)
        notes = " ".join(f"Note: {w}." for w in warnings_for(cfg))
        self.frame.set_status(f"{cfg.address_cidr} set on {cfg.iface}. {notes}".strip())
        self._continue_if_asked()

    def _continue(self) -> None:
        if self._busy:  # remembered, not lost: done when the work is
            self._continue_when_done = True
            self.frame.set_status("Continuing as soon as this is done ...")
            return
        self.nav.next()

    def _continue_if_asked(self) -> None:
        """A Continue pressed while busy, now; unless there is no address,
        whose warning the person should see before going on."""
        asked, self._continue_when_done = self._continue_when_done, False
        if asked and self._has_address():
            self.nav.next()
