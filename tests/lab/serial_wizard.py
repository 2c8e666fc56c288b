"""The wizard walked from its first screen to Done the way a person at a
console does it: read the screen, move with Tab, type into the field the
cursor is in, paste the private key, compare the host key's fingerprint
with the one the bootstrap OS showed on the instance's console, type the
instance's name to confirm, wait for the copy.

Every step waits for what the screen shows (titles, status lines, the
cursor's line), never for a fixed time, so it works on a slow TCG guest's
serial console as on a local terminal; ASCII (vt220) and UTF-8 drawing
both match. A message in the wizard's error line stops the walk with
:class:`WizardError` and the screen.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from typing import Protocol

LABEL_WIDTH = 16
"""Columns of the labels in front of the wizard's fields."""
ERROR_LINE = r"^[!\u2717] .*"
"""The frame's error line: the cross glyph (ASCII or UTF-8) at the start of a line."""
FINGERPRINT = re.compile(r"SHA256:[A-Za-z0-9+/]{43}")
DONE_TITLE = r"^ (Migrated|Cancelled: the target can be resumed|The migration failed)$"
BUTTONS_ENABLED = r"^\[ Back \] +\[ Continue \]$"
"""The button row without a reason beside Continue: it can be pressed."""
REDRAW_AFTER = 20.0
"""Seconds of waiting in vain after which the whole screen is redrawn (Ctrl-L)."""


class Console(Protocol):
    """An 80x24 terminal (tests/lab/tmux.py ``Terminal``, or a serial
    console's ``SerialConsole``)."""

    def keys(self, *keys: str, pause: float = 0.3) -> None: ...

    def type(self, text: str) -> None: ...

    def paste(self, text: str) -> None: ...

    def screen(self) -> str: ...

    def cursor(self) -> tuple[int, int] | None: ...

    def wait_for(self, pattern: str, timeout: float) -> str: ...


class WizardError(AssertionError):
    """The wizard showed an error, or not what a person waits for."""


@dataclass(frozen=True)
class TargetLogin:
    """What the person brings to the Target screen."""

    host: str
    fingerprint: str
    """``SHA256:...``, as the bootstrap OS shows it on the instance's console."""
    key_text: str | None = field(default=None, repr=False)
    """The private key, pasted; or else:"""
    key_path: str | None = None
    """a key file in the live system (e.g. on a USB stick)."""
    user: str = "root"
    port: int = 22


@dataclass(frozen=True)
class Timeouts:
    """Seconds; generous defaults for a TCG guest on a shared machine."""

    screen: float = 120.0
    connect: float = 300.0
    probe: float = 600.0
    plan: float = 600.0
    transfer: float = 3600.0


@dataclass
class Outcome:
    """How the walk ended: the Done screen and each screen as it was left."""

    ok: bool
    title: str
    done: str
    """The Done screen as shown."""
    screens: dict[str, str] = field(default_factory=dict)
    """Step name -> the screen when it was left (Network, Target, ...)."""
    seconds: dict[str, float] = field(default_factory=dict)
    """Step name -> seconds spent on it, waiting included."""


# --- reading the screen -------------------------------------------------------------


def cursor_line(console: Console) -> str | None:
    """The screen line the cursor is on, None while it is hidden."""
    where = console.cursor()
    if where is None:
        return None
    lines = console.screen().split("\n")
    return lines[where[1]] if where[1] < len(lines) else ""


def wait_cursor_on(console: Console, text: str, timeout: float = 10.0) -> None:
    """Until the cursor is inside ``text`` (a button among others on its line)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        where = console.cursor()
        if where is not None:
            line = console.screen().split("\n")[where[1]]
            start = line.find(text)
            if start >= 0 and start <= where[0] < start + len(text):
                return
        time.sleep(0.3)
    raise WizardError(f"the cursor is at {console.cursor()}, not on {text!r}:\n{console.screen()}")


def field_label(line: str) -> str:
    return line[:LABEL_WIDTH].strip()


def field_value(line: str) -> str:
    return line[LABEL_WIDTH + 1 :].rstrip()


def wait_redrawing(console: Console, pattern: str, timeout: float) -> str:
    """The screen once ``pattern`` (multi-line mode) is on it. While
    waiting, Ctrl-L now and then, as a person does when the screen looks
    wrong: kernel messages on a serial console scroll the wizard's screen,
    and urwid redraws only what changed."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            left = deadline - time.monotonic()
            return console.wait_for(f"(?m){pattern}", max(1.0, min(REDRAW_AFTER, left)))
        except AssertionError as e:
            if time.monotonic() >= deadline:
                raise WizardError(str(e)) from None
            console.keys("C-l")


def wait(console: Console, pattern: str, timeout: float) -> str:
    """The screen once ``pattern`` is on it; :class:`WizardError` when the
    error line shows first (or nothing came within ``timeout``)."""
    screen = wait_redrawing(console, f"(?:{pattern})|{ERROR_LINE}", timeout)
    if not re.search(pattern, screen, re.MULTILINE):
        error = re.search(ERROR_LINE, screen, re.MULTILINE)
        raise WizardError(f"the wizard says {error.group(0) if error else '?'!r}:\n{screen}")
    return screen


