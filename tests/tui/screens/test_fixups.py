"""The fixups screen over the demo machine's real plan: the changes listed,
each diff readable (secrets masked), and hostname, addressing, boot mode and
optional fixups changed through the controller with the list following.

The helpers at the top (a real demo controller, the autospec'd mock over its
data, the fake navigator, the screen captures) are shared by the other
screens' tests of this package."""

from __future__ import annotations

import dataclasses
import shutil
import threading
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
import urwid

from p2v_tui.demo import DemoNetwork, demo_parts, example_file
from p2v_tui.engine.ending import Ending
from p2v_tui.engine.session import Parts, Session
from p2v_tui.model.edits import FileEdit, FixupChoices, StaticAddress
from p2v_tui.model.events import Event
from p2v_tui.system.answers_io import load_answers
from p2v_tui.system.report import Report
from p2v_tui.tui.controller import Controller, Failed, inline
from p2v_tui.tui.screens.fixups import FixupsScreen
from p2v_tui.tui.widgets.theme import ASCII_GLYPHS, UTF8_GLYPHS, Glyphs

from ..render import is_ascii, press, render, screen
from .support import FakeNav, save_screen

if not shutil.which("rsync"):
    pytest.skip("needs rsync (the demo copies with it)", allow_module_level=True)


@dataclass
class Demo:
    """A real controller over the built-in demo, connected, probed and
    planned; ``events``/``finished`` from one real migration run."""

    controller: Controller
    tmp: Path
    events: list[Event] = field(default_factory=list)
    finished: list[Ending] = field(default_factory=list)


def demo(tmp: Path, parts: Parts | None = None) -> Generator[Demo, None, None]:
    """``parts``: the demo's own by default."""
    report = Report(tmp / "report")
    parts = parts or demo_parts(tmp / "source", tmp / "target")
    session = Session(parts, report, report.event, threading.Event())
    c = Controller(session, load_answers(str(example_file("answers.yaml"))), DemoNetwork(), spawn=inline)
    for step in (c.connect, c.probe, c.plan):
        step(lambda r: None if not isinstance(r, Failed) else pytest.fail(r.message))
    try:
        yield Demo(c, tmp)
    finally:
        session.close()
        report.close()


def mock_controller(real: Controller) -> Any:
    """The controller replaced by an autospec mock holding the real data;
    set_* replace its answers and plan() plans them for real, inline."""
    m = mock.create_autospec(Controller, instance=True)
    m.answers = real.answers
    m.connected = real.connected
    m.machine = real.machine
    m.prepared = real.prepared
    m.on_cluster = real.on_cluster
    m.cluster_ready = real.cluster_ready
    m.instance_name = real.instance_name
    m.warm = real.warm

    def setter(name: str) -> Callable[[Any], None]:
        def set_(value: Any) -> None:
            m.answers = dataclasses.replace(m.answers, **{name: value})

        return set_

    m.set_fixups.side_effect = setter("fixups")
    m.set_layout.side_effect = setter("layout")

    def plan(done: Callable[[Any], None]) -> None:
        real.answers = m.answers
        real.plan(done)
        if real.prepared is not None:
            m.prepared = real.prepared

    m.plan.side_effect = plan
    return m


