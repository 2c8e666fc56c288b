"""Block device signatures with ``blkid -p``.

``-p`` reads the device itself (low-level probing) instead of the blkid cache:
the cache may be stale on a live image and writing it is a side effect.
"""

from __future__ import annotations

import logging

from ...model.parsers import parse_blkid_export
from ..runner import CommandRunner

log = logging.getLogger(__name__)

#: blkid's exit status when it finds no signature on the device.
BLKID_NOTHING_FOUND = 2


def blkid_argv(device: str) -> list[str]:
    return [
        "blkid",
        "-p",  # probe the device, bypass (and never write) the cache
        "-o", "export",  # KEY=value lines
        device,
    ]  # fmt: skip


def probe_signature(runner: CommandRunner, device: str) -> dict[str, str]:
    """blkid's view of ``device`` (TYPE, UUID, LABEL, PART_ENTRY_* ...);
    empty when it holds nothing blkid knows."""
    result = runner.run(blkid_argv(device), check=False)
    if result.returncode == BLKID_NOTHING_FOUND:
        return {}
    if result.returncode != 0:
        log.warning("blkid -p %s: exit status %d: %s", device, result.returncode, result.stderr.strip())
        return {}
    return parse_blkid_export(result.stdout)