def wait_gone(console: Console, pattern: str, timeout: float) -> str:
    """The screen once ``pattern`` has left it (a busy message)."""
    deadline = time.monotonic() + timeout
    while True:
        screen = console.screen()
        if not re.search(pattern, screen, re.MULTILINE):
            return screen
        if time.monotonic() > deadline:
            raise WizardError(f"{pattern!r} still on the screen after {timeout:.0f} s:\n{screen}")
        time.sleep(0.5)


def focus(console: Console, wanted: str, *, tabs: int = 30) -> str:
    """Press Tab until the cursor is on a line matching ``wanted``; that line."""
    for _ in range(tabs):
        line = cursor_line(console)
        if line is not None and re.search(wanted, line):
            return line
        console.keys("Tab")
    raise WizardError(f"no field matching {wanted!r} reached with Tab:\n{console.screen()}")


def wait_line(console: Console, wanted: str, timeout: float = 10.0) -> str:
    """The cursor's line once it matches ``wanted`` (a slow guest draws late)."""
    deadline = time.monotonic() + timeout
    line: str | None = None
    while time.monotonic() < deadline:
        line = cursor_line(console)
        if line is not None and re.search(wanted, line):
            return line
        time.sleep(0.3)
    raise WizardError(f"the cursor's line is {line!r}, not {wanted!r}:\n{console.screen()}")


def fill(console: Console, label: str, value: str) -> None:
    """Put ``value`` into the field labelled ``label`` (erasing what is
    there) and check the screen shows it."""
    line = focus(console, rf"^ *{re.escape(label)}(?: |$)")
    if field_label(line) != label:
        raise WizardError(f"the cursor is on {line!r}, not on the field {label!r}")
    current = field_value(line)
    if current == value:
        return
    if current:
        console.keys("End", pause=0.1)
        console.keys(*["BSpace"] * len(current), pause=0.05)
    console.type(value)
    wait_line(console, rf"^ *{re.escape(label)} {re.escape(value)}$")


# --- the screens ----------------------------------------------------------------------


def network(console: Console, timeouts: Timeouts) -> str:
    wait(console, r"Welcome: this live system's network", timeouts.screen)
    screen = wait_gone(console, r"reading the network state", timeouts.screen)
    console.keys("F2")
    return screen


def target(console: Console, login: TargetLogin, timeouts: Timeouts) -> str:
    wait(console, r"Target: the Ganeti instance to migrate into", timeouts.screen)
    fill(console, "Host", login.host)
    fill(console, "Port", str(login.port))
    fill(console, "User", login.user)
    if login.key_text is not None:
        paste_key(console, login.key_text)
        focus(console, r"\[ Connect \]")
        console.keys("Enter")
    elif login.key_path is not None:
        fill(console, "Key file", login.key_path)
        console.keys("Enter")  # in a field: connect
    else:
        raise ValueError("a key is needed: key_text or key_path")
    confirm_host_key(console, login, timeouts)
    screen = wait(console, rf"Connected to {re.escape(login.user)}@{re.escape(login.host)}", timeouts.connect)
    console.keys("F2")
    return screen


def paste_key(console: Console, key: str) -> None:
    """Choose 'paste the private key', paste it, and check that all of it
    arrived: the field shows the number of lines and characters it got."""
    line = focus(console, r"\(.\) paste the private key")
    if "(X)" not in line:
        console.keys("Space")
    wait(console, r"Private key paste it here", 30)
    console.keys("Tab")  # the row below: the paste area, which shows no cursor
    deadline = time.monotonic() + 10
    while console.cursor() is not None:
        if time.monotonic() > deadline:
            raise WizardError(f"Tab did not reach the paste area:\n{console.screen()}")
        time.sleep(0.3)
    console.paste(key)
    lines = [line for line in key.splitlines() if line.strip()]
    summary = rf"Private key {len(lines)} lines?, {len(key)} characters: {re.escape(lines[0].strip()[:40])}"
    wait(console, summary, 60)


def confirm_host_key(console: Console, login: TargetLogin, timeouts: Timeouts) -> None:
    """Answer the host key question: yes only for the fingerprint the
    person read on the instance's console."""
    screen = wait(console, r"Is this the fingerprint shown", timeouts.connect)
    shown = FINGERPRINT.findall(screen.split("host key", 1)[-1])
    if shown != [login.fingerprint]:
        console.keys("Escape")  # the safe answer: no
        raise WizardError(f"the wizard shows the host key {shown}, the console said {login.fingerprint}")
    console.keys("Tab")  # from No to the other answer
    wait_cursor_on(console, "[ Yes, the same ]")
    console.keys("Enter")


def source(console: Console, timeouts: Timeouts) -> str:
    wait(console, r"Source: what is on this machine", timeouts.screen)
    screen = wait(console, r"Mount point\s+Type", timeouts.probe)
    console.keys("F2")
    return screen


