"""What p2v sends Ganeti's remote API, built as plain data: the cluster's
address and certificate pin as the answers give them, the paths of the
calls and their JSON bodies.

Two facts measured on Ganeti 3.0.2 shape it. A dry run is the query
parameter ``dry-run``, with a hyphen: ``dry_run`` is silently ignored and
the instance is created for real (:data:`DRY_RUN`). And the certificate
RAPI serves names ``ganeti.example.com`` with no subject alternative
name, so no host name check can ever pass: the cluster is known by the
SHA-256 fingerprint of its certificate (:class:`CertPin`), which the
client compares before it sends any credential.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import ipaddress
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import quote, urlencode, urlsplit

from .rapi_values import MIB_MAX
from .validate import control_character, hostname_problem, parse_ip, quoted

DEFAULT_PORT = 5080
"""ganeti-rapi's port."""

DRY_RUN = "dry-run"
"""The query parameter of a dry run. Spelt ``dry_run`` it is ignored and
the request carried out (lab: the instance was created)."""

WRITE_PROBE_PATH = "/2/jobs/0/wait"
WRITE_PROBE_BODY: Mapping[str, object] = {"fields": None}
"""A request that tells a write user from a read-only one and changes
nothing: RAPI checks the password (else 401), then that the method needs
write access (else 403), and only then does the handler look at the body
and refuse it (400, "The 'fields' parameter should be a list"). No job is
made and nothing is read."""

CERT_PIN_HELP = "openssl x509 -in /var/lib/ganeti/rapi.pem -noout -fingerprint -sha256 (on the master)"


class RapiSettingError(ValueError):
    """An address, pin, user or instance description that cannot be sent."""


# -- where and who -----------------------------------------------------------------


