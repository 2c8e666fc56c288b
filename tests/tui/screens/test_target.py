"""The target screen, driven by keys with the controller mocked (autospec);
the connection result is the demo's real one (a real Controller connected
to the demo's simulated target), the pasted keys are made by ssh-keygen."""

from __future__ import annotations

import dataclasses
import shutil
import stat
import subprocess
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from unittest.mock import create_autospec

import pytest

from p2v_tui.demo import DemoNetwork, demo_parts, example_file
from p2v_tui.engine.session import Connected, Session
from p2v_tui.model.answers import Answers, TargetAnswers
from p2v_tui.system.answers_io import load_answers
from p2v_tui.system.keyfile import store_pasted_key
from p2v_tui.system.report import Report
from p2v_tui.tui.controller import Controller, Done, Failed, Result, inline
from p2v_tui.tui.screens.target import TargetScreen
from p2v_tui.tui.widgets.theme import ASCII_GLYPHS, Glyphs

from ..render import is_ascii, press, render, screen
from .support import FakeNav, save_screen

if not shutil.which("rsync"):
    pytest.skip("needs rsync (the demo's parts)", allow_module_level=True)

SCANNED = "ssh-ed25519 SHA256:4Vf3GvBJ6SGg6GgzyXIhEZd7ryP7sDdAoEZ3tq1kKJ0"
FINGERPRINT = SCANNED.split()[1]


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Answers, Connected]]:
    """The demo's answers and the real result of connecting to its target."""
    tmp = tmp_path_factory.mktemp("demo")
    report = Report(tmp / "report")
    session = Session(demo_parts(tmp / "source", tmp / "target"), report, report.event, threading.Event())
    answers = load_answers(str(example_file("answers.yaml")))
    real = Controller(session, answers, DemoNetwork(), spawn=inline)
    got: list[Result[Connected]] = []
    real.connect(got.append)
    assert isinstance(got[0], Done), got
    yield answers, got[0].value
    session.close()
    report.close()


def flat(widget: object) -> str:
    return " ".join(screen(widget).split())


class Setup:
    """A screen over a mocked controller that answers with real data."""

    def __init__(
        self, demo: tuple[Answers, Connected], target: TargetAnswers, keys: Path, glyphs: Glyphs | None = None
    ) -> None:
        answers, connected = demo
        self.connected = connected
        c: Any = create_autospec(Controller, instance=True)
        c.answers = dataclasses.replace(answers, target=target)
        c.connected = None
        self.targets: list[TargetAnswers] = []

        def set_target(t: TargetAnswers) -> None:
            self.targets.append(t)
            c.answers = dataclasses.replace(c.answers, target=t)

        def connect(done: Callable[[Result[Connected]], object]) -> None:
            c.connected = connected
            done(Done(connected))

        c.set_target.side_effect = set_target
        c.scan_host_key.side_effect = lambda done: done(Done(SCANNED))
        c.connect.side_effect = connect
        c.store_pasted_key.side_effect = lambda text: store_pasted_key(text, keys)
        self.controller = c
        self.nav = FakeNav(glyphs) if glyphs else FakeNav()
        self.keys = keys
        self.screen = TargetScreen(c, self.nav)
        self.screen.enter()
        self.frame = self.screen.frame


BLANK = TargetAnswers(host="", identity="", host_key="")


@pytest.fixture
def blank(demo: tuple[Answers, Connected], tmp_path: Path) -> Setup:
    return Setup(demo, BLANK, tmp_path / "keys")


@pytest.fixture
def prefilled(demo: tuple[Answers, Connected], tmp_path: Path) -> Setup:
    return Setup(demo, demo[0].target, tmp_path / "keys")


def fill(s: Setup, host: str, key_file: str) -> None:
    """Type host and key file from the first field (port and user keep 22, root)."""
    press(s.frame, *host, "tab", "tab", "tab", "tab", "tab", *key_file)


