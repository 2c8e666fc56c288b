"""``console`` (optional): a login prompt and boot messages on the
instance's console -- ``ttyS0`` for KVM with a serial console, ``hvc0`` for
Xen PV, none otherwise; ``choices.console`` overrides, ``none`` disables.

- systemd: ``serial-getty@DEV.service`` enabled by the symlink ``systemctl
  enable`` would make. Its target directory is the one the source's existing
  getty links use, else ``/usr/lib/systemd/system`` when ``/lib`` is a
  symlink (merged /usr) or on the RHEL family, else ``/lib/systemd/system``
  -- both resolve on a merged-/usr system, the first matches what the
  source's own tools write;
- sysvinit: an /etc/inittab getty line (after the commented-out example for
  the device when there is one) unless an active line already runs a getty
  there; active gettys on serial ports the instance lacks are commented out
  (init would respawn them in a loop);
- upstart: left alone with a note (the distribution's jobs differ);
- /etc/securetty gets the device when it exists and lacks it;
- GRUB (boot: own): ``console=`` arguments are removed from every command
  line (the instance has no other console, and a later one would take
  /dev/console) and ``console=tty0 console=ttyS0,115200n8`` (or
  ``console=hvc0``) is added to the effective ``GRUB_CMDLINE_LINUX`` -- last,
  so that it is /dev/console; for ttyS0, ``GRUB_TERMINAL="console serial"``
  and a ``GRUB_SERIAL_COMMAND`` for unit 0 where the source has none.
"""

from __future__ import annotations

import re

from ._context import Context
from ._text import MARK, assignments, disabled, lines_of, set_var
from ._workspace import Scope
from .grub import DEFAULT, Cmdline, edit_cmdlines, grub_files, last_assignment
from .kernel_cmdline import console_args, console_tokens, join_args

FIXUP = "console"
INITTAB = "/etc/inittab"
SECURETTY = "/etc/securetty"
WANTS = "/etc/systemd/system/getty.target.wants"

_INITTAB_LINE = re.compile(r"^(?P<id>[^:#\s][^:]*):(?P<levels>[^:]*):(?P<action>[^:]*):(?P<process>.*)$")
_SERIAL_DEV = re.compile(r"\b(ttyS\d+|hvc\d+|xvc\d+|ttyAMA\d+)\b")


def fix_console(ctx: Context, scope: Scope) -> None:
    device = ctx.console
    if device is None:
        return
    init = ctx.machine.os.init
    inittab = scope.read(INITTAB)
    if init == "unknown" and inittab is not None and "upstart" not in inittab and "initdefault" in inittab:
        init = "sysvinit"
    if init == "systemd":
        _systemd(ctx, scope, device)
    elif init == "sysvinit" and inittab is not None:
        scope.write(
            INITTAB,
            inittab_with_getty(inittab, device, rhel=ctx.family == "rhel"),
            f"a login prompt on {device}",
        )
    elif init == "upstart":
        if scope.read(f"/etc/init/{device}.conf") is None:
            if scope.read("/etc/init/serial.conf") is not None:
                scope.note(
                    f"console: upstart's /etc/init/serial.conf starts a getty on {device} when the "
                    f"kernel command line has console={device}"
                )
            else:
                scope.note(
                    f"console: upstart: add a job /etc/init/{device}.conf for a login prompt on {device}"
                )
    else:
        scope.note(f"console: unknown init system; no login prompt configured on {device}")
    securetty = scope.read(SECURETTY)
    if securetty is not None and device not in {ln.strip() for ln in securetty.splitlines()}:
        new = securetty + ("" if securetty.endswith("\n") or not securetty else "\n")
        scope.write(
            SECURETTY, new + f"{MARK}the instance's console\n{device}\n", f"root may log in on {device}"
        )
    if ctx.boot_own and ctx.machine.os.bootloader == "grub2":
        _grub(ctx, scope, device)


def unit_dir(ctx: Context, scope: Scope) -> str:
    for path in scope.link_glob(WANTS + "/*"):
        target = scope.link(path) or ""
        for d in ("/lib/systemd/system", "/usr/lib/systemd/system"):
            if target.startswith(d + "/"):
                return d
    if scope.link("/lib") in ("usr/lib", "/usr/lib") or ctx.family == "rhel":
        return "/usr/lib/systemd/system"
    return "/lib/systemd/system"


