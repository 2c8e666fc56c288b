"""Probe a server that still runs, over SSH, without writing to it.

Every command here only reads: ``cat`` of the kernel's reports and of
``/etc/fstab``, a ``sh`` loop over ``/sys/block``, ``blkid -p`` (the device
itself, never blkid's cache file), ``stat -f``, ``dumpe2fs -h`` and
``xfs_info``. Nothing is installed or left on the server; what it answers
is parsed strictly by :mod:`p2v_tui.model.running`.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

from ..model.machine import Machine
from ..model.running import (
    BLOCKS_SCRIPT,
    STATFS_FORMAT,
    RunningReports,
    RunningSourceError,
    describe_running,
    devices_to_ask,
    links_to_resolve,
    local_mounts,
)
from .target import Target, TargetError

log = logging.getLogger(__name__)

FILE_LIMIT = 1024 * 1024
"""Bytes read at most of one report."""


def _out(source: Target, argv: list[str], *, needed: bool = True) -> str:
    result = source.run(argv, check=False, timeout=120)
    if result.returncode != 0 and needed:
        raise RunningSourceError(
            f"{' '.join(argv[:3])} failed on the source (exit {result.returncode}): "
            f"{result.stderr.strip()[-300:] or 'no message'}"
        )
    if len(result.stdout) > FILE_LIMIT:
        raise RunningSourceError(f"{' '.join(argv[:3])} on the source printed more than {FILE_LIMIT} bytes")
    return result.stdout if result.returncode == 0 else ""


def read_reports(source: Target) -> RunningReports:
    """What the running server says about its disks, mounts and swap."""
    mounts = _out(source, ["cat", "/proc/mounts"])
    swaps = _out(source, ["cat", "/proc/swaps"])
    blocks = _out(source, ["sh", "-c", BLOCKS_SCRIPT])
    links = {}
    for link in links_to_resolve(mounts):
        resolved = _out(source, ["readlink", "-f", "--", link], needed=False).strip()
        if not resolved.startswith("/dev/") or "\n" in resolved:
            raise RunningSourceError(f"the server mounts {link}, which does not resolve to a device there")
        links[link] = resolved
    copied, left = local_mounts(mounts, links)
    if left:
        log.info("not copied by a warm pass: %s", ", ".join(f"{m.target} ({m.fstype})" for m in left[:40]))
    signatures = {}
    for device in devices_to_ask(mounts, swaps, blocks, links):
        # blkid exits 2 where it finds no signature (a disk without a table)
        signatures[device] = _out(source, ["blkid", "-p", "-o", "export", "--", device], needed=False)
    statfs = {
        m.target: _out(source, ["stat", "-f", f"--format={STATFS_FORMAT}", "--", m.target]) for m in copied
    }
    details: dict[str, str] = {}
    for m in copied:
        if m.fstype.startswith("ext"):
            details[m.source] = _out(source, ["dumpe2fs", "-h", "--", m.source], needed=False)
        elif m.fstype == "xfs":
            details[m.source] = _out(source, ["xfs_info", m.target], needed=False)
        if m.source in details and not details[m.source]:
            log.warning(
                "the source could not describe %s's features: the target gets mkfs defaults", m.target
            )
    return RunningReports(
        mounts=mounts,
        swaps=swaps,
        blocks=blocks,
        fstab=_out(source, ["cat", "/etc/fstab"], needed=False),
        hostname=_out(source, ["cat", "/etc/hostname"], needed=False),
        links=links,
        signatures=signatures,
        statfs=statfs,
        details=details,
    )


def probe_running(source: Target) -> Machine:
    """The running server as a Machine (see :func:`describe_running`)."""
    try:
        return describe_running(read_reports(source))
    except TargetError as e:
        raise RunningSourceError(f"probing the running source failed: {e}") from e


def source_clock(source: Target) -> int:
    """The source's own clock (seconds since the epoch): what it stamps
    its files' ctimes with, whatever this machine's clock says."""
    text = _out(source, ["date", "+%s"]).strip()
    if not text.isdigit() or len(text) > 12:
        raise RunningSourceError(f"date +%s on the source answered {text[:40]!r}")
    return int(text)


class RunningSources:
    """The running server's filesystems, each where it is mounted there
    (the target reads them through the copy key: nothing is mounted)."""

    def __init__(self, machine: Machine, connection: Target | None = None) -> None:
        self._dirs: Mapping[str, str] = {fs.device: fs.mountpoint or "/" for fs in machine.filesystems}
        self._connection = connection

    def directory(self, device: str) -> str:
        return self._dirs[device]

    def close(self) -> None:
        """Close the connection to the server (the probe's)."""
        if self._connection is not None:
            self._connection.close()
            self._connection = None
