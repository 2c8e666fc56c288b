"""The welcome / network screen, driven by keys with the controller mocked
(autospec) over the demo's recorded network state."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from unittest.mock import create_autospec

import pytest

from p2v_tui.demo import DemoNetwork
from p2v_tui.model.netconfig import NetworkState, StaticConfig
from p2v_tui.tui.controller import Controller, Done, Failed, Result
from p2v_tui.tui.screens.network import NO_ADDRESS_WARNING, NetworkScreen
from p2v_tui.tui.widgets.theme import ASCII_GLYPHS, UTF8_GLYPHS, Glyphs

from ..render import is_ascii, press, render, screen
from .support import FakeNav, save_screen


def no_lease(state: NetworkState) -> NetworkState:
    """The demo's interfaces as they are when no DHCP server answered."""
    bare = tuple(
        dataclasses.replace(i, addresses=tuple(a for a in i.addresses if a.startswith("fe80")), dynamic=())
        if i.kind != "loopback"
        else i
        for i in state.interfaces
    )
    return NetworkState(bare, (), ())


class Setup:
    def __init__(self, state: NetworkState, glyphs: Glyphs = UTF8_GLYPHS) -> None:
        self.network = DemoNetwork()
        self.network._state = state  # the demo network applies to this state
        self.controller = create_autospec(Controller, instance=True)
        self.controller.network_state.side_effect = lambda done: done(Done(self.network.state()))
        self.applied: list[StaticConfig] = []

        def apply(cfg: StaticConfig, done: object) -> None:
            self.applied.append(cfg)
            result: Result[NetworkState]
            try:
                result = Done(self.network.apply(cfg))
            except ValueError as e:
                result = Failed(str(e))
            done(result)  # type: ignore[operator]

        self.controller.apply_network.side_effect = apply
        self.nav = FakeNav(glyphs)
        self.screen = NetworkScreen(self.controller, self.nav)
        self.screen.enter()


@pytest.fixture
def dhcp() -> Setup:
    return Setup(DemoNetwork().state())


@pytest.fixture
def bare() -> Setup:
    return Setup(no_lease(DemoNetwork().state()))


def test_welcome_says_what_happens_and_shows_the_dhcp_lease(dhcp: Setup) -> None:
    lines = render(dhcp.screen.frame)
    text = "\n".join(lines)
    assert len(lines) == 24 and all(len(line) == 80 for line in lines)
    assert "disks are only read" in text
    assert "over SSH into a Ganeti instance started with the" in text and "p2v-target OS" in text
    assert "Nothing is written there until you confirm" in text
    assert "eth0 192.0.2.10/24 (DHCP), 2001:db8::10/64 (auto)" in text
    assert "DNS 192.0.2.53" in text
    assert "eth1 52:54:00:12:34:57 no link" in text
    assert NO_ADDRESS_WARNING not in text
    assert "[ Continue ]" in text and "[ Back ]" not in text
    save_screen("network", lines)


def test_continue_goes_on_with_a_lease(dhcp: Setup) -> None:
    press(dhcp.screen.frame, "f3")  # nothing
    dhcp.screen.frame.focus_buttons()
    press(dhcp.screen.frame, "enter")
    assert dhcp.nav.calls == ["next"]


def test_no_dhcp_warns_but_continue_is_allowed(bare: Setup) -> None:
    text = screen(bare.screen.frame)
    assert "no address: no DHCP answer on eth0; no link on eth1 - set one below" in text
    assert "No interface has an address" in text
    bare.screen.frame.focus_buttons()
    press(bare.screen.frame, "enter")
    assert bare.nav.calls == ["next"]


def flat(widget: object) -> str:
    """The screen's words with wrapping undone (a long message spans lines)."""
    return " ".join(screen(widget).split())


def type_text(s: Setup, text: str) -> None:
    press(s.screen.frame, *text)


def test_typing_a_static_address_applies_it_and_shows_the_new_state(bare: Setup) -> None:
    frame = bare.screen.frame
    # focus starts on the interface choice (eth0: the card with a link)
    assert bare.screen.interface is not None and bare.screen.interface.value == "eth0"
    press(frame, "tab", "tab")  # over eth1 to the address
    type_text(bare, "192.0.2.77/24")
    press(frame, "tab")
    type_text(bare, "192.0.2.1")
    press(frame, "tab")
    type_text(bare, "192.0.2.53, 198.51.100.53")
    press(frame, "enter")  # Enter in the form applies, it does not leave
    assert bare.nav.calls == []
    assert bare.applied == [
        StaticConfig("eth0", "192.0.2.77/24", "192.0.2.1", ("192.0.2.53", "198.51.100.53"))
    ]
    text = screen(frame)
    assert "eth0 192.0.2.77/24" in text
    assert "gateway 192.0.2.1 on eth0" in text
    assert "DNS 192.0.2.53, 198.51.100.53" in text
    assert "192.0.2.77/24 set on eth0." in text
    assert "No interface has an address" not in text