def _systemd(ctx: Context, scope: Scope, device: str) -> None:
    path = f"{WANTS}/serial-getty@{device}.service"
    if scope.link(path) is not None:
        return
    scope.symlink(path, f"{unit_dir(ctx, scope)}/serial-getty@.service", f"a login prompt on {device}")


def inittab_with_getty(text: str, device: str, *, rhel: bool = False) -> str:
    lines = lines_of(text)
    used = set()
    present = False
    for i, line in enumerate(lines):
        m = _INITTAB_LINE.match(line.strip())
        if not m:
            continue
        used.add(m.group("id"))
        if m.group("action") not in ("respawn", "ondemand"):
            continue
        devices = _SERIAL_DEV.findall(m.group("process"))
        if device in devices:
            present = True
        elif devices and re.search(r"getty", m.group("process")):
            lines[i] = disabled(line, "no such console on the instance")
    if present:
        return "".join(lines)
    number = re.sub(r"\D", "", device) or "0"
    first = "T" if device.startswith("ttyS") else device[0]
    candidates = [first + number, "S" + number, "p" + number, "p2v"]
    ident = next(c for c in candidates if c not in used)
    if device.startswith("ttyS"):
        process = (
            f"/sbin/agetty -L 115200 {device} vt100" if rhel else f"/sbin/getty -L {device} 115200 vt100"
        )
        entry = f"{ident}:23:respawn:{process}\n"
    else:
        process = f"/sbin/agetty {device} 38400" if rhel else f"/sbin/getty 38400 {device}"
        entry = f"{ident}:2345:respawn:{process}\n"
    block = [f"{MARK}a login prompt on the instance's console\n", entry]
    example = re.compile(rf"^#\s*[^:\s]+:[^:]*:[^:]*:.*\b{re.escape(device)}\b")
    for i in range(len(lines) - 1, -1, -1):
        if example.match(lines[i]):
            if not lines[i].endswith("\n"):
                lines[i] += "\n"
            lines[i + 1 : i + 1] = block
            return "".join(lines)
    if lines and not lines[-1].endswith("\n"):
        lines[-1] += "\n"
    return "".join([*lines, "\n", *block])


def _grub(ctx: Context, scope: Scope, device: str) -> None:
    reason = f"kernel and GRUB output on {device}"

    def console(tokens: list[str], where: Cmdline) -> list[str]:
        return console_args(tokens, device, append=where.effective)

    found = edit_cmdlines(ctx, scope, console, reason)
    if not found and scope.read(DEFAULT) is not None:
        lines = set_var(
            lines_of(scope.read(DEFAULT) or ""),
            "GRUB_CMDLINE_LINUX",
            join_args(console_tokens(device)),
            comment="the instance's console",
        )
        scope.write(DEFAULT, "".join(lines), reason)
    if not device.startswith("ttyS") or not grub_files(scope):
        return
    unit = re.sub(r"\D", "", device)
    where = last_assignment(scope, "GRUB_TERMINAL")
    path = where[0] if where else DEFAULT
    lines = lines_of(scope.read(path) or "")
    current = assignments(lines, "GRUB_TERMINAL")
    if not current or "serial" not in current[-1].value.split():
        lines = set_var(lines, "GRUB_TERMINAL", "console serial", comment="GRUB on the serial console too")
        scope.write(path, "".join(lines), reason)
    where = last_assignment(scope, "GRUB_SERIAL_COMMAND")
    path = where[0] if where else DEFAULT
    lines = lines_of(scope.read(path) or "")
    current = assignments(lines, "GRUB_SERIAL_COMMAND")
    command = current[-1].value if current else ""
    default_unit = bool(command) and "--unit" not in command and unit == "0"
    if not re.search(rf"--unit={unit}\b", command) and not default_unit:
        lines = set_var(
            lines,
            "GRUB_SERIAL_COMMAND",
            f"serial --unit={unit} --speed=115200",
            comment=None if current else "the instance's serial port for GRUB",
        )
        scope.write(path, "".join(lines), reason)
