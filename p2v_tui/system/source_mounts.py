"""Read-only mounts of source filesystems in private temporary directories."""

from __future__ import annotations

import logging
import os
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager

from ..model.commands import mount_argv
from ..model.source_mount_options import readonly_mount_options
from .runner import CommandError, CommandRunner, LocalRunner

log = logging.getLogger(__name__)

DEFAULT_BASE = "/run/p2v/mnt"


def umount_argv(target: str, *, lazy: bool = False) -> list[str]:
    argv = ["umount"]
    if lazy:
        argv.append("--lazy")  # last resort: detach now, finish when no longer busy
    argv.append(target)
    return argv


def unmount(runner: CommandRunner, target: str, *, attempts: int = 5) -> None:
    """Unmount ``target``, retrying while it is busy; lazily as a last resort."""
    for attempt in range(attempts):
        try:
            runner.run(umount_argv(target))
            return
        except CommandError as exc:
            if attempt == attempts - 1:
                log.warning("%s; detaching it lazily", exc)
            else:
                time.sleep(0.2 * (attempt + 1))
    runner.run(umount_argv(target, lazy=True), check=False)


@contextmanager
def readonly_mount(
    device: str,
    fstype: str,
    *,
    subvolid: int | None = None,
    base: str = DEFAULT_BASE,
    runner: CommandRunner | None = None,
) -> Iterator[str]:
    """Mount ``device`` read-only (see :mod:`p2v_tui.model.source_mount_options`) in a
    fresh directory under ``base``; unmount and remove it on exit."""
    run = runner or LocalRunner()
    os.makedirs(base, mode=0o700, exist_ok=True)
    target = tempfile.mkdtemp(prefix="ro-", dir=base)
    try:
        run.run(mount_argv(device, target, fstype, readonly_mount_options(fstype, subvolid=subvolid)))
        try:
            yield target
        finally:
            unmount(run, target)
    finally:
        try:
            os.rmdir(target)
        except OSError as exc:
            log.warning("could not remove mount directory %s: %s", target, exc)