def test_the_other_interface_can_be_chosen(bare: Setup) -> None:
    frame = bare.screen.frame
    press(frame, "down", "enter")  # eth1
    press(frame, "down")
    type_text(bare, "203.0.113.5/24")
    press(frame, "tab", "tab", "tab", "enter")  # the Apply button
    assert bare.applied == [StaticConfig("eth1", "203.0.113.5/24", "", ())]
    assert "no DNS server: give the target by its IP address" in flat(frame)


def test_a_mistyped_address_is_refused_before_anything_runs(bare: Setup) -> None:
    frame = bare.screen.frame
    press(frame, "tab", "tab")
    type_text(bare, "192.0.2.77")
    text = screen(frame)
    assert "with the prefix length, e.g. 192.0.2.77/24" in text
    press(frame, "tab")
    type_text(bare, "gw")
    press(frame, "enter")
    assert bare.applied == []
    text = flat(frame)
    assert "Not applied" in text and "gateway: gateway 'gw' is not an IP address" in text


def test_the_controllers_refusal_is_shown(bare: Setup) -> None:
    frame = bare.screen.frame
    press(frame, "tab", "tab")
    type_text(bare, "169.254.1.5/16")  # a host address, but link-local: the live network refuses it
    press(frame, "enter")
    assert len(bare.applied) == 1
    text = flat(frame)
    assert "Not applied, nothing was changed" in text
    assert "169.254.1.5/16 cannot be used on a network (link-local or reserved)" in text
    assert "No interface" not in text


def test_a_second_press_while_applying_is_ignored(bare: Setup) -> None:
    pending: list[object] = []
    bare.controller.apply_network.side_effect = lambda cfg, done: pending.append(done)
    frame = bare.screen.frame
    press(frame, "tab", "tab")
    type_text(bare, "192.0.2.77/24")
    press(frame, "enter", "enter")
    assert bare.controller.apply_network.call_count == 1
    assert "Setting 192.0.2.77/24 on eth0" in screen(frame)


def test_a_failure_to_read_the_state_is_shown(bare: Setup) -> None:
    bare.controller.network_state.side_effect = lambda done: done(Failed("ip: command not found"))
    bare.screen.enter()
    assert "Cannot read the network state: ip: command not found" in screen(bare.screen.frame)


def test_ascii_mode() -> None:
    s = Setup(no_lease(DemoNetwork().state()), ASCII_GLYPHS)
    lines = render(s.screen.frame)
    assert is_ascii(lines)
    assert "no DHCP answer on eth0" in "\n".join(lines)


def test_continue_while_the_state_is_read_goes_on_once_it_is(dhcp: Setup) -> None:
    """A key pressed before the state arrives is not lost (as on a slow
    machine, where the first screen is up before its network state)."""
    pending: list[Callable[[Result[NetworkState]], None]] = []
    dhcp.controller.network_state.side_effect = pending.append
    dhcp.screen.enter()
    press(dhcp.screen.frame, "f2")
    assert dhcp.nav.calls == []
    assert "Continuing as soon as this is done" in screen(dhcp.screen.frame)
    pending[0](Done(dhcp.network.state()))
    assert dhcp.nav.calls == ["next"]


def test_continue_while_the_state_is_read_stays_when_there_is_no_address(bare: Setup) -> None:
    pending: list[Callable[[Result[NetworkState]], None]] = []
    bare.controller.network_state.side_effect = pending.append
    bare.screen.enter()
    press(bare.screen.frame, "f2")
    pending[0](Done(bare.network.state()))
    assert bare.nav.calls == []
    assert "No interface has an address" in screen(bare.screen.frame)
    press(bare.screen.frame, "f2")  # seen: a second Continue goes on
    assert bare.nav.calls == ["next"]


def test_continue_while_an_address_is_set_goes_on_once_it_is_set(bare: Setup) -> None:
    pending: list[Callable[[], None]] = []
    bare.controller.apply_network.side_effect = lambda cfg, done: pending.append(
        lambda: done(Done(bare.network.apply(cfg)))
    )
    frame = bare.screen.frame
    press(frame, "tab", "tab")
    type_text(bare, "192.0.2.77/24")
    press(frame, "enter", "f2")
    assert bare.nav.calls == []
    pending[0]()
    assert bare.nav.calls == ["next"]
    assert bare.screen.state is not None