def test_an_empty_form_refuses_to_continue_and_says_why(blank: Setup) -> None:
    lines = render(blank.frame)
    text = "\n".join(lines)
    assert len(lines) == 24
    assert "Port 22" in " ".join(text.split()) and "User root" in " ".join(text.split())
    assert "connect first" in text
    assert "read on Connect, for you to compare with the console" in text
    assert not blank.frame.continue_enabled
    press(blank.frame, "tab", "tab", "tab", "tab", "tab", "tab", "enter")  # Connect with nothing typed
    assert blank.nav.calls == []
    assert "host: the host is needed" in flat(blank.frame)
    blank.controller.connect.assert_not_called()


def test_connect_scans_then_asks_then_pins_and_shows_the_instance(blank: Setup) -> None:
    fill(blank, "web01.example.org", "/media/usb/id_ed25519")
    press(blank.frame, "enter")
    blank.controller.scan_host_key.assert_called_once()
    assert blank.controller.answers.target.host_key == ""  # scanned before any pin
    assert blank.frame.modal_open
    text = flat(blank.frame)
    assert FINGERPRINT in text and "ssh-ed25519" in text
    assert "Is this the fingerprint shown on the instance's console" in text
    assert "(gnt-instance console web01.example.org)?" in text
    blank.controller.connect.assert_not_called()
    press(blank.frame, "enter")  # the focus starts on No
    assert not blank.frame.modal_open
    blank.controller.connect.assert_not_called()
    assert "the host key was not confirmed" in flat(blank.frame)
    assert not blank.frame.continue_enabled

    press(blank.frame, "enter")  # Enter in the key file field connects again
    press(blank.frame, "tab", "enter")  # Yes
    assert blank.targets[-1] == TargetAnswers(
        host="web01.example.org", identity="/media/usb/id_ed25519", host_key=FINGERPRINT, port=22, user="root"
    )
    blank.controller.connect.assert_called_once()
    lines = render(blank.frame)
    text = "\n".join(lines)
    assert "Instance  web01.example.org   hypervisor kvm" in text
    assert "Disk 0    /dev/vda  10.0 GiB" in text
    assert "NIC 0     aa:00:00:4f:1e:02  192.0.2.10  link br0" in text
    assert f"{FINGERPRINT} (confirmed)" in text
    assert "Connected to root@web01.example.org: instance web01.example.org." in text
    assert blank.frame.continue_enabled
    save_screen("target", lines)
    blank.frame.focus_buttons()
    press(blank.frame, "enter")
    assert blank.nav.calls == ["next"]


def test_a_confirmed_key_is_not_asked_again_for_the_same_host(blank: Setup) -> None:
    fill(blank, "192.0.2.20", "/root/id")
    press(blank.frame, "enter")
    assert "(gnt-instance console INSTANCE)?" in flat(blank.frame)  # an IP is not the name
    press(blank.frame, "tab", "enter")
    press(blank.frame, "backspace", "d", "enter")  # the key file changed: connect again
    assert blank.controller.scan_host_key.call_count == 1
    assert blank.controller.connect.call_count == 2
    assert blank.targets[-1].host_key == FINGERPRINT and blank.targets[-1].identity == "/root/id"


def test_a_pinned_key_from_the_answers_file_is_checked_without_asking(prefilled: Setup) -> None:
    text = flat(prefilled.frame)
    assert "Host 192.0.2.20" in text and "Key file /root/.ssh/id_ed25519" in text
    assert f"Host key {FINGERPRINT} (pinned by the answers file)" in text
    press(prefilled.frame, "enter")  # Enter in the host field
    prefilled.controller.scan_host_key.assert_not_called()
    assert not prefilled.frame.modal_open
    assert prefilled.targets == [prefilled.controller.answers.target]
    assert prefilled.targets[0].host_key == FINGERPRINT
    assert prefilled.frame.continue_enabled


def test_a_mismatching_pin_is_refused_with_what_to_compare(prefilled: Setup) -> None:
    message = (
        "host key of 192.0.2.20 is ssh-ed25519 SHA256:AAAA, but the answers pin "
        f"{FINGERPRINT}. Refusing to connect: compare with the fingerprint on the instance's serial "
        "console (gnt-instance console) before changing the pin."
    )
    prefilled.controller.connect.side_effect = lambda done: done(Failed(message))
    press(prefilled.frame, "enter")
    text = flat(prefilled.frame)
    assert "Connecting to root@192.0.2.20 port 22 failed: host key of 192.0.2.20" in text
    assert "serial console" in text
    assert not prefilled.frame.continue_enabled and "connect first" in text


