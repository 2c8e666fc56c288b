"""A small client of Ganeti's remote API (RAPI), on the standard library.

Trust. The certificate ganeti-rapi serves names ``ganeti.example.com`` and
has no subject alternative name, so no host name check can pass: TLS is set
up without verification and the certificate the server presents is
compared with the pin (the SHA-256 of its DER) right after the handshake.
Only then is a request, and with it the ``Authorization`` header, sent; a
mismatch is refused with both fingerprints and nothing sent.

Credentials. A user and a password read from a file
(:func:`read_password_file`). The password is kept in one private
attribute, never logged, never in a repr, and every error message is
scrubbed of it.

Bounds. Each request is one connection (ganeti-rapi forks per request and
closes it), bounded by a timeout over the whole exchange; a body larger
than ``max_body`` is refused. Answers are parsed by ``model/rapi*.py``;
an HTTP error becomes one :class:`RapiHttpError` line naming the method
and path.
"""

from __future__ import annotations

import base64
import http.client
import json
import logging
import socket
import ssl
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TypeVar

from ..model.answers_cluster import ClusterAnswers
from ..model.rapi import (
    Job,
    JobProgress,
    UnknownJob,
    error_message,
    job_progress,
    parse_api_version,
    parse_features,
    parse_instance_names,
    parse_job,
    parse_job_id,
)
from ..model.rapi_cluster import (
    ClusterInfo,
    GroupInfo,
    InstanceInfo,
    NodeInfo,
    parse_cluster_info,
    parse_group,
    parse_groups,
    parse_instance,
    parse_nodes,
)
from ..model.rapi_requests import (
    WRITE_PROBE_BODY,
    WRITE_PROBE_PATH,
    CertPin,
    InstanceSpec,
    RapiEndpoint,
    RapiSettingError,
    cert_pin,
    cert_pin_from_pem,
    create_instance_body,
    create_instance_path,
    group_path,
    instance_path,
    job_path,
    modify_body,
    modify_hvparams_body,
    rapi_user_problem,
    reboot_body,
    shutdown_body,
)
from ..model.rapi_values import parse_json
from ..model.target_output import MalformedOutput
from ..model.validate import control_character, printable
from .rapi_errors import (
    RapiAuthFailed,
    RapiBadAnswer,
    RapiConnectionError,
    RapiForbidden,
    RapiHttpError,
    RapiJobFailed,
    RapiJobTimeout,
    RapiNotFound,
    RapiPasswordFileError,
    RapiPinMismatch,
    RapiTimeout,
)
from .small_file import SmallFileError, read_small_file

log = logging.getLogger(__name__)

TIMEOUT = 30.0
"""Seconds one request may take in all (connection, TLS, answer)."""

MAX_BODY = 4 * 1024 * 1024
"""Bytes of an answer's body read at most (the lab's largest: 17 KiB)."""

PASSWORD_FILE_MAX = 4096

_T = TypeVar("_T")


def read_password_file(path: Path) -> str:
    """The RAPI password: the first line of ``path``, a regular file of at
    most 4 KiB, blanks around it dropped (Ganeti's users file has none in a
    password). A ``{cleartext}`` prefix copied from the users file is
    dropped too; an ``{HA1}`` hash is refused, it is not the password."""
    shown = printable(str(path))
    try:
        data = read_small_file(path, PASSWORD_FILE_MAX)
    except SmallFileError as e:
        said = {
            "unreadable": f": {e.reason}",
            "not-regular": " is not a regular file",
            "too-large": f" is larger than {PASSWORD_FILE_MAX} bytes",
        }
        raise RapiPasswordFileError(f"password file {shown}{said[e.problem]}") from None
    try:
        line = data.decode("utf-8").split("\n", 1)[0].strip()
    except UnicodeDecodeError:
        raise RapiPasswordFileError(f"password file {shown} is not UTF-8 text") from None
    if line.lower().startswith("{ha1}"):
        raise RapiPasswordFileError(
            f"password file {shown} holds an {{HA1}} hash; p2v needs the password itself"
        )
    if line.lower().startswith("{cleartext}"):
        line = line[len("{cleartext}") :]
    if not line:
        raise RapiPasswordFileError(f"password file {shown}: its first line is empty")
    if any(ch.isspace() for ch in line):
        raise RapiPasswordFileError(
            f"password file {shown}: the first line has blanks inside (a whole line of the users file?)"
        )
    if control_character(line):
        raise RapiPasswordFileError(f"password file {shown}: the first line has a control character")
    return line


