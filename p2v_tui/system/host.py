"""Facts about the machine p2v itself runs on (the source, booted live)."""

from __future__ import annotations

from pathlib import Path

BOOT_ID = "/proc/sys/kernel/random/boot_id"


def boot_id() -> str:
    """This boot's random id: two machines never share it."""
    try:
        return Path(BOOT_ID).read_text().strip()
    except OSError:
        return ""