def test_connection_errors_are_shown(blank: Setup) -> None:
    blank.controller.scan_host_key.side_effect = lambda done: done(Failed("[Errno 111] Connection refused"))
    fill(blank, "192.0.2.99", "/root/id")
    press(blank.frame, "enter")
    text = flat(blank.frame)
    assert "Cannot read the host key of 192.0.2.99 port 22: [Errno 111] Connection refused" in text
    assert "Check the address and port" in text
    blank.controller.connect.assert_not_called()


def test_changing_a_field_after_connecting_asks_for_a_new_connection(prefilled: Setup) -> None:
    press(prefilled.frame, "enter")
    assert prefilled.frame.continue_enabled
    press(prefilled.frame, "tab", "tab", "x")  # the user field
    text = flat(prefilled.frame)
    assert not prefilled.frame.continue_enabled
    assert "changed: connect again" in text
    assert "Instance web01" not in text
    press(prefilled.frame, "esc")
    assert prefilled.nav.calls == ["back"]


def test_a_field_changed_while_connecting_keeps_continue_off(prefilled: Setup) -> None:
    pending: list[Callable[[Result[Connected]], object]] = []
    prefilled.controller.connect.side_effect = pending.append
    press(prefilled.frame, "enter", "enter")  # a second press while connecting does nothing
    assert prefilled.controller.connect.call_count == 1
    assert "Connecting to root@192.0.2.20 port 22" in flat(prefilled.frame)
    press(prefilled.frame, "1")
    pending[0](Done(prefilled.connected))
    assert not prefilled.frame.continue_enabled
    assert "fields changed since: connect again" in flat(prefilled.frame)


def keygen(tmp_path: Path) -> str:
    path = tmp_path / "made"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(path)], check=True)
    return path.read_text()


def choose_paste(s: Setup) -> None:
    press(s.frame, "tab", "tab", "tab", "tab", "enter", "tab")  # the second key choice, then the paste area


def test_a_pasted_key_is_stored_and_used(blank: Setup, tmp_path: Path) -> None:
    if not shutil.which("ssh-keygen"):
        pytest.skip("needs ssh-keygen")
    private = keygen(tmp_path)
    press(blank.frame, *"192.0.2.20")
    choose_paste(blank)
    assert "Private key" in screen(blank.frame)
    press(blank.frame, *["enter" if ch == "\n" else ch for ch in private])  # as a terminal sends it
    text = flat(blank.frame)
    assert f"{len(private.splitlines())} lines, {len(private)} characters: -----BEGIN OPENSSH" in text
    assert "-----END OPENSSH PRIVATE KEY-----" in text
    assert private.splitlines()[1][:20] not in text  # the secret itself is not shown
    press(blank.frame, "tab", "enter")  # Connect
    assert blank.frame.modal_open
    press(blank.frame, "tab", "enter")
    identity = Path(blank.targets[-1].identity)
    assert identity.parent == tmp_path / "keys"
    assert identity.read_text() == private
    assert stat.S_IMODE(identity.stat().st_mode) == 0o600
    text = screen(blank.frame)
    assert "BEGIN OPENSSH" not in text  # the paste area is gone ...
    assert identity.name in text  # ... the stored file is shown instead
    assert blank.frame.continue_enabled


def test_pasted_garbage_is_refused_on_screen(blank: Setup) -> None:
    press(blank.frame, *"192.0.2.20")
    choose_paste(blank)
    press(blank.frame, *"not a key", "tab", "enter")
    text = flat(blank.frame)
    assert "Not connected: the pasted text is not usable" in text
    blank.controller.scan_host_key.assert_not_called()
    assert not (blank.keys.exists() and any(blank.keys.iterdir()))


def test_ascii_mode(demo: tuple[Answers, Connected], tmp_path: Path) -> None:
    s = Setup(demo, demo[0].target, tmp_path / "keys", ASCII_GLYPHS)
    press(s.frame, "enter")
    lines = render(s.frame)
    assert is_ascii(lines)
    assert "Disk 0    /dev/vda  10.0 GiB" in "\n".join(lines)