def _tls_context() -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.check_hostname = False  # the certificate names ganeti.example.com, without a SAN
    ctx.verify_mode = ssl.CERT_NONE  # trust comes from the pin, compared before any request
    return ctx


def _bound(sock: socket.socket, deadline: float) -> None:
    """Let the next socket operation take at most what is left of the deadline."""
    left = deadline - time.monotonic()
    if left <= 0:
        raise TimeoutError("deadline reached")
    sock.settimeout(left)


class RapiClient:
    """One cluster's RAPI, as one user. Methods that submit a job return
    its id; :meth:`wait_for_job` follows it to its end."""

    def __init__(
        self,
        endpoint: RapiEndpoint,
        pin: CertPin,
        user: str,
        password: str,
        *,
        timeout: float = TIMEOUT,
        max_body: int = MAX_BODY,
    ) -> None:
        problem = rapi_user_problem(user)
        if problem:
            raise RapiSettingError(problem)
        if not password or control_character(password):
            raise RapiSettingError("the RAPI password is empty or has a control character")
        self.endpoint = endpoint
        self.pin = pin
        self.user = user
        self.timeout = timeout
        self.max_body = max_body
        token = base64.b64encode(f"{user}:{password}".encode()).decode()
        self.__secrets = (password, token)
        self.__authorization = f"Basic {token}"
        self._context = _tls_context()

    def __repr__(self) -> str:
        return f"RapiClient({self.endpoint}, user={self.user!r}, pin={self.pin})"

    def _clean(self, text: str) -> str:
        for secret in self.__secrets:
            text = text.replace(secret, "<password>")
        return text

    # -- one request -------------------------------------------------------------------

    def _request(
        self, method: str, path: str, body: object = None, *, timeout: float | None = None
    ) -> object:
        """The JSON answer of one request; an HTTP error or anything
        unusable raises a :class:`RapiError` naming ``METHOD path``."""
        what = f"{method} {path}"
        limit = self.timeout if timeout is None else timeout
        started = time.monotonic()
        conn = http.client.HTTPSConnection(
            self.endpoint.host, self.endpoint.port, context=self._context, timeout=limit
        )
        try:
            status, reason, data = self._exchange(conn, method, path, body, started + limit)
        except (RapiConnectionError, RapiBadAnswer) as e:  # said by _exchange without the request
            raise type(e)(self._clean(f"{what}: {e}")) from None
        except TimeoutError:
            raise RapiTimeout(f"{what}: no answer from {self.endpoint} within {limit:g} s") from None
        except ssl.SSLError as e:
            raise RapiConnectionError(self._clean(f"{what}: TLS with {self.endpoint} failed: {e}")) from None
        except (OSError, http.client.HTTPException) as e:
            detail = printable(str(e) or type(e).__name__)
            raise RapiConnectionError(self._clean(f"{what}: {self.endpoint}: {detail}")) from None
        finally:
            conn.close()
        log.debug("%s: %d in %.2f s", what, status, time.monotonic() - started)
        if status != 200:
            raise self._http_error(method, path, status, reason, data)
        try:
            return parse_json(data)
        except MalformedOutput as e:
            raise RapiBadAnswer(self._clean(f"{what}: the answer is {e}")) from None

    def _exchange(
        self, conn: http.client.HTTPSConnection, method: str, path: str, body: object, deadline: float
    ) -> tuple[int, str, bytes]:
        conn.connect()
        sock = conn.sock
        if not isinstance(sock, ssl.SSLSocket):
            raise RapiConnectionError(f"no TLS connection to {self.endpoint}")
        self._check_pin(sock)
        headers = {"Authorization": self.__authorization}
        payload = None
        if body is not None:
            payload = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"  # Ganeti answers 415 without it
        _bound(sock, deadline)
        conn.request(method, path, body=payload, headers=headers)
        _bound(sock, deadline)
        with conn.getresponse() as response:
            if response.length is not None and response.length > self.max_body:
                raise RapiBadAnswer(f"an answer of {response.length} bytes (at most {self.max_body})")
            data = bytearray()
            while True:
                _bound(sock, deadline)
                chunk = response.read1(65536)
                if not chunk:
                    break
                data += chunk
                if len(data) > self.max_body:
                    raise RapiBadAnswer(f"an answer of more than {self.max_body} bytes")
            if response.length:
                raise RapiBadAnswer(f"the answer was cut {response.length} bytes short")
            return response.status, response.reason, bytes(data)

    def _check_pin(self, sock: ssl.SSLSocket) -> None:
        der = sock.getpeercert(binary_form=True)
        if der is None:
            raise RapiPinMismatch(
                f"{self.endpoint} presented no certificate; nothing was sent", expected=self.pin, got=None
            )
        if not self.pin.matches(der):
            got = cert_pin(der)
            raise RapiPinMismatch(
                f"the RAPI certificate of {self.endpoint} has the SHA-256 fingerprint {got}, not the pinned"
                f" {self.pin}; nothing was sent (a wrong pin, a renewed certificate or another server)",
                expected=self.pin,
                got=got,
            )

    def _http_error(self, method: str, path: str, status: int, reason: str, data: bytes) -> RapiHttpError:
        what = f"{method} {path}"
        try:
            message = error_message(parse_json(data))
        except MalformedOutput:
            message = None
        said = f": {message}" if message else ""
        cls: type[RapiHttpError] = RapiHttpError
        if status == 401:
            cls, text = (
                RapiAuthFailed,
                f"{what}: 401, the cluster refused user {self.user!r} (wrong user or password)",
            )
        elif status == 403:
            cls, text = (
                RapiForbidden,
                f"{what}: 403, user {self.user!r} may not do this (a read-only RAPI user?)",
            )
        elif status == 404:
            cls, text = RapiNotFound, f"{what}: 404{said}"
        else:
            text = f"{what}: {status} {printable(reason[:60])}{said}"
        return cls(self._clean(text), status=status, method=method, path=path)

    def _get(self, path: str, parse: Callable[[object], _T]) -> _T:
        return self._parsed("GET", path, parse, self._request("GET", path))

    def _parsed(self, method: str, path: str, parse: Callable[[object], _T], doc: object) -> _T:
        try:
            return parse(doc)
        except MalformedOutput as e:
            raise RapiBadAnswer(self._clean(f"{method} {path}: {e}")) from None

    def _submit(self, method: str, path: str, body: Mapping[str, object] | None) -> int:
        job_id = self._parsed(method, path, parse_job_id, self._request(method, path, body))
        log.info("%s: Ganeti job %d", f"{method} {path}", job_id)
        return job_id

    # -- reading -----------------------------------------------------------------------

    def version(self) -> int:
        return self._get("/version", parse_api_version)

    def features(self) -> frozenset[str]:
        return self._get("/2/features", parse_features)

    def cluster_info(self) -> ClusterInfo:
        return self._get("/2/info", parse_cluster_info)

    def group(self, name: str) -> GroupInfo:
        return self._get(group_path(name), parse_group)

    def groups(self) -> tuple[GroupInfo, ...]:
        return self._get("/2/groups?bulk=1", parse_groups)

    def nodes(self) -> tuple[NodeInfo, ...]:
        return self._get("/2/nodes?bulk=1", parse_nodes)

    def instance_names(self) -> tuple[str, ...]:
        return self._get("/2/instances", parse_instance_names)

    def instance(self, name: str) -> InstanceInfo | None:
        """The instance, or None when the cluster has none of that name.
        Ganeti also finds ``vm8`` for ``vm8.example.org``: compare the
        answer's name when it matters."""
        try:
            return self._get(instance_path(name), parse_instance)
        except RapiNotFound:
            return None

    def check_write_access(self) -> None:
        """Return if the user may write, without changing anything on the
        cluster (:data:`~p2v_tui.model.rapi_requests.WRITE_PROBE_PATH`);
        otherwise :class:`RapiForbidden` (a read-only user) or
        :class:`RapiAuthFailed` (a wrong user or password)."""
        what = f"GET {WRITE_PROBE_PATH}"
        try:
            self._request("GET", WRITE_PROBE_PATH, WRITE_PROBE_BODY)
        except RapiForbidden:
            raise RapiForbidden(
                f"user {self.user!r} has read-only access to the RAPI of {self.endpoint}: the cluster's"
                " RAPI users file needs the option 'write' for it",
                status=403,
                method="GET",
                path=WRITE_PROBE_PATH,
            ) from None
        except RapiHttpError as e:
            if e.status == 400:
                return  # past the password and the write check; the body is refused, as meant
            raise
        raise RapiBadAnswer(f"{what}: 200 to a request Ganeti 3.0 refuses; is this a Ganeti RAPI?")

    # -- jobs --------------------------------------------------------------------------

    def create_instance(self, spec: InstanceSpec, *, dry_run: bool) -> int:
        """Submit the creation (or, with ``dry_run``, all of Ganeti's checks
        of it: ipolicy, OS parameters, node, network, name)."""
        return self._submit("POST", create_instance_path(dry_run=dry_run), create_instance_body(spec))

    def modify_hvparams(self, name: str, hvparams: Mapping[str, str]) -> int:
        return self._submit("PUT", instance_path(name, "modify"), modify_hvparams_body(hvparams))

    def modify(self, name: str, hvparams: Mapping[str, str], beparams: Mapping[str, int]) -> int:
        return self._submit("PUT", instance_path(name, "modify"), modify_body(hvparams, beparams))

    def startup(self, name: str) -> int:
        """Start with the instance's own hvparams (RAPI ignores any body here)."""
        return self._submit("PUT", instance_path(name, "startup"), None)

    def shutdown(self, name: str, timeout: int = 0) -> int:
        return self._submit("PUT", instance_path(name, "shutdown"), shutdown_body(timeout))

    def reboot(self, name: str, shutdown_timeout: int = 0) -> int:
        """A hard reboot: a new hypervisor process, so new hvparams apply."""
        return self._submit("POST", instance_path(name, "reboot", type="hard"), reboot_body(shutdown_timeout))

    def job(self, job_id: int, *, timeout: float | None = None) -> Job:
        path = job_path(job_id)
        doc = self._request("GET", path, timeout=timeout)
        try:
            return self._parsed("GET", path, lambda d: parse_job(d, job_id), doc)
        except UnknownJob as e:
            raise RapiNotFound(f"GET {path}: {e}", status=200, method="GET", path=path) from None

    def wait_for_job(
        self,
        job_id: int,
        *,
        deadline: float,
        on_progress: Callable[[JobProgress], None] | None = None,
        poll_interval: float = 1.0,
    ) -> Job:
        """Poll the job until it ends, for at most ``deadline`` seconds,
        telling ``on_progress`` each change of status and each new log
        message. A job that fails raises :class:`RapiJobFailed` with the
        job id and Ganeti's message; one still running at the deadline
        :class:`RapiJobTimeout`, and a poll that fails its own error (the
        job itself goes on in both cases)."""
        end = time.monotonic() + deadline
        previous: Job | None = None
        while True:
            left = end - time.monotonic()
            job = self.job(job_id, timeout=min(self.timeout, max(left, 1.0)))
            news = job_progress(previous, job)
            if news is not None and on_progress is not None:
                on_progress(news)
            previous = job
            if job.finished:
                failure = job.failure()
                if failure:
                    raise RapiJobFailed(self._clean(failure), job)
                return job
            left = end - time.monotonic()
            if left <= 0:
                raise RapiJobTimeout(
                    f"Ganeti job {job_id} is still {job.status} after {deadline:g} s; it goes on on the"
                    f" cluster (gnt-job info {job_id})",
                    job_id=job_id,
                    status=job.status,
                )
            time.sleep(min(poll_interval, left))