@dataclass(frozen=True)
class RapiEndpoint:
    host: str
    port: int = DEFAULT_PORT

    def __str__(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"https://{host}:{self.port}"


def parse_rapi_url(text: str) -> RapiEndpoint:
    """``https://HOST[:PORT]`` (or just ``HOST[:PORT]``), nothing more: a
    user or password in it is refused without repeating it (they belong in
    the user and password file fields)."""
    text = text.strip()
    bad = control_character(text)
    if bad or not text:
        raise RapiSettingError(f"a RAPI address with {bad}" if bad else "a RAPI address is needed")
    try:
        parts = urlsplit(text if "://" in text else f"https://{text}")
    except ValueError:  # a bracket not closed, or not around an IPv6 address; the text may hold a password
        raise RapiSettingError(
            "a RAPI address is https://HOST[:PORT], an IPv6 address in brackets: https://[2001:db8::5]:5080"
        ) from None
    if "@" in parts.netloc:
        raise RapiSettingError("the RAPI address has a user or password in it: give them separately")
    if parts.scheme != "https":
        raise RapiSettingError(f"RAPI speaks HTTPS only, not {quoted(parts.scheme)}")
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise RapiSettingError(f"a RAPI address is https://HOST[:PORT] without a path, not {quoted(text)}")
    try:
        port = parts.port or DEFAULT_PORT
    except ValueError:
        raise RapiSettingError(f"the port of {quoted(text)} is not a number from 1 to 65535") from None
    host = parts.hostname or ""
    try:
        ipaddress.ip_address(host)
    except ValueError:
        problem = hostname_problem(host)
        if problem:
            raise RapiSettingError(f"RAPI host {quoted(host)}: {problem}") from None
    return RapiEndpoint(host, port)


def rapi_user_problem(user: str) -> str | None:
    """Why ``user`` cannot be a RAPI user name (a word of Ganeti's users
    file, without ``:`` for HTTP basic authentication); None when it can."""
    if not user:
        return "a RAPI user name is needed"
    if len(user) > 64 or not re.fullmatch(r"[A-Za-z0-9_.@+-]+", user):
        return f"a RAPI user name is up to 64 letters, digits and _.@+-, not {quoted(user)}"
    return None


@dataclass(frozen=True)
class CertPin:
    """The SHA-256 of the cluster's RAPI certificate (DER)."""

    sha256: bytes

    def __str__(self) -> str:
        """As ``openssl x509 -fingerprint -sha256`` prints it: ``80:AA:...``."""
        return ":".join(f"{b:02X}" for b in self.sha256)

    def matches(self, der: bytes) -> bool:
        return hmac.compare_digest(hashlib.sha256(der).digest(), self.sha256)


def cert_pin(der: bytes) -> CertPin:
    """The pin of a certificate (DER bytes, as the TLS handshake gives it)."""
    return CertPin(hashlib.sha256(der).digest())


_HEX_PIN = re.compile(r"(?:[0-9A-Fa-f]{2}:){31}[0-9A-Fa-f]{2}|[0-9A-Fa-f]{64}")
_PEM_CERT = re.compile(r"-----BEGIN CERTIFICATE-----(.*?)-----END CERTIFICATE-----", re.DOTALL)


def parse_cert_pin(text: str) -> CertPin:
    """A SHA-256 fingerprint of the certificate: hex as openssl prints it
    (``80:AA:...``, with or without the colons or openssl's ``sha256
    Fingerprint=``), or ``SHA256:`` and base64 as OpenSSH writes them."""
    text = text.strip()
    if text.lower().startswith("sha256//"):
        raise RapiSettingError(
            f"that is a public key pin (curl's sha256//); p2v pins the certificate: {CERT_PIN_HELP}"
        )
    value = re.sub(r"(?i)^sha256 fingerprint=", "", text)
    if value.upper().startswith("SHA256:"):
        value = value[len("SHA256:") :]
    if _HEX_PIN.fullmatch(value):
        return CertPin(bytes.fromhex(value.replace(":", "")))
    if value != text and re.fullmatch(r"[A-Za-z0-9+/]{43}=?", value):
        try:
            raw = base64.b64decode(value.rstrip("=") + "=", validate=True)
        except binascii.Error:
            raw = b""
        if len(raw) == 32:
            return CertPin(raw)
    raise RapiSettingError(
        f"not a SHA-256 certificate fingerprint: {quoted(text)}; get it with {CERT_PIN_HELP}"
    )


def cert_pin_from_pem(text: str) -> CertPin:
    """The pin of the first certificate of a PEM file (such as a copy of
    the master's ``/var/lib/ganeti/rapi.pem``; its private key, if there,
    is not looked at)."""
    match = _PEM_CERT.search(text)
    if match is None:
        raise RapiSettingError("no -----BEGIN CERTIFICATE----- block in the certificate file")
    try:
        der = base64.b64decode("".join(match.group(1).split()), validate=True)
    except binascii.Error:
        raise RapiSettingError("the certificate block is not base64") from None
    if not der.startswith(b"\x30"):
        raise RapiSettingError("the certificate block does not hold a certificate")
    return cert_pin(der)


# -- paths ---------------------------------------------------------------------------


def _query(path: str, params: Mapping[str, str]) -> str:
    return f"{path}?{urlencode(dict(params))}" if params else path


def instance_path(name: str, action: str = "", *, dry_run: bool = False, **query: str) -> str:
    """``/2/instances/NAME[/ACTION][?dry-run=1&...]``, the name quoted."""
    if not name:
        raise RapiSettingError("an instance name is needed")
    path = "/2/instances/" + quote(name, safe="") + (f"/{action}" if action else "")
    return _query(path, {**query, **({DRY_RUN: "1"} if dry_run else {})})


def create_instance_path(*, dry_run: bool) -> str:
    return _query("/2/instances", {DRY_RUN: "1"} if dry_run else {})


def job_path(job_id: int) -> str:
    return f"/2/jobs/{int(job_id)}"


def group_path(name: str) -> str:
    if not name:
        raise RapiSettingError("a node group name is needed")
    return "/2/groups/" + quote(name, safe="")


# -- bodies --------------------------------------------------------------------------


@dataclass(frozen=True)
class NicSpec:
    """One NIC of the instance to create."""

    link: str | None = None
    """A bridge; None: the cluster's default (or the network's)."""
    network: str | None = None
    """A Ganeti network: link and mode then come from it, none may be given."""
    ip: str | None = None
    """An address, ``pool`` (a free one of ``network``), or None."""
    mac: str | None = None
    """A fixed MAC (keep the source's); None: Ganeti makes one."""


@dataclass(frozen=True)
class InstanceSpec:
    """What ``POST /2/instances`` creates (sizes in MiB)."""

    name: str
    os_type: str
    """``p2v-target+VARIANT``."""
    disk_template: str
    disks: tuple[int, ...]
    nics: tuple[NicSpec, ...]
    memory: int
    vcpus: int = 1
    pnode: str | None = None
    iallocator: str | None = None
    """Exactly one of ``pnode`` and ``iallocator``."""
    osparams: Mapping[str, str] = field(default_factory=dict)
    osparams_secret: Mapping[str, str] = field(default_factory=dict, repr=False)
    """Given to the OS definition's verify and create scripts only; Ganeti
    keeps it out of its configuration and job files."""
    hvparams: Mapping[str, str] = field(default_factory=dict)
    start: bool = False
    name_check: bool = False
    """Whether the name must resolve on the master (and its address be free)."""


VCPUS_MAX = 4096
"""Virtual CPUs an instance may be given at most (far more than any node has)."""

_PARAM = re.compile(r"[a-z][a-z0-9_]{0,63}\Z")
_WORD = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.+:-]{0,127}\Z")
"""A link, network, OS, disk template or iallocator name."""
_MAC = re.compile(r"[0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){5}\Z")


