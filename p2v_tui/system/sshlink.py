"""Noticing, within about a minute, that the link to the target is gone.

A cable pulled or a network cut sends no reset: TCP retransmits for about
15 minutes before it gives up, and a paramiko keepalive is only sent, never
answered. So every channel has its own bound, the same for all:

- OpenSSH (rsync, tar) asks for a sign of life after KEEPALIVE_INTERVAL of
  silence and ends after KEEPALIVE_MISSES unanswered asks (ServerAlive*;
  with a ControlMaster the master asks, and every session through it ends
  with it);
- paramiko's socket has TCP_USER_TIMEOUT: what was sent and stays
  unacknowledged ends the connection, and the keepalive is such data;
- opening a channel needs an answer from the target's sshd in LINK_TIMEOUT;
  SFTP replies have the same bound.
"""

from __future__ import annotations

import logging
import socket

import paramiko

from .target import TargetLost

log = logging.getLogger(__name__)

KEEPALIVE_INTERVAL = 10
"""Seconds of silence after which each SSH connection (paramiko's and
OpenSSH's) asks the target for a sign of life."""
KEEPALIVE_MISSES = 3
"""Unanswered asks after which OpenSSH gives the link up."""
LINK_TIMEOUT = KEEPALIVE_INTERVAL * (KEEPALIVE_MISSES + 1)
"""Seconds without an answer after which the link counts as lost."""
UNACKNOWLEDGED_TIMEOUT = LINK_TIMEOUT - KEEPALIVE_INTERVAL
"""Seconds the kernel lets sent data stay unacknowledged: with a keepalive
sent after KEEPALIVE_INTERVAL of silence, a dead link is noticed within
LINK_TIMEOUT."""


def watch_link(sock: socket.socket) -> None:
    """End the connection when what was sent stays unacknowledged for
    UNACKNOWLEDGED_TIMEOUT (TCP_USER_TIMEOUT), not after TCP's retransmissions."""
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_USER_TIMEOUT, UNACKNOWLEDGED_TIMEOUT * 1000)


class Link:
    """The state of one paramiko connection to the target: alive, or lost
    for good (a new run connects anew)."""

    def __init__(self, transport: paramiko.Transport, address: str) -> None:
        self.transport = transport
        self.address = address
        self.lost: TargetLost | None = None

    def ensure(self, reason: BaseException | None = None) -> None:
        """Raise TargetLost if the link was found lost or the connection
        ended (``reason``: what a call on it raised, if known)."""
        if self.lost is None and not self.transport.is_active():
            reason = reason or self.transport.get_exception()
            ended = f"the SSH connection to {self.address} ended"
            raise self.lose(f"{ended} ({reason})" if reason else ended)
        if self.lost is not None:
            raise self.lost

    def check(self) -> None:
        """Raise TargetLost unless the target answers within LINK_TIMEOUT."""
        self.ensure()
        self.open_channel().close()

    def open_channel(self) -> paramiko.Channel:
        """A session channel: opening one needs an answer from the target's
        sshd, so none in time means the link is lost. Each read or send on
        it (a command's input into a full window, an SFTP reply) waits at
        most LINK_TIMEOUT too, not the whole command or transfer."""
        self.ensure()
        try:
            chan = self.transport.open_session(timeout=LINK_TIMEOUT)
        except paramiko.ChannelException:
            raise  # refused (sshd's MaxSessions): the link works
        except (paramiko.SSHException, EOFError, OSError) as e:
            self.ensure(e)  # the connection ended meanwhile
            raise self.lose(f"no answer from {self.address} for {LINK_TIMEOUT} s") from e
        chan.settimeout(LINK_TIMEOUT)
        return chan

    def lose(self, why: str) -> TargetLost:
        """Mark the link lost and close the connection; the TargetLost to raise."""
        if self.lost is None:
            self.lost = TargetLost(f"the link to the target is lost: {why}")
            log.debug("%s", self.lost)
            self.transport.close()
        return self.lost
