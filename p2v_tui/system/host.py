"""Facts about the machine p2v itself runs on (the source, booted live)."""

from __future__ import annotations

import os
import re
from pathlib import Path

BOOT_ID = "/proc/sys/kernel/random/boot_id"


def boot_id() -> str:
    """This boot's random id: two machines never share it."""
    try:
        return Path(BOOT_ID).read_text().strip()
    except OSError:
        return ""


def physical_macs(sys_class_net: str = "/sys/class/net") -> dict[int, str]:
    """The MACs of this machine's network cards (interfaces with a device
    behind them), in name order: NIC N of an instance replaces the Nth
    (``mac: keep``). The live system runs on the source's hardware."""
    macs: dict[int, str] = {}
    try:
        names = sorted(os.listdir(sys_class_net))
    except OSError:
        return macs
    for name in names:
        base = os.path.join(sys_class_net, name)
        if not os.path.exists(os.path.join(base, "device")):
            continue  # loopback, bridges, tunnels
        try:
            with open(os.path.join(base, "address"), encoding="ascii") as f:
                mac = f.read(64).strip().lower()
        except (OSError, UnicodeDecodeError):
            continue
        if re.fullmatch(r"[0-9a-f]{2}(:[0-9a-f]{2}){5}", mac) and mac != "00:00:00:00:00:00":
            macs[len(macs)] = mac
    return macs
