"""A real Ganeti remote API (ganeti-rapi) in the lab, with a users file, as
an admin sets it up for p2v: a write user and a read-only user.

    with rapi_service(lab, tmp_path / "rapi") as rapi:
        outcomes = rapi_calls(lab, rapi, rapi.writer, [{"call": "version"}])

Debian starts ganeti-rapi bound to 127.0.0.1 (``RAPI_ARGS`` in
/etc/default/ganeti; reference pitfall 12), where nothing outside the node
reaches it. :func:`rapi_service` stops that daemon and runs its own in the
foreground, as ganeti-rapi's user, bound to the lab's master address with
``--require-authentication``; on exit it stops it by PID, puts the users
file back as it was and starts the cluster's own daemon again.

The lab's addresses exist only inside its network namespace, so p2v's
client (:class:`p2v_tui.system.rapi.RapiClient`) runs there too: the
project's venv Python on :mod:`tests.lab.rapi_inside`, which reports each
call's result or error as JSON (:func:`rapi_calls`).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import secrets
import ssl
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from . import ganeti_ns as ns
from .cache import REPO
from .ganeti import DAEMON_UTIL, GanetiLab
from .ganeti_proc import LabProcess

log = logging.getLogger(__name__)

PORT = 5080
USERS_FILE = "/var/lib/ganeti/rapi/users"
CERT_FILE = "/var/lib/ganeti/rapi.pem"
DAEMON_LOG = "/var/log/ganeti/rapi-daemon.log"
RAPI = "/usr/sbin/ganeti-rapi"
DAEMON_USER = "gnt-rapi"
"""ganeti-rapi refuses to start as any other user (daemon-util's ``--chuid gnt-rapi:gnt-rapi``)."""
USERS_FILE_OWNER = "gnt-rapi:gnt-masterd"
"""As ``ensure-dirs`` makes the rapi directory: the daemon reads the file, masterd's group may."""
START_TIMEOUT = 30.0
VENV_PYTHON = REPO / ".venv/bin/python"

PROBE = """\
import hashlib, http.client, json, ssl, sys
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
conn = http.client.HTTPSConnection(sys.argv[1], int(sys.argv[2]), context=ctx, timeout=5)
try:
    conn.connect()
    der = conn.sock.getpeercert(binary_form=True)
    conn.request("GET", "/version")
    status = conn.getresponse().status
except OSError as e:
    print(json.dumps({"error": str(e)}))
else:
    print(json.dumps({"status": status, "sha256": hashlib.sha256(der).hexdigest()}))
"""
"""Inside the lab (Debian's Python): does RAPI answer, with which certificate?
An anonymous ``GET /version`` must be refused (401): authentication is on."""

WRITE_USERS = """\
set -eu
umask 077
cat > "$1.new"
chown "$2" "$1.new"
chmod "$3" "$1.new"
mv -f "$1.new" "$1"
"""
"""Inside the lab: stdin to file $1 with owner $2 and mode $3, replaced in one
rename (ganeti-rapi rereads the file when it changes). The text comes on
stdin so no password is ever in a command line."""


@dataclass(frozen=True)
class RapiUser:
    name: str
    password_file: Path
    """On the host and inside the lab (the scratch directory is visible in
    both), mode 0600, the password on its first line."""
    write: bool


@dataclass(frozen=True)
class RapiLab:
    """A running ganeti-rapi in the lab, and what a user of it is given."""

    url: str
    """``https://ADDRESS:PORT``, reachable inside the lab's namespace only."""
    address: str
    port: int
    cert_pin: str
    """SHA-256 of the served certificate's DER, as ``openssl x509
    -fingerprint -sha256`` prints it (``AB:CD:...``)."""
    cert_pem: Path
    """A copy of the certificate of /var/lib/ganeti/rapi.pem (without its key)."""
    writer: RapiUser
    reader: RapiUser
    daemon_log: Path
    """ganeti-rapi's log on the host: one INFO line per request it answered."""
    pid: int
    """Host PID of the ganeti-rapi this lab runs."""


def users_file_text(users: Sequence[tuple[RapiUser, str]]) -> str:
    """Ganeti's users file: ``NAME {cleartext}PASSWORD [write|read]``."""
    return "".join(f"{u.name} {{cleartext}}{pw} {'write' if u.write else 'read'}\n" for u, pw in users)


def rapi_argv(address: str, port: int) -> list[str]:
    return [
        "setpriv",
        f"--reuid={DAEMON_USER}",
        f"--regid={DAEMON_USER}",
        "--init-groups",  # gnt-daemons, gnt-admin: luxid's and masterd's sockets
        "--",
        RAPI,
        "--foreground",  # the PID the lab holds is the daemon's own
        f"--bind={address}",  # an address of the lab's namespace (Debian's default: 127.0.0.1)
        f"--port={port}",
        "--require-authentication",  # as Debian runs it: no anonymous reads
    ]


def certificate_block(pem: str) -> str:
    """The certificate of a PEM file that also holds its private key."""
    m = re.search(r"-----BEGIN CERTIFICATE-----.*?-----END CERTIFICATE-----\n?", pem, re.DOTALL)
    if m is None:
        raise RuntimeError(f"no certificate in {CERT_FILE}")
    return m.group(0)


def openssl_fingerprint(sha256: bytes) -> str:
    return ":".join(f"{b:02X}" for b in sha256)


def _write_password_file(path: Path, password: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as f:
        f.write(password + "\n")


def _write_users(lab: GanetiLab, text: str, owner: str, mode: str) -> None:
    lab.run(["sh", "-c", WRITE_USERS, "sh", USERS_FILE, owner, mode], input=text, timeout=30)


def _wait_answering(lab: GanetiLab, proc: LabProcess, output: Path, address: str, sha256: str) -> None:
    """Until an anonymous request is refused (401) with the certificate of
    rapi.pem, for at most :data:`START_TIMEOUT` seconds."""
    deadline = time.monotonic() + START_TIMEOUT
    last: dict[str, object] = {}
    while time.monotonic() < deadline:
        if not proc.alive():
            raise RuntimeError(
                f"ganeti-rapi exited while starting:\n{output.read_text(errors='replace')[-3000:]}"
            )
        out = lab.run([ns.INIT_PYTHON, "-c", PROBE, address, str(PORT)], check=False, timeout=30).stdout
        last = json.loads(out or "{}")
        if "status" in last:
            if last["status"] != 401:
                raise RuntimeError(f"anonymous GET /version answered {last['status']}, not 401")
            if last["sha256"] != sha256:
                raise RuntimeError(f"ganeti-rapi serves a certificate other than {CERT_FILE}")
            return
        time.sleep(0.2)
    raise TimeoutError(f"ganeti-rapi not answering on {address}:{PORT} within {START_TIMEOUT}s: {last}")


def _wait_address(lab: GanetiLab, address: str) -> float:
    """Until ``address`` is on an interface of the lab (the master address
    comes up a moment after ``gnt-cluster init`` returns); the seconds waited."""
    t0 = time.monotonic()
    while f" {address}/" not in lab.run(["ip", "-o", "addr", "show"], timeout=30).stdout:
        if time.monotonic() - t0 > START_TIMEOUT:
            raise TimeoutError(f"{address} is on no interface of the lab after {START_TIMEOUT}s")
        time.sleep(0.2)
    return time.monotonic() - t0


@dataclass(frozen=True)
class _Saved:
    """The users file as it was (None: there was none), and whether the
    cluster's own ganeti-rapi ran."""

    text: str | None
    owner: str
    mode: str
    daemon_ran: bool


def _save(lab: GanetiLab) -> _Saved:
    path = lab.host_path(USERS_FILE)
    running = lab.run([DAEMON_UTIL, "check", "ganeti-rapi"], check=False, timeout=30).returncode == 0
    if not path.exists():
        return _Saved(None, USERS_FILE_OWNER, "0640", running)
    st = path.stat()
    return _Saved(
        path.read_text(encoding="utf-8"), f"{st.st_uid}:{st.st_gid}", f"{st.st_mode & 0o7777:o}", running
    )


def _restore(lab: GanetiLab, saved: _Saved, proc: LabProcess | None) -> None:
    """Stop ours (by PID), put the users file back, start the cluster's
    daemon again if it ran; every step is tried, the first failure raised."""
    errors: list[BaseException] = []
    steps: list[Callable[[], object]] = []
    if proc is not None:
        steps.append(proc.stop)
    if saved.text is None:
        steps.append(lambda: lab.run(["rm", "-f", USERS_FILE], timeout=30))
    else:
        text = saved.text
        steps.append(lambda: _write_users(lab, text, saved.owner, saved.mode))
    if saved.daemon_ran:
        steps.append(lambda: lab.run([DAEMON_UTIL, "start", "ganeti-rapi"], timeout=60))
    for step in steps:
        try:
            step()
        except Exception as exc:  # keep restoring
            log.warning("restoring the lab's RAPI: %s", exc)
            errors.append(exc)
    if errors:
        raise errors[0]


@contextmanager
def rapi_service(lab: GanetiLab, scratch: Path, *, address: str | None = None) -> Iterator[RapiLab]:
    """ganeti-rapi on ``address`` (default: the lab's master address), port
    5080, with a write and a read-only user whose random passwords are in
    files under ``scratch`` (created; it must be visible inside the lab)."""
    address = address or lab.master_address
    ns.check_scratch(scratch)
    scratch.mkdir(parents=True)
    writer = RapiUser("p2vwrite", scratch / "p2vwrite.password", write=True)
    reader = RapiUser("p2vread", scratch / "p2vread.password", write=False)
    users = [(writer, secrets.token_urlsafe(24)), (reader, secrets.token_urlsafe(24))]
    for user, password in users:
        _write_password_file(user.password_file, password)
    pem = certificate_block(lab.host_path(CERT_FILE).read_text(encoding="ascii"))
    sha256 = hashlib.sha256(ssl.PEM_cert_to_DER_cert(pem))
    cert_pem = scratch / "rapi-cert.pem"
    cert_pem.write_text(pem, encoding="ascii")
    saved = _save(lab)
    _write_users(lab, users_file_text(users), USERS_FILE_OWNER, "0640")
    proc = None
    try:
        if saved.daemon_ran:
            # Ganeti's own stop: the PID of its pid file, checked to be ganeti-rapi
            lab.run([DAEMON_UTIL, "stop", "ganeti-rapi"], timeout=60)
        waited = _wait_address(lab, address)
        if waited > 0.1:
            log.info("%s came up after %.1fs", address, waited)
        t0 = time.monotonic()
        output = scratch / "ganeti-rapi.out"
        proc = lab.spawn(rapi_argv(address, PORT), output)
        _wait_answering(lab, proc, output, address, sha256.hexdigest())
        log.info("ganeti-rapi on %s:%d answering in %.1fs", address, PORT, time.monotonic() - t0)
        yield RapiLab(
            url=f"https://{address}:{PORT}",
            address=address,
            port=PORT,
            cert_pin=openssl_fingerprint(sha256.digest()),
            cert_pem=cert_pem,
            writer=writer,
            reader=reader,
            daemon_log=lab.host_path(DAEMON_LOG),
            pid=proc.pid,
        )
    finally:
        _restore(lab, saved, proc)


# -- p2v's client, inside the lab -------------------------------------------------


@dataclass(frozen=True)
class CallError:
    """What one call of p2v's client raised."""

    kind: str
    """The exception class's name, e.g. ``RapiForbidden``."""
    kinds: tuple[str, ...]
    """Its class hierarchy, most specific first."""
    message: str
    status: int | None
    job: Mapping[str, object] | None
    """The failed job (:class:`p2v_tui.model.rapi.Job` as a dict) of a RapiJobFailed."""


@dataclass(frozen=True)
class Outcome:
    value: object
    error: CallError | None

    def ok(self) -> object:
        """The value; a failed call fails the test with its error."""
        if self.error is not None:
            raise AssertionError(f"RAPI call failed: {self.error.kind}: {self.error.message}")
        return self.value


def rapi_calls(
    lab: GanetiLab,
    rapi: RapiLab,
    user: RapiUser,
    calls: Sequence[Mapping[str, object]],
    *,
    pin: str | None = None,
    password_file: Path | None = None,
    timeout: float = 120,
) -> list[Outcome]:
    """Run ``calls`` (see :mod:`tests.lab.rapi_inside`) with one
    :class:`~p2v_tui.system.rapi.RapiClient` inside the lab, as ``user``
    (with another ``pin`` or ``password_file`` when given)."""
    request = {
        "url": rapi.url,
        "pin": pin or rapi.cert_pin,
        "user": user.name,
        "password_file": str(password_file or user.password_file),
        "calls": list(calls),
    }
    proc = lab.run(
        [str(VENV_PYTHON), "-m", "tests.lab.rapi_inside"],
        input=json.dumps(request),
        cwd=str(REPO),
        timeout=timeout,
    )
    outcomes = []
    for entry in json.loads(proc.stdout):
        err = entry.get("error")
        error = None
        if err is not None:
            error = CallError(
                kind=err["kind"],
                kinds=tuple(err["kinds"]),
                message=err["message"],
                status=err.get("status"),
                job=err.get("job"),
            )
        outcomes.append(Outcome(entry.get("value"), error))
    return outcomes
