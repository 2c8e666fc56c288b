"""Measuring the source for the planner: bytes under excluded paths, and
the largest directories when the data does not fit."""

from __future__ import annotations

import glob
import logging
import os
from collections.abc import Sequence

from ..model.layout_copy import locate
from ..model.machine import Machine
from ..model.plan import LayoutError
from ..model.units import format_size
from .du import changed_since, largest_dirs, tree_size
from .runner import CommandError
from .sources import SourceAccess

log = logging.getLogger(__name__)


def measure_exclusions(machine: Machine, sources: SourceAccess, patterns: Sequence[str]) -> dict[str, int]:
    """Bytes under each excluded path (a pattern: ``*`` matches dotfiles
    too, as in rsync), read through the read-only source mounts."""
    sizes = {}
    for pattern in patterns:
        found = locate(pattern.rstrip("/") or "/", machine.filesystems)
        if found is None:
            sizes[pattern] = 0
            continue
        fs, rel = found
        top = sources.directory(fs.device)
        matches = glob.glob(os.path.join(top, rel), include_hidden=True)
        sizes[pattern] = sum(tree_size(m) for m in matches)
    return sizes


def space_hint(machine: Machine, sources: SourceAccess, error: LayoutError, top: int = 8) -> str:
    """Which big directories could be excluded to make the data fit."""
    lines = [f"It needs {format_size(error.missing)} more. Largest directories that could be excluded:"]
    found = []
    for fs in machine.filesystems:
        if fs.mountpoint is None or fs.used is None or fs.fstype in ("swap", "vfat"):
            continue
        where = locate(fs.mountpoint, [fs])
        if where is None:
            continue
        try:
            root = os.path.join(sources.directory(fs.device), where[1])
            for path, size in largest_dirs(root, depth=2, top=top):
                rel = os.path.relpath(path, root)
                found.append((size, os.path.normpath(os.path.join(fs.mountpoint, rel))))
        except (OSError, KeyError) as e:
            log.debug("no size hint for %s: %s", fs.device, e)
    for size, path in sorted(found, reverse=True)[:top]:
        lines.append(f"  {format_size(size):>10}  {path}")
    lines.append(
        "Exclude some of these (answers file: 'exclude:'; wizard: the Source screen), "
        "or give the instance a bigger disk."
    )
    return "\n".join(lines)


def final_pass_estimate(machine: Machine, sources: SourceAccess, since: int) -> tuple[int, int]:
    """(files, bytes) changed on the source's filesystems since ``since``
    (the last warm pass's start, by the source's clock): about what the
    cutover's final pass sends."""
    files = size = 0
    for fs in machine.filesystems:
        if fs.mountpoint is None or fs.fstype in ("swap", "crypto_LUKS") or fs.used is None:
            continue
        try:
            top = sources.directory(fs.device)
        except (CommandError, OSError, KeyError) as e:  # said by the plan, not here
            log.debug("not measuring %s: %s", fs.device, e)
            continue
        n, b = changed_since(top, since)
        files, size = files + n, size + b
    return files, size