def _params(params: Mapping[str, str], what: str) -> dict[str, str]:
    for key, value in params.items():
        if not _PARAM.match(key):
            raise RapiSettingError(f"{what} {quoted(key)} is not a parameter name")
        if not isinstance(value, str) or len(value) > 65536:
            raise RapiSettingError(f"{what} {key} is not a text of up to 64 KiB")
    return dict(params)


def ganeti_name_problem(value: str) -> str | None:
    """Why ``value`` cannot be a link, network, OS, OS variant, disk
    template or iallocator name as Ganeti spells them; None when it can."""
    if not isinstance(value, str) or not _WORD.match(value):
        return f"{quoted(value)} is not a name Ganeti has (letters, digits and _.+:-, at most 128)"
    return None


def _word(value: str, what: str) -> str:
    problem = ganeti_name_problem(value)
    if problem:
        raise RapiSettingError(f"{what} {problem}")
    return value


def _nic(nic: NicSpec, i: int) -> dict[str, str]:
    out: dict[str, str] = {}
    if nic.network is not None:
        if nic.link is not None:
            # Ganeti: "If network is given, no mode or link is allowed to be passed"
            raise RapiSettingError(f"NIC {i}: a link and a network cannot both be given")
        out["network"] = _word(nic.network, f"NIC {i}'s network")
    elif nic.link is not None:
        out["link"] = _word(nic.link, f"NIC {i}'s link")
    if nic.ip == "pool":
        if nic.network is None:
            raise RapiSettingError(f"NIC {i}: an address from the pool needs a network")
        out["ip"] = "pool"
    elif nic.ip is not None:
        try:
            out["ip"] = str(parse_ip(nic.ip, f"NIC {i}'s address"))
        except ValueError as e:
            raise RapiSettingError(str(e)) from None
    if nic.mac is not None:
        if not _MAC.match(nic.mac):
            raise RapiSettingError(f"NIC {i}'s MAC {quoted(nic.mac)} is not aa:bb:cc:dd:ee:ff")
        out["mac"] = nic.mac.lower()
    return out


