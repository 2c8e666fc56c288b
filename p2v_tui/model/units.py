"""Byte sizes: parsing what people type, printing what people read, aligning.

Sizes everywhere in the model are plain ``int`` bytes; only this module turns
them into text and back.
"""

from __future__ import annotations

import re

SECTOR = 512
KiB = 1024
MiB = 1024**2
GiB = 1024**3
TiB = 1024**4

ALIGN = MiB
"""Every partition starts and ends on a 1 MiB boundary."""

_UNITS = {
    "": 1,
    "B": 1,
    "K": KiB,
    "M": MiB,
    "G": GiB,
    "T": TiB,
}

_SIZE_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([KMGT]?)(?:I?B)?\s*$", re.IGNORECASE)


class SizeError(ValueError):
    """Text that is not a size."""


def parse_size(text: str) -> int:
    """Parse ``20G``, ``512M``, ``1.5T``, ``4096`` (bytes) into bytes.

    Units are binary (G means GiB) because disks and partitions are sized in
    sectors; ``GB``/``GiB`` spellings are accepted and mean the same.
    """
    m = _SIZE_RE.match(text)
    if not m:
        raise SizeError(f"not a size: {text!r} (expected e.g. 20G, 512M, 1.5T)")
    number, unit = m.groups()
    return int(float(number) * _UNITS[unit.upper()])


def exact_size_text(n: int) -> str:
    """``n`` as :func:`parse_size` reads it back exactly, in the largest
    unit that divides it: ``20G``, ``1536M``; bytes when none does."""
    for unit, factor in (("T", TiB), ("G", GiB), ("M", MiB), ("K", KiB)):
        if n % factor == 0:
            return f"{n // factor}{unit}"
    return str(n)


def format_size(n: int) -> str:
    """Human-readable binary size, three significant figures: ``19.5 GiB``."""
    if n < 0:
        return "-" + format_size(-n)
    for unit, factor in (("TiB", TiB), ("GiB", GiB), ("MiB", MiB), ("KiB", KiB)):
        if n >= factor:
            value = n / factor
            # Choose the precision on the rounded value: 9.996 prints 10.0.
            if round(value, 1) >= 100:
                return f"{value:.0f} {unit}"
            if round(value, 2) >= 10:
                return f"{value:.1f} {unit}"
            return f"{value:.2f} {unit}"
    return f"{n} B"


def align_up(n: int, step: int = ALIGN) -> int:
    return -(-n // step) * step


def align_down(n: int, step: int = ALIGN) -> int:
    return (n // step) * step
