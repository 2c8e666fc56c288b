"""Parsing /etc/fstab (and fstab-like tables) into entries.

Fixups edit fstab line by line so that comments and alignment survive;
:func:`split_line` gives them the fields of one line, :func:`parse_fstab` the
entries of a whole file.
"""

from __future__ import annotations

import re

from .machine import FstabEntry

_OCTAL = re.compile(r"\\([0-7]{3})")


def unescape(field: str) -> str:
    r"""fstab writes a space in a path as ``\040`` (see fstab(5))."""
    return _OCTAL.sub(lambda m: chr(int(m.group(1), 8)), field)


def escape(field: str) -> str:
    return "".join(f"\\{ord(c):03o}" if c in " \t\n\\" else c for c in field)


def split_line(line: str) -> list[str] | None:
    """Fields of an entry line, or None for a blank line or a comment."""
    text = line.strip(" \t\r\n")
    if not text or text.startswith("#"):
        return None
    # Fields are separated by spaces and tabs only (a no-break space is part
    # of a field).
    return re.split(r"[ \t]+", text)


def parse_fstab(text: str) -> tuple[FstabEntry, ...]:
    entries = []
    for line in text.splitlines():
        fields = split_line(line)
        if fields is None or len(fields) < 2:
            continue
        fields += ["", "defaults", "0", "0"][len(fields) - 2 :] if len(fields) < 6 else []
        spec, file, vfstype, mntops, freq, passno = fields[:6]
        entries.append(
            FstabEntry(
                spec=unescape(spec),
                file=unescape(file),
                vfstype=vfstype or "auto",
                mntops=mntops or "defaults",
                freq=int(freq) if freq.isdigit() else 0,
                passno=int(passno) if passno.isdigit() else 0,
            )
        )
    return tuple(entries)


def mount_option(mntops: str, name: str) -> str | None:
    """Value of ``name=value`` in a comma-separated option list, ``""`` for a
    bare flag, None when absent."""
    for opt in mntops.split(","):
        key, sep, value = opt.partition("=")
        if key == name:
            return value if sep else ""
    return None