def _count(value: int, what: str, high: int, low: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise RapiSettingError(f"{what} {quoted(value)} is not a number from {low} to {high}")
    return value


def create_instance_body(spec: InstanceSpec) -> dict[str, object]:
    """The body of ``POST /2/instances``, as OpInstanceCreate takes it.
    Ganeti refuses an unknown key (400), so only keys it has are sent."""
    problem = hostname_problem(spec.name)
    if problem:
        raise RapiSettingError(f"instance name {quoted(spec.name)}: {problem}")
    if (spec.pnode is None) == (spec.iallocator is None):
        raise RapiSettingError("give exactly one of a node and an iallocator")
    if not spec.disks:
        raise RapiSettingError("an instance needs a disk")
    secret = _params(spec.osparams_secret, "secret OS parameter")
    shared = sorted(set(secret) & set(spec.osparams))
    if shared:
        raise RapiSettingError(f"OS parameter {shared[0]} is given both as secret and not")
    body: dict[str, object] = {
        "__version__": 1,  # the request format of feature instance-create-reqv1 (0 is refused)
        "mode": "create",  # run the OS definition's create script
        "name": spec.name,
        "os_type": _word(spec.os_type, "OS"),  # p2v-target+VARIANT
        "disk_template": _word(spec.disk_template, "disk template"),
        "disks": [{"size": _count(s, f"disk {i}'s size (MiB)", MIB_MAX)} for i, s in enumerate(spec.disks)],
        "nics": [_nic(n, i) for i, n in enumerate(spec.nics)],
        "beparams": {
            "memory": _count(spec.memory, "memory (MiB)", MIB_MAX),  # minmem = maxmem
            "vcpus": _count(spec.vcpus, "vcpus", VCPUS_MAX),
        },
        "start": spec.start,  # Ganeti's default is true; p2v starts it after setting hvparams
        "name_check": spec.name_check,  # true: the name must resolve on the master
        "ip_check": spec.name_check,  # needs name_check (Ganeti refuses it alone)
    }
    if spec.pnode is not None:
        problem = hostname_problem(spec.pnode)
        if problem:
            raise RapiSettingError(f"node {quoted(spec.pnode)}: {problem}")
        body["pnode"] = spec.pnode
    else:
        body["iallocator"] = _word(spec.iallocator or "", "iallocator")
    if spec.osparams:
        body["osparams"] = _params(spec.osparams, "OS parameter")
    if secret:
        body["osparams_secret"] = secret  # not osparams_private: that one is stored in clear
    if spec.hvparams:
        body["hvparams"] = _params(spec.hvparams, "hypervisor parameter")
    return body


def modify_hvparams_body(hvparams: Mapping[str, str]) -> dict[str, object]:
    """The body of ``PUT /2/instances/NAME/modify`` that sets hypervisor
    parameters (for the next start; allowed while the instance runs).
    ``""`` is a value of the instance's own (``kernel_path: ""``: boot its
    disk); ``"default"`` drops it, so the cluster's value applies, which on
    a stock cluster may be a kernel path."""
    if not hvparams:
        raise RapiSettingError("no hypervisor parameter to set")
    return {"hvparams": _params(hvparams, "hypervisor parameter")}


def modify_body(hvparams: Mapping[str, str], beparams: Mapping[str, int]) -> dict[str, object]:
    """:func:`modify_hvparams_body` and backend parameters (``maxmem`` and
    ``minmem`` in MiB) in one job: how the migrated server starts."""
    body = modify_hvparams_body(hvparams)
    for key, value in beparams.items():
        if not _PARAM.match(key):
            raise RapiSettingError(f"backend parameter {quoted(key)} is not a parameter name")
        _count(value, f"backend parameter {key}", 4 * 1024 * 1024)
    body["beparams"] = dict(beparams)
    return body


def shutdown_body(timeout: int) -> dict[str, object]:
    """``PUT /2/instances/NAME/shutdown``: ``timeout`` seconds for the guest
    to power off before the hypervisor stops it (0: at once)."""
    return {"timeout": _count(timeout, "the shutdown timeout (s)", 86400, 0)}


def reboot_body(shutdown_timeout: int) -> dict[str, object]:
    """``POST /2/instances/NAME/reboot?type=hard``: the same timeout before
    the hypervisor process is restarted (a stopped instance is started)."""
    return {"shutdown_timeout": _count(shutdown_timeout, "the shutdown timeout (s)", 86400, 0)}
