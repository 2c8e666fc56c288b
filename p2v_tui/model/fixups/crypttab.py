"""``crypttab``: /etc/crypttab entries for storage that moved or vanished.

p2v copies files, not block devices: the instance has no encrypted
containers. Two kinds of entries matter:

- random-key swap (``cryptswap /dev/sda2 /dev/urandom swap,...``): the swap
  partition the planner made for it gets the mapping, named by the instance's
  device path (a random-key swap has no stable UUID, and PARTUUIDs are not
  known before partitioning) -- a note says so;
- everything else (LUKS or plain containers with a key): commented out. If
  the probe could read the filesystem inside (the container was open), the
  planner migrated its files to a plain partition and the fstab fixup names
  that partition; otherwise the data was not migrated.
"""

from __future__ import annotations

from ._context import Context, CryptEntry
from ._text import disabled, lines_of, replace_field, rewrite_line
from ._volumes import Volumes
from ._workspace import Scope

FIXUP = "crypttab"
PATH = "/etc/crypttab"

_RANDOM_KEYS = {"/dev/urandom", "/dev/random", "/dev/hw_random"}


def _fields(line: str) -> list[str] | None:
    text = line.strip()
    if not text or text.startswith("#"):
        return None
    fields = text.split()
    return fields if len(fields) >= 2 else None


def analyse(text: str | None, volumes: Volumes) -> dict[str, CryptEntry]:
    """What happens to each mapping (the fstab fixup needs this too)."""
    entries: dict[str, CryptEntry] = {}
    for line in lines_of(text or ""):
        fields = _fields(line)
        if fields is None:
            continue
        name, spec = fields[0], fields[1]
        keyfile = fields[2] if len(fields) > 2 else "none"
        options = set(fields[3].split(",")) if len(fields) > 3 else set()
        if keyfile in _RANDOM_KEYS and "swap" in options:
            vol = volumes.resolve(spec)
            part = (
                (volumes.target(vol) if vol else None)
                or volumes.plan.partition_for_source(volumes.source_device(spec))
                or volumes.plan.partition_for_source(f"/dev/mapper/{name}")
                or volumes.target_named(spec)
            )
            if part is not None and part.role == "swap":
                entries[name] = CryptEntry(name, "move", part.device)
            else:
                entries[name] = CryptEntry(name, "drop", why="swap not migrated")
        elif keyfile in _RANDOM_KEYS:
            entries[name] = CryptEntry(name, "drop", why="random-key volume not migrated")
        else:
            entries[name] = CryptEntry(
                name, "drop", why="encrypted container not migrated (p2v copies files, not containers)"
            )
    return entries


def fix_crypttab(ctx: Context, scope: Scope) -> None:
    text = scope.read(PATH)
    if text is None:
        return
    lines = lines_of(text)
    i = 0
    while i < len(lines):
        fields = _fields(lines[i])
        entry = ctx.crypt.get(fields[0]) if fields else None
        if fields is None or entry is None:
            i += 1
            continue
        if entry.action == "move" and fields[1] != entry.device:
            i = rewrite_line(lines, i, replace_field(lines[i], 1, entry.device))
            scope.note(
                f"crypttab: random-key swap {entry.name} now uses {entry.device} (a random-key "
                "swap has no UUID to name it by); update /etc/crypttab if partitions are renumbered"
            )
        elif entry.action == "drop":
            lines[i] = disabled(lines[i], entry.why)
            mapped = f"/dev/mapper/{entry.name}"
            vol = ctx.volumes.resolve(mapped)
            part = ctx.volumes.target(vol) if vol else None
            if part is not None:
                scope.note(
                    f"crypttab: the files of {vol.mountpoint if vol else mapped} were copied from "
                    f"the encrypted volume {entry.name} to the unencrypted {part.device}"
                )
            else:
                scope.note(f"crypttab: {entry.name} ({fields[1]}): {entry.why}")
        i += 1
    scope.write(PATH, "".join(lines), "crypttab entries for storage that moved or is gone")
