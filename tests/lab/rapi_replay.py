"""A local HTTPS server (127.0.0.1) that answers as a Ganeti RAPI did:
recorded answers of a real Ganeti 3.0.2 (tests/data/rapi) by method and
path, with a certificate made like Ganeti's (self-signed, CN
ganeti.example.com, no SAN). Every request it got is kept."""

from __future__ import annotations

import contextlib
import datetime
import http.server
import json
import ssl
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from p2v_tui.model.rapi_requests import CertPin, cert_pin

DATA = Path(__file__).parent.parent / "data" / "rapi"


def recorded(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((DATA / name).read_text())
    return data


@dataclass
class Answer:
    status: int
    body: bytes
    reason: str = ""
    content_length: bool = True
    delay: float = 0.0
    """Seconds to wait before answering (cut short when the test ends)."""

    @classmethod
    def of(cls, name: str) -> Answer:
        rec = recorded(name)
        return cls(rec["status"], json.dumps(rec["body"]).encode(), rec["reason"])

    @classmethod
    def json(cls, doc: object, status: int = 200) -> Answer:
        return cls(status, json.dumps(doc).encode())


@dataclass
class Seen:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Replay:
    """What the server answers: (method, path) -> answers in turn, the last one repeated."""

    routes: dict[tuple[str, str], list[Answer]] = field(default_factory=dict)
    seen: list[Seen] = field(default_factory=list)
    connections: int = 0
    """Connections accepted; ``handled`` of them are done with."""
    handled: int = 0
    port: int = 0
    release: threading.Event = field(default_factory=threading.Event)

    def on(self, method: str, path: str, *answers: Answer) -> None:
        self.routes[(method, path)] = list(answers)

    def answer(self, method: str, path: str) -> Answer:
        queue = self.routes.get((method, path))
        if not queue:
            return Answer.of("error-404.json")
        return queue.pop(0) if len(queue) > 1 else queue[0]


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.0"  # one request a connection, as ganeti-rapi
    server: Server

    def _serve(self) -> None:
        replay = self.server.replay
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        replay.seen.append(Seen(self.command, self.path, dict(self.headers.items()), body))
        answer = replay.answer(self.command, self.path)
        if answer.delay:
            replay.release.wait(answer.delay)
        self.send_response(answer.status, answer.reason or None)
        self.send_header("Content-Type", "application/json")
        if answer.content_length:
            self.send_header("Content-Length", str(len(answer.body)))
        self.end_headers()
        with contextlib.suppress(OSError):  # the client gave up (a capped body, a timeout)
            self.wfile.write(answer.body)

    do_GET = do_PUT = do_POST = do_DELETE = _serve

    def log_message(self, format: str, *args: Any) -> None:
        pass


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False

    def __init__(self, context: ssl.SSLContext, replay: Replay) -> None:
        super().__init__(("127.0.0.1", 0), Handler)
        self.context = context
        self.replay = replay

    def finish_request(self, request: Any, client_address: Any) -> None:
        self.replay.connections += 1
        request.settimeout(10)
        try:
            tls = self.context.wrap_socket(request, server_side=True)
        except OSError:
            self.replay.handled += 1
            return
        try:
            Handler(tls, client_address, self)
        finally:
            tls.close()
            self.replay.handled += 1


@dataclass(frozen=True)
class Cert:
    path: Path
    pin: CertPin


def make_cert(directory: Path) -> Cert:
    """A certificate like ganeti-rapi's: self-signed, CN ganeti.example.com, no extension."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "ganeti.example.com")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=1825))
        .sign(key, hashes.SHA256())
    )
    path = directory / "rapi.pem"
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM) + key_pem)
    return Cert(path, cert_pin(cert.public_bytes(serialization.Encoding.DER)))


@contextlib.contextmanager
def replay_server(cert: Cert) -> Iterator[Replay]:
    """The server on a free port of 127.0.0.1 (``Replay.port``) until the block ends."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert.path)
    state = Replay()
    server = Server(context, state)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    state.port = server.server_address[1]
    try:
        yield state
    finally:
        state.release.set()
        server.shutdown()
        server.server_close()
        thread.join(5)