CERTIFICATE_FILE_MAX = 256 * 1024


def read_certificate_pin(path: Path) -> CertPin:
    """The pin of the certificate in ``path`` (a copy of the master's
    rapi.pem: a regular file of at most 256 KiB)."""
    shown = printable(str(path))
    try:
        data = read_small_file(path, CERTIFICATE_FILE_MAX)
    except SmallFileError as e:
        said = {
            "unreadable": f": {e.reason}",
            "not-regular": " is not a regular file",
            "too-large": f" is larger than {CERTIFICATE_FILE_MAX // 1024} KiB",
        }
        raise RapiSettingError(f"certificate file {shown}{said[e.problem]}") from None
    try:
        return cert_pin_from_pem(data.decode("ascii"))
    except UnicodeDecodeError:
        raise RapiSettingError(f"certificate file {shown} is not PEM text") from None
    except RapiSettingError as e:
        raise RapiSettingError(f"certificate file {shown}: {e}") from None


def client_for(cluster: ClusterAnswers) -> RapiClient:
    """A client for the answers' cluster: the password read from its file
    and the certificate pin from the answers or the certificate file, now."""
    if cluster.pin is not None:
        pin = cluster.pin
    else:
        pin = read_certificate_pin(Path(cluster.certificate_file or ""))
    password = read_password_file(Path(cluster.password_file))
    return RapiClient(cluster.rapi, pin, cluster.user, password)
