"""``hostname``: the instance's name (``choices.hostname``, else the Ganeti
instance name) replaces the source's.

- /etc/hostname gets the short name -- or the FQDN when the source kept an
  FQDN there (RHEL's ``hostnamectl`` habit) -- and is created on systemd and
  Debian-family systems that lack it;
- /etc/hosts: the old FQDN and short name are replaced wherever they appear
  as names; Debian-family systems get a ``127.0.1.1 fqdn short`` line when no
  line names the host (what debian-installer writes); addresses stay;
- /etc/sysconfig/network ``HOSTNAME=`` (RHEL 6), same style rule;
- /etc/mailname when it held the old FQDN (or the old short name).

A new name without a domain keeps the source's domain for the FQDN. The old
name comes from /etc/hostname, else ``HOSTNAME=``, else the probe.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..validate import clean_hostname, hostname_problem
from ._context import Context
from ._text import assignments, body, ending, lines_of, render
from ._workspace import Scope

FIXUP = "hostname"
HOSTNAME = "/etc/hostname"
HOSTS = "/etc/hosts"
SYSCONFIG = "/etc/sysconfig/network"
MAILNAME = "/etc/mailname"

_LOCAL = {
    "localhost",
    "localhost.localdomain",
    "localhost4",
    "localhost6",
    "localhost4.localdomain4",
    "localhost6.localdomain6",
    "",
}


@dataclass(frozen=True)
class Names:
    short: str
    fqdn: str | None


def old_names(ctx: Context, scope: Scope) -> Names | None:
    name = (scope.read(HOSTNAME) or "").strip()
    if not name:
        sysconfig = assignments(lines_of(scope.read(SYSCONFIG) or ""), "HOSTNAME")
        name = sysconfig[-1].value.strip() if sysconfig else ""
    name = name or ctx.machine.os.hostname
    if name in _LOCAL:
        return None
    short = name.split(".", 1)[0]
    fqdn = name if "." in name else None
    if fqdn is None:
        for line in lines_of(scope.read(HOSTS) or ""):
            tokens = body(line).split("#", 1)[0].split()[1:]
            if short in tokens:
                fqdn = next((t for t in tokens if t.startswith(short + ".")), None)
                if fqdn:
                    break
    if fqdn is None:
        mail = (scope.read(MAILNAME) or "").strip()
        fqdn = mail if mail.startswith(short + ".") else None
    return Names(short, fqdn)


def new_names(ctx: Context, old: Names | None) -> Names:
    name = clean_hostname(ctx.choices.hostname or ctx.facts.name)
    short = name.split(".", 1)[0]
    if "." in name:
        return Names(short, name)
    if old is not None and old.fqdn:
        return Names(short, short + "." + old.fqdn.split(".", 1)[1])
    return Names(short, None)


def fix_hostname(ctx: Context, scope: Scope) -> None:
    old = old_names(ctx, scope)
    new = new_names(ctx, old)
    if not new.short:
        return
    problem = hostname_problem(new.fqdn or new.short)
    if problem:
        # the answers, the wizard and the instance facts refuse these
        # already; nothing that is not a host name is written into /etc
        scope.note(f"hostname: {problem}; the host name is left as it is")
        return
    reason = f"the instance is called {new.fqdn or new.short}"
    current = scope.read(HOSTNAME)
    if current is not None or ctx.systemd or ctx.family == "debian":
        long_style = current is not None and "." in current.strip()
        scope.write(HOSTNAME, f"{new.fqdn if long_style and new.fqdn else new.short}\n", reason)
    hosts = scope.read(HOSTS)
    if hosts is not None:
        scope.write(HOSTS, hosts_for(hosts, old, new, debian=ctx.family == "debian"), reason)
    sysconfig = scope.read(SYSCONFIG)
    if sysconfig is not None:
        lines = lines_of(sysconfig)
        for a in assignments(lines, "HOSTNAME"):
            value = new.fqdn if "." in a.value and new.fqdn else new.short
            lines[a.index] = render(a, value, lines[a.index])
        scope.write(SYSCONFIG, "".join(lines), reason)
    mailname = scope.read(MAILNAME)
    if mailname is not None and old is not None:
        was = mailname.strip()
        if old.fqdn and was == old.fqdn and new.fqdn:
            scope.write(MAILNAME, new.fqdn + "\n", reason)
        elif was == old.short:
            scope.write(MAILNAME, new.short + "\n", reason)


_TOKEN = re.compile(r"(\s*)(\S+)")


def _renamed(content: str, rename: dict[str, str]) -> str:
    """The names of one hosts line renamed; a name the line already has
    once is not repeated. The address (first field) stays."""
    seen: list[str] = []

    def swap(m: re.Match[str]) -> str:
        name = m.group(2) if not seen else rename.get(m.group(2), m.group(2))
        if name in seen[1:]:
            return ""
        seen.append(name)
        return m.group(1) + name

    return _TOKEN.sub(swap, content)


def hosts_for(text: str, old: Names | None, new: Names, *, debian: bool) -> str:
    rename: dict[str, str] = {}
    if old is not None:
        if old.fqdn and old.fqdn not in _LOCAL:
            rename[old.fqdn] = new.fqdn or new.short
        if old.short not in _LOCAL:
            rename[old.short] = new.short
    lines = lines_of(text)
    named = False
    for i, line in enumerate(lines):
        content, sep, comment = body(line).partition("#")
        if not content.strip():
            continue
        content = _renamed(content, rename)
        lines[i] = content + sep + comment + ending(line)
        if new.short in content.split()[1:]:
            named = True
    if named or not debian:
        return "".join(lines)
    entry = f"127.0.1.1\t{new.fqdn}\t{new.short}\n" if new.fqdn else f"127.0.1.1\t{new.short}\n"
    for i in range(len(lines) - 1, -1, -1):
        if lines[i].split()[:1] == ["127.0.0.1"]:
            if not lines[i].endswith("\n"):
                lines[i] += "\n"
            lines.insert(i + 1, entry)
            return "".join(lines)
    return entry + "".join(lines)
