"""The live system's network, read and set: the side-effect half of model/netconfig.

Commands go through a :class:`CommandRunner`, so tests run them inside a
network namespace and the live image runs them for real. resolv.conf is a
path argument for the same reason: only the live image ever passes its own
/etc/resolv.conf.
"""

from __future__ import annotations

import logging
import os
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from ..model.netconfig import (
    NetworkState,
    StaticConfig,
    addr_show_argv,
    apply_argvs,
    network_state,
    resolv_conf_text,
    route_show_argv,
    validate,
)
from .runner import CommandRunner

log = logging.getLogger(__name__)

RESOLV_CONF = Path("/etc/resolv.conf")


def read_resolv_conf(path: Path) -> str:
    """Its text; empty when it is missing or dangling (a resolver that is not running)."""
    try:
        return path.read_text(encoding="utf-8", errors="replace")
    except (FileNotFoundError, NotADirectoryError):
        return ""


def read_state(runner: CommandRunner, resolv_path: Path | str = RESOLV_CONF) -> NetworkState:
    """Addresses, default routes (IPv4 and IPv6) and DNS servers as they are now."""
    return network_state(
        runner.run(addr_show_argv()).stdout,
        runner.run(route_show_argv(4)).stdout,
        runner.run(route_show_argv(6)).stdout,
        read_resolv_conf(Path(resolv_path)),
    )


def write_resolv_conf(path: Path | str, text: str) -> None:
    """Replace ``path`` atomically: resolvers never read a half-written file.

    A symbolic link at ``path`` (systemd-resolved's stub, resolvconf's file
    under /run) is replaced by a plain file, not followed: the servers typed
    by hand are then the ones glibc asks, whatever that daemon thinks.
    """
    target = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)  # mkstemp makes it 0600; every program must read it
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def apply_static(
    runner: CommandRunner, cfg: StaticConfig, resolv_path: Path | str = RESOLV_CONF
) -> NetworkState:
    """Set ``cfg`` on the live system and return the state read back afterwards.

    The state is read first: it validates ``cfg`` (a :class:`ValueError`
    lists the errors, nothing is changed) and names the default routes that
    the new gateway replaces. resolv.conf is written only when ``cfg`` has
    DNS servers.
    """
    before = read_state(runner, resolv_path)
    errors = validate(cfg, before)
    if errors:
        raise ValueError("; ".join(errors))
    for argv in apply_argvs(cfg, before):
        runner.run(argv)
    if cfg.dns:
        write_resolv_conf(resolv_path, resolv_conf_text(cfg))
    log.info("static network set: %s on %s via %s", cfg.address_cidr, cfg.iface, cfg.gateway or "-")
    return read_state(runner, resolv_path)


def wait_for_dhcp(
    runner: CommandRunner,
    timeout: float,
    *,
    resolv_path: Path | str = RESOLV_CONF,
    interval: float = 1.0,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> NetworkState:
    """Poll until an interface holds a DHCP lease or ``timeout`` seconds pass.

    Returns the last state read either way; the caller looks at
    ``state.dhcp``. The live image's DHCP client may still be asking when
    the wizard starts, and "no DHCP" should not be shown too early.
    """
    deadline = clock() + timeout
    while True:
        state = read_state(runner, resolv_path)
        if any(state.dhcp.values()):
            return state
        left = deadline - clock()
        if left <= 0:
            return state
        sleep(min(interval, left))


class LiveNetwork:
    """The live system's network as the wizard sees it (composition root: app)."""

    def __init__(self, runner: CommandRunner, resolv_path: Path | str = RESOLV_CONF) -> None:
        self.runner = runner
        self.resolv_path = resolv_path

    def state(self) -> NetworkState:
        return read_state(self.runner, self.resolv_path)

    def apply(self, cfg: StaticConfig) -> NetworkState:
        return apply_static(self.runner, cfg, self.resolv_path)