@pytest.fixture(scope="module")
def planned(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    yield from demo(tmp_path_factory.mktemp("fixups"))


@pytest.fixture
def ctl(planned: Demo) -> Any:
    planned.controller.answers = load_answers(str(example_file("answers.yaml")))
    planned.controller.plan(lambda r: None)
    return mock_controller(planned.controller)


def make(ctl: Any, glyphs: Glyphs = UTF8_GLYPHS) -> tuple[FixupsScreen, FakeNav]:
    nav = FakeNav(glyphs)
    s = FixupsScreen(ctl, nav)
    s.enter()
    return s, nav


def goto(s: FixupsScreen, text: str) -> None:
    """Move the list's focus to the row showing ``text``."""
    for i, row in enumerate(s._walker):
        if text in "".join(render(row, 78, 1)) if row.selectable() else False:
            s.frame.focus_body()
            s._list.set_focus(i)
            return
    raise AssertionError(f"no row with {text!r}")


# -- the tests ------------------------------------------------------------------


def test_every_change_is_listed_with_its_fixup_and_reason(ctl: Any) -> None:
    s, nav = make(ctl)
    text = screen(s.frame)
    assert "5 files, 3 commands for web01.example.org" in text
    assert "/etc/fstab" in text and "fstab: name the instance's filesystems" in text
    assert "/etc/inittab" in text and "console: a login prompt on ttyS0" in text
    save_screen("fixups", render(s.frame))
    assert s.frame.continue_enabled
    s.frame.focus_buttons()
    press(s.frame, "enter")
    assert nav.calls == ["next"]


def test_enter_on_a_row_shows_its_diff_and_esc_returns(ctl: Any) -> None:
    s, nav = make(ctl)
    goto(s, "/etc/inittab")
    press(s.frame, "enter")
    text = screen(s.frame)
    assert "/etc/inittab (2/5)" in text
    assert "+T0:23:respawn:/sbin/getty" in text
    assert "Esc returns to the list" in text
    press(s.frame, "enter")  # Enter does not continue behind a diff
    press(s.frame, "esc")
    assert nav.calls == []
    text = screen(s.frame)
    assert "5 files, 3 commands" in text and "/dev/null" not in text
    assert s._list.focus is s._walker[2]  # back on the /etc/inittab row
    press(s.frame, "esc")
    assert nav.calls == ["back"]


def test_a_secret_in_a_diff_is_masked(ctl: Any) -> None:
    secret = FileEdit(
        "/etc/network/interfaces",
        "iface wlan0 inet dhcp\n  wpa-psk hunter2hunter2\n",
        "iface wlan0 inet dhcp\n  wpa-psk hunter2hunter2\nauto eth0\n",
        "network",
        "the instance's NIC",
    )
    prepared = ctl.prepared
    ctl.prepared = dataclasses.replace(prepared, fixups=dataclasses.replace(prepared.fixups, edits=(secret,)))
    s, _nav = make(ctl)
    s.open_diff(0)
    text = screen(s.frame)
    assert "<redacted>" in text and "hunter2" not in text


def test_turning_an_optional_fixup_off_plans_without_it(ctl: Any) -> None:
    s, _nav = make(ctl)
    assert "[X] console: /etc/inittab, /etc/default/grub" in screen(s.frame)
    goto(s, "console: /etc/inittab")
    press(s.frame, " ")
    ctl.set_fixups.assert_called_once()
    (choices,) = ctl.set_fixups.call_args.args
    assert choices.disabled == frozenset({"console"})
    text = screen(s.frame)
    assert "[ ] console: turned off" in text
    assert "/etc/inittab" not in text


def test_a_new_hostname_is_applied_with_enter_and_its_diff_appears(ctl: Any) -> None:
    s, nav = make(ctl)
    assert s.hostname.text == "web01.example.org"
    goto(s, "initramfs-virtio: drivers")
    while s._list.focus is not s.hostname:
        press(s.frame, "down")
    press(s.frame, *["backspace"] * len("web01.example.org"), *"db02.example.org")
    assert "settings changed: Enter or Apply" in screen(s.frame)
    press(s.frame, "enter")
    assert ctl.set_fixups.call_args.args[0].hostname == "db02.example.org"
    assert nav.calls == []  # Enter applied, it did not continue
    text = screen(s.frame, 80, 60)
    assert "/etc/hostname" in text
    assert s.frame.continue_enabled


def test_an_invalid_hostname_is_refused_with_the_reason(ctl: Any) -> None:
    s, nav = make(ctl)
    s.hostname.set_text("bad_name!")
    s._apply()
    assert "Hostname: letters, digits and '-'" in s.frame.message
    ctl.set_fixups.assert_not_called()
    s._continue()
    assert nav.calls == []


def test_a_static_address_is_passed_to_the_fixups(ctl: Any) -> None:
    s, _nav = make(ctl)
    s.address.set_text("192.0.2.10/24")
    s.gateway.set_text("192.0.2.1")
    s.dns.set_text("192.0.2.53, 192.0.2.54")
    s.addressing.set_value("static")
    (choices,) = ctl.set_fixups.call_args.args
    assert choices == dataclasses.replace(
        ctl.answers.fixups,
        static=StaticAddress("192.0.2.10/24", "192.0.2.1", ("192.0.2.53", "192.0.2.54")),
    )
    assert isinstance(choices, FixupChoices)
    assert "/etc/network/interfaces" in screen(s.frame, 80, 60)


def test_the_cluster_kernel_boot_mode_drops_the_bootloader(ctl: Any) -> None:
    s, _nav = make(ctl)
    assert "grub-install" in screen(s.frame, 80, 60)
    s.boot.set_value("cluster")
    assert ctl.set_layout.call_args.args[0].boot == "cluster"
    assert "grub-install" not in screen(s.frame, 80, 60)


def test_a_choice_keeps_the_focus_where_it_was_made(ctl: Any) -> None:
    """The list is built again after every change: the cursor stays on
    the choice a person just made instead of jumping to the top."""
    s, _nav = make(ctl)

    def on_boot() -> bool:
        row = s._list.focus
        return isinstance(row, urwid.Columns) and s.boot in [w for w, _ in row.contents]

    for _ in range(60):  # Tab to the Boot choice
        if on_boot():
            break
        press(s.frame, "tab")
    assert on_boot()
    press(s.frame, "down", " ")  # the cluster's kernel
    assert ctl.set_layout.call_args.args[0].boot == "cluster"
    assert on_boot()
    assert "(X) the cluster's kernel" in screen(s.frame, 80, 24)


def test_a_failed_plan_shows_the_reason_and_refuses_to_continue(ctl: Any) -> None:
    ctl.plan.side_effect = lambda done: done(Failed("the data needs 12 GiB, more than /dev/vda"))
    s, nav = make(ctl)
    s.boot.set_value("cluster")
    text = screen(s.frame)
    assert "The plan failed: the data needs 12 GiB" in text
    assert not s.frame.continue_enabled
    s._continue()
    assert nav.calls == []


def test_a_second_change_while_planning_waits_for_the_first(ctl: Any) -> None:
    pending: list[Callable[[Any], None]] = []
    real_plan = ctl.plan.side_effect
    ctl.plan.side_effect = pending.append
    s, _nav = make(ctl)
    s.boot.set_value("cluster")
    assert "Planning the changes again" in screen(s.frame)
    s.boot.set_value("own")
    assert ctl.plan.call_count == 1
    ctl.plan.side_effect = real_plan
    real_plan(pending.pop())
    assert ctl.plan.call_count == 2
    assert ctl.answers.layout.boot == "own"


def test_ascii_mode_draws_only_ascii(ctl: Any) -> None:
    s, _nav = make(ctl, ASCII_GLYPHS)
    assert is_ascii(render(s.frame))
    s.open_diff(0)
    assert is_ascii(render(s.frame))