def layout(console: Console, timeouts: Timeouts) -> str:
    screen = wait(console, r"The data fits", timeouts.plan)
    console.keys("F2")
    return screen


@dataclass(frozen=True)
class Settings:
    """What the person changes on the Fixups screen (None: the proposal)."""

    hostname: str | None = None
    static: tuple[str, str] | None = None
    """(address/prefix, gateway) for the instance's NIC instead of the source's addressing."""
    boot: str | None = None
    """The Boot choice's label, e.g. "the cluster's kernel (no bootloader)"."""


def choose(console: Console, option: str) -> None:
    """Select the radio button labelled ``option``."""
    line = focus(console, rf"\(.\) {re.escape(option)}")
    if "(X)" not in line and "(*)" not in line:
        console.keys("Space")  # a choice applies at once: the screen is planned again, the cursor hidden
        wait(console, rf"\([X*]\) {re.escape(option)}", 60)


def replanned(console: Console, timeouts: Timeouts) -> str:
    """The screen once a change has been planned again."""
    time.sleep(1)  # the re-plan starts in the wizard's worker
    wait_gone(console, r"Planning the changes again", timeouts.plan)
    return wait(console, BUTTONS_ENABLED, timeouts.screen)


def fixups(console: Console, settings: Settings, timeouts: Timeouts) -> str:
    screen = wait(console, r"Configuration changes: \d+ files", timeouts.plan)
    if settings.hostname is not None:
        fill(console, "Hostname", settings.hostname)
        console.keys("Enter")  # apply: plans again with the new name
        screen = replanned(console, timeouts)
        if not re.search(rf"^ *Hostname {re.escape(settings.hostname)}$", screen, re.MULTILINE):
            raise WizardError(f"the hostname {settings.hostname} was not kept:\n{screen}")
    if settings.static is not None:
        address, gateway = settings.static
        fill(console, "Address", address)
        fill(console, "Gateway", gateway)
        choose(console, "static address")
        screen = replanned(console, timeouts)
    if settings.boot is not None:
        choose(console, settings.boot)
        screen = replanned(console, timeouts)
    console.keys("F2")
    return screen


def confirm(console: Console, instance: str, timeouts: Timeouts) -> str:
    screen = wait(console, rf"ERASED on instance {re.escape(instance)}", timeouts.screen)
    console.keys("F2")
    wait(console, rf"Type {re.escape(instance)} to confirm", timeouts.screen)
    console.type(instance)
    wait_line(console, rf"Type to confirm {re.escape(instance)} ")
    console.keys("Tab")  # to the action button
    wait_cursor_on(console, "[ Erase and copy ]")
    console.keys("Enter")
    return screen


def transfer(console: Console, instance: str, timeouts: Timeouts) -> str:
    wait(console, rf"Migrating this machine into {re.escape(instance)}", timeouts.screen)
    wait_redrawing(console, DONE_TITLE, timeouts.transfer)  # a failure too: the Done screen says it
    # Drawn over the Transfer screen, and only where it differs from it: a
    # screen that kernel messages scrolled keeps stale rows until redrawn.
    console.keys("C-l", pause=2.0)
    return wait_redrawing(console, DONE_TITLE, timeouts.screen)


def walk_wizard(
    console: Console,
    login: TargetLogin,
    instance: str,
    *,
    hostname: str | None = None,
    settings: Settings | None = None,
    timeouts: Timeouts | None = None,
) -> Outcome:
    """From the Welcome screen to Done: take the network as it is, log in
    to the target, pin its host key, keep the proposed source, layout and
    fixups (``hostname``: typed into the Fixups screen instead of the
    default, the instance name), confirm with ``instance``, wait for the
    copy. Returns the Done screen; a failed migration is an Outcome with
    ``ok`` False, an error before it a :class:`WizardError`."""
    t = timeouts or Timeouts()
    screens: dict[str, str] = {}
    seconds: dict[str, float] = {}

    def step(name: str, started: float, screen: str) -> float:
        screens[name] = screen
        seconds[name] = round(time.monotonic() - started, 1)
        return time.monotonic()

    now = time.monotonic()
    now = step("Network", now, network(console, t))
    now = step("Target", now, target(console, login, t))
    now = step("Source", now, source(console, t))
    now = step("Layout", now, layout(console, t))
    chosen = settings or Settings(hostname=hostname)
    now = step("Fixups", now, fixups(console, chosen, t))
    now = step("Confirm", now, confirm(console, instance, t))
    done = transfer(console, instance, t)
    step("Transfer", now, done)
    title = re.search(DONE_TITLE, done, re.MULTILINE)
    assert title is not None
    return Outcome(title.group(1) == "Migrated", title.group(1), done, screens, seconds)


def report_directory(done: str) -> str:
    """Where the Done screen says the report is (in the live system)."""
    found = re.search(r"is in\s+(/\S+)", done)
    if found is None:
        raise WizardError(f"no report directory on the Done screen:\n{done}")
    return found.group(1)
