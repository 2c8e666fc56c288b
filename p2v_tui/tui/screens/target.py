"""Target: where the instance is, how to log in, and whether it is really it.

The host key is the one thing a person must check by eye: unless an
answers file pinned it, the key is read first and shown next to the
question whether the instance's console shows the same fingerprint; only
a "yes" pins it and connects. A pinned key is checked before our key is
offered, so nothing reaches another machine. What was connected to (the
instance's name, disks and NICs) is shown before anyone may continue, and
changing any field afterwards asks for a new connection.

Or the instance does not exist yet: p2v creates it on a Ganeti cluster
through RAPI. Then nothing is connected to here; the fields become the
answers' ``cluster:`` section, checked as an answers file's is
(:mod:`p2v_tui.model.cluster_fields`), and the cluster itself is checked
once the source is probed, before anything is created.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import shlex
from typing import Any

import urwid

from ...engine.session import Connected
from ...model.answers import TargetAnswers, UnusableKeyError
from ...model.cluster_fields import ClusterFields, ClusterFieldsError, fields_of, migrated_default
from ...model.units import format_size
from ..controller import Controller, Failed, Result
from ..widgets.common import PlainButton, styled_button
from ..widgets.dialogs import ask
from ..widgets.fields import LABEL_WIDTH, PortField, RadioGroup, TextField
from ..widgets.frame import WizardFrame
from .base import NAV_KEYS, STEPS, Navigator
from .network import EnterActs

CONNECT_FIRST = "connect first"
CHANGED = "changed: connect again"

WHERE = [
    ("instance", "an instance that exists (host and host key)"),
    ("cluster", "create it on a Ganeti cluster (RAPI)"),
]
ON_CLUSTER = (
    "Nothing is created yet: the cluster checks the instance (and Ganeti does a dry run)"
    " once the source is probed; it is created only after you confirm."
)


def _required(what: str) -> Any:
    def check(text: str) -> str | None:
        return None if text.strip() else f"{what} is needed"

    return check


def _console_name(host: str) -> str:
    """What to put after ``gnt-instance console``: the host when it is a
    name (instances are usually reached by their name), else a placeholder."""
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return host
    return "INSTANCE"


class PasteArea(urwid.WidgetWrap):  # type: ignore[misc]
    """Where a private key is pasted: takes every character (Enter is a new
    line) but shows only its size and its first and last line.

    A key is 7 to 50 lines; shown whole it would push the form off an 80x24
    screen and leave the secret on the console (and in a serial console's
    log). Backspace erases the last character, Ctrl-U everything.
    """

    def __init__(self, label: str, on_change: Any = None) -> None:
        self._text = ""
        self._on_change = on_change
        self._shown = urwid.Text("")
        row = urwid.Columns(
            [
                ("fixed", LABEL_WIDTH, urwid.Text(label, align="right", wrap="clip")),
                urwid.AttrMap(self._shown, "field", "field.focus"),
            ],
            dividechars=1,
        )
        super().__init__(row)
        self._show()

    def selectable(self) -> bool:
        return True

    @property
    def text(self) -> str:
        return self._text

    def set_text(self, text: str) -> None:
        self._text = text
        self._show()

    def _show(self) -> None:
        lines = [line.strip() for line in self._text.splitlines() if line.strip()]
        if not lines:
            self._shown.set_text("paste it here (the whole file, BEGIN to END)\n")
            return
        last = lines[-1] if len(lines) > 1 else ""
        count = f"{len(lines)} line{'s' if len(lines) != 1 else ''}, {len(self._text)} characters"
        self._shown.set_text(f"{count}: {lines[0][:40]}\n{last[-60:]}")

    def keypress(self, size: tuple[int], key: str) -> str | None:
        if key == "enter":
            self._text += "\n"
        elif key == "backspace":
            self._text = self._text[:-1]
        elif key == "ctrl u":
            self._text = ""
        elif len(key) == 1 and key.isprintable():
            self._text += key
        else:
            return key
        self._show()
        if self._on_change is not None:
            self._on_change()
        return None


def facts_lines(connected: Connected) -> list[str]:
    facts = connected.facts
    lines = [f"Instance  {facts.name}   hypervisor {facts.hypervisor}"]
    for d in connected.disks:
        lines.append(f"Disk {d.index}    {d.path}  {format_size(d.size)}")
    for n in facts.nics:
        where = "  ".join(x for x in (n.ip or "no IP", f"link {n.link}" if n.link else "") if x)
        lines.append(f"NIC {n.index}     {n.mac}  {where}")
    return lines


def _row(label: str, widget: Any) -> Any:
    return urwid.Columns([("fixed", LABEL_WIDTH, urwid.Text(label, align="right")), widget], dividechars=1)


def _hint(text: str) -> Any:
    return urwid.Padding(urwid.Text(text), left=LABEL_WIDTH + 1)


class TargetScreen:
    index = STEPS.index("Target")

    def __init__(self, controller: Controller, nav: Navigator) -> None:
        self.controller = controller
        self.nav = nav
        glyphs = nav.glyphs
        self._busy = False
        self._connected = False
        """Connected with exactly what the fields say now."""
        self._quiet = False
        self._edits = 0
        """Counts changes, so a connection that returns after one is not taken as current."""
        t = controller.answers.target
        self._answers_pin = t.host_key.strip()
        """Pinned by a pre-filled answers file: always checked, never scanned."""
        self._scanned: tuple[str, int, str] | None = None
        """(host, port, fingerprint) confirmed by the person."""

        changed = self._changed
        self.host = TextField(
            "Host", t.host, glyphs=glyphs, validate=_required("the host"), on_change=changed
        )
        self.port = PortField("Port", t.port, glyphs=glyphs, on_change=changed)
        self.user = TextField(
            "User", t.user or "root", glyphs=glyphs, validate=_required("the user"), on_change=changed
        )
        self.key_mode = RadioGroup(
            [("file", "a key file (e.g. on a USB stick)"), ("paste", "paste the private key")],
            "file",
            on_change=self._mode_changed,
        )
        self.key_file = TextField(
            "Key file", t.identity, glyphs=glyphs, validate=_required("the key file"), on_change=changed
        )
        self.pasted = PasteArea("Private key", on_change=changed)
        self._host_key = urwid.Text("")
        connect = PlainButton("Connect", lambda _b: self.connect())
        self._facts = urwid.Text("")
        self.where = RadioGroup(
            WHERE,
            "cluster" if controller.answers.cluster is not None else "instance",
            on_change=self._where_changed,
        )
        self._cluster_fields(fields_of(controller.answers.cluster))
        self._migrated_hint = urwid.Text("")
        self._show_migrated_hint()
        self._instance_rows = [
            EnterActs(self.host, self.connect),
            EnterActs(self.port, self.connect),
            EnterActs(self.user, self.connect),
        ]
        self._after_key = [
            _row("Host key", self._host_key),
            urwid.Padding(styled_button(connect), left=LABEL_WIDTH + 1, width=connect.width),
            urwid.Divider(),
            self._facts,
        ]
        self._walker = urwid.SimpleFocusListWalker([])
        self._key_slot = 0
        self._rows()
        body = urwid.ListBox(self._walker)
        self.frame = WizardFrame(
            STEPS,
            self.index,
            "Target: the Ganeti instance to migrate into",
            body,
            NAV_KEYS,
            glyphs=glyphs,
            on_back=self._back,
            on_continue=self._continue,
        )
        self._show_pin()
        self.frame.set_continue(False, CONNECT_FIRST)

    def _cluster_fields(self, f: ClusterFields) -> None:
        g = self.nav.glyphs
        edited = self._cluster_edited
        self.rapi = TextField("RAPI URL", f.rapi, glyphs=g, on_change=edited)
        self.rapi_user = TextField("RAPI user", f.user, glyphs=g, on_change=edited)
        self.password_file = TextField("Password file", f.password_file, glyphs=g, on_change=edited)
        self.certificate = TextField("Certificate", f.certificate, glyphs=g, on_change=edited)
        self.instance_name = TextField("Instance name", f.name, glyphs=g, on_change=edited)
        self.address = TextField("Bootstrap CIDR", f.address, glyphs=g, on_change=edited)
        self.gateway = TextField("Gateway", f.gateway, glyphs=g, on_change=edited)
        self.migrated = TextField("Migrated addr", f.migrated_address, glyphs=g, on_change=edited)
        self.pnode = TextField("Node", f.pnode, glyphs=g, on_change=edited)

    def _fields(self) -> ClusterFields:
        return ClusterFields(
            rapi=self.rapi.text,
            user=self.rapi_user.text,
            password_file=self.password_file.text,
            certificate=self.certificate.text,
            name=self.instance_name.text,
            address=self.address.text,
            gateway=self.gateway.text,
            migrated_address=self.migrated.text,
            pnode=self.pnode.text,
        )

    def _rows(self) -> None:
        """The form for the choice made: the instance's address, or the cluster's fields."""
        where = _row("Target", self.where)
        key_mode = _row("Key", self.key_mode)
        key = self.pasted if self.key_mode.value == "paste" else EnterActs(self.key_file, self.connect)
        if self.where.value == "cluster":
            fields = [
                self.rapi,
                self.rapi_user,
                self.password_file,
                self.certificate,
                _hint("SHA256:... or the absolute path of a copy of rapi.pem"),
                self.instance_name,
                self.address,
                self.gateway,
                self.migrated,
                urwid.Padding(self._migrated_hint, left=LABEL_WIDTH + 1),
                self.pnode,
            ]
            rows = [where, *fields, key_mode]
            self._key_slot = len(rows)
            rows.append(key)
        else:
            rows = [where, *self._instance_rows, key_mode]
            self._key_slot = len(rows)
            rows += [key, *self._after_key]
        self._walker[:] = rows
        self._walker.set_focus(1)

    # -- shown ------------------------------------------------------------

    def enter(self) -> None:
        connected = self.controller.connected
        if self.where.value == "cluster":
            self.frame.set_continue(True)
            self.frame.set_status(ON_CLUSTER)
        elif self._connected and connected is not None:
            self._show_facts(connected)
            self.frame.set_continue(True)
        else:
            self.frame.set_continue(False, CONNECT_FIRST if not self._busy else "connecting")

    def _show_pin(self) -> None:
        pin = self._pin()
        if self._answers_pin:
            text = f"{self._answers_pin} (pinned by the answers file)"
        elif pin:
            text = f"{pin} (confirmed)"
        else:
            text = "read on Connect, for you to compare with the console"
        self._host_key.set_text(text)

    def _show_facts(self, connected: Connected | None) -> None:
        self._facts.set_text("\n".join(facts_lines(connected)) if connected is not None else "")

    # -- what was typed ---------------------------------------------------

    def _changed(self) -> None:
        if self._quiet:
            return
        if self.where.value == "cluster":
            self._cluster_edited()
            return
        self._edits += 1
        self._show_pin()
        if self._connected or self.frame.continue_enabled:
            self._connected = False
            self._show_facts(None)
            self.frame.set_continue(False, CHANGED)

    def _mode_changed(self) -> None:
        pasting = self.key_mode.value == "paste"
        field = self.pasted if pasting else self.key_file
        self._walker[self._key_slot] = field if pasting else EnterActs(field, self.connect)
        self._changed()

    def _where_changed(self) -> None:
        self._rows()
        self._walker.set_focus(0)
        self.frame.set_error(None)
        self.frame.set_status(None)
        if self.where.value == "cluster":
            self.frame.set_continue(True)
            self.frame.set_status(ON_CLUSTER)
            return
        self.controller.set_no_cluster()
        self._connected = False
        self._show_facts(None)
        self.frame.set_continue(False, CONNECT_FIRST)

    def _cluster_edited(self) -> None:
        self._show_migrated_hint()
        self.frame.set_error(None)

    def _show_migrated_hint(self) -> None:
        shown = migrated_default(self.address.text) or "its IP"
        self._migrated_hint.set_text(f"empty: {shown}, as the bootstrap (where p2v proves the boot)")

    def _pin(self) -> str:
        if self._answers_pin:
            return self._answers_pin
        if self._scanned is not None and self._scanned[:2] == (self.host.text.strip(), self.port.port):
            return self._scanned[2]
        return ""

    def _identity(self) -> str:
        """The key file's path; a pasted key is checked and stored first (and
        the form then shows its file, so a retry does not store it again)."""
        if self.key_mode.value == "file":
            return self.key_file.text.strip()
        path = self.controller.store_pasted_key(self.pasted.text)
        self._quiet = True
        try:
            self.key_file.set_text(str(path))
            self.pasted.set_text("")
            self.key_mode.set_value("file")
        finally:
            self._quiet = False
        return str(path)

    # -- connecting -------------------------------------------------------

    def connect(self) -> None:
        if self._busy:
            return
        fields = [("host", self.host), ("port", self.port), ("user", self.user)]
        if self.key_mode.value == "file":
            fields.append(("key file", self.key_file))
        errors = [f"{name}: {error}" for name, field in fields if (error := field.check()) is not None]
        if errors:
            self.frame.set_error("Not connected: " + "; ".join(errors))
            return
        try:
            identity = self._identity()
        except UnusableKeyError as e:
            self.frame.set_error(f"Not connected: {e}")
            return
        port = self.port.port
        assert port is not None  # checked above
        target = TargetAnswers(
            host=self.host.text.strip(),
            identity=identity,
            host_key=self._pin(),
            port=port,
            user=self.user.text.strip(),
            connect_timeout=self.controller.answers.target.connect_timeout,
        )
        self.frame.set_error(None)
        self._connected = False
        self._show_facts(None)
        self.frame.set_continue(False, "connecting")
        self.controller.set_target(target)
        self._busy = True
        if target.host_key:
            self._connect(target)
            return
        self.frame.set_status(f"Reading the host key of {target.host} port {target.port} ...")
        self.controller.scan_host_key(lambda result: self._scanned_key(target, result))

    def _scanned_key(self, target: TargetAnswers, result: Result[str]) -> None:
        if isinstance(result, Failed):
            self._failed(
                f"Cannot read the host key of {target.host} port {target.port}: {result.message}. "
                "Check the address and port, and that the instance runs the p2v-target OS."
            )
            return
        words = result.value.split()
        fingerprint = next((w for w in words if w.startswith("SHA256:")), result.value)
        kind = words[0] if len(words) > 1 else "key"
        self.frame.set_status(None)
        self.frame.set_continue(False, "confirm the host key")
        ask(
            self.frame,
            f"{target.host} port {target.port} shows the {kind} host key\n\n  {fingerprint}\n\n"
            "Is this the fingerprint shown on the instance's console "
            f"(gnt-instance console {shlex.quote(_console_name(target.host))})?",
            "Yes, the same",
            "No",
            lambda yes: self._answered(target, fingerprint, yes),
            title="Host key",
        )

    def _answered(self, target: TargetAnswers, fingerprint: str, yes: bool) -> None:
        if not yes:
            self._failed(
                "Not connected: the host key was not confirmed. If the console shows another "
                f"fingerprint, something else answers at {target.host}: check the address."
            )
            return
        self._scanned = (target.host, target.port, fingerprint)
        pinned = dataclasses.replace(target, host_key=fingerprint)
        self.controller.set_target(pinned)
        self._show_pin()
        self._connect(pinned)

    def _connect(self, target: TargetAnswers) -> None:
        self.frame.set_status(f"Connecting to {target.user}@{target.host} port {target.port} ...")
        edits = self._edits
        self.controller.connect(lambda result: self._done(target, edits, result))

    def _done(self, target: TargetAnswers, edits: int, result: Result[Connected]) -> None:
        if isinstance(result, Failed):
            self._failed(
                f"Connecting to {target.user}@{target.host} port {target.port} failed: {result.message}"
            )
            return
        self._busy = False
        connected = result.value
        self._show_facts(connected)
        if edits != self._edits:
            self.frame.set_continue(False, CHANGED)
            self.frame.set_status(f"Connected to {target.host}, but the fields changed since: connect again.")
            return
        self._connected = True
        self.frame.set_continue(True)
        self.frame.set_status(f"Connected to {target.user}@{target.host}: instance {connected.facts.name}.")

    def _failed(self, message: str) -> None:
        self._busy = False
        self.frame.set_status(None)
        self.frame.set_error(message)
        self.frame.set_continue(False, CONNECT_FIRST)

    # -- leaving ----------------------------------------------------------

    def _continue(self) -> None:
        if self.where.value == "cluster":
            self._choose_cluster()
        elif self._connected and not self._busy:
            self.nav.next()

    def _choose_cluster(self) -> None:
        """The fields checked as an answers file's ``cluster:`` section; on to
        the source when they pass (nothing is connected to or created here)."""
        try:
            self.controller.set_cluster(self._fields(), self._identity())
        except (ClusterFieldsError, UnusableKeyError) as e:
            self.frame.set_error(f"Not ready: {e}")
            return
        self.frame.set_error(None)
        self.nav.next()

    def _back(self) -> None:
        if not self._busy:
            self.nav.back()
