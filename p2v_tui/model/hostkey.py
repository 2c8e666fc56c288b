"""Pinning the target's SSH host key.

The answers give either a known_hosts line (``ssh-ed25519 AAAA...``, with or
without a leading host field) or a SHA256 fingerprint as ``ssh-keygen -l``
prints it. A key that does not match is refused before authentication, so no
credential and no data ever reach an impostor.
"""

from __future__ import annotations

import base64
import binascii
import fnmatch
import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

KEY_TYPES = (
    "ssh-ed25519",
    "ecdsa-sha2-nistp256",
    "ecdsa-sha2-nistp384",
    "ecdsa-sha2-nistp521",
    "ssh-rsa",
)

KNOWN_HOSTS_ALIAS = "p2v-target"
"""Name under which the pinned key is written for OpenSSH (HostKeyAlias), so
that the same pin works whatever address or port the target is reached by."""


class HostKeyPinError(ValueError):
    pass


@dataclass(frozen=True)
class HostKeyPin:
    fingerprint: str
    """``SHA256:`` + unpadded base64 of the SHA-256 of the key blob."""
    key_type: str | None = None
    """Known only when the pin is a whole key."""


def fingerprint(blob: bytes) -> str:
    digest = hashlib.sha256(blob).digest()
    return "SHA256:" + base64.b64encode(digest).decode().rstrip("=")


def parse_pin(text: str) -> HostKeyPin:
    text = text.strip()
    if text.startswith("SHA256:"):
        value = text[len("SHA256:") :].rstrip("=")
        try:
            raw = base64.b64decode(value + "=" * (-len(value) % 4), validate=True)
        except binascii.Error:
            raise HostKeyPinError(f"not a SHA256 fingerprint: {text!r}") from None
        if len(raw) != 32:
            raise HostKeyPinError(f"not a SHA256 fingerprint (wrong length): {text!r}")
        return HostKeyPin(fingerprint="SHA256:" + value)
    fields = text.split()
    while fields and fields[0] not in KEY_TYPES:
        fields.pop(0)  # host patterns or @markers in front of the key type
    if len(fields) < 2:
        raise HostKeyPinError(f"not a host key: expected 'ssh-ed25519 AAAA...' or 'SHA256:...', got {text!r}")
    key_type, b64 = fields[0], fields[1]
    try:
        blob = base64.b64decode(b64, validate=True)
    except binascii.Error:
        raise HostKeyPinError(f"host key is not valid base64: {b64[:20]}...") from None
    # The blob starts with the key type as an SSH string: a mismatch means a
    # line that was edited or copied wrongly.
    if blob[4 : 4 + len(key_type)].decode(errors="replace") != key_type:
        raise HostKeyPinError(f"host key data does not match its type {key_type}")
    return HostKeyPin(fingerprint=fingerprint(blob), key_type=key_type)


def known_hosts_line(key_type: str, key_base64: str) -> str:
    return f"{KNOWN_HOSTS_ALIAS} {key_type} {key_base64}\n"


SOURCE_HOST_KEYS = "/etc/ssh/ssh_host_*_key.pub"
"""The source's SSH host keys (public halves): the migration keeps them, so
the migrated server must answer with one of them."""


def host_pins(texts: Iterable[str]) -> tuple[HostKeyPin, ...]:
    """The pins of the public keys in ``texts`` (``ssh-ed25519 AAAA...
    comment`` lines), each type once, ed25519 first; lines that are not a
    usable key are left out."""
    pins: dict[str, HostKeyPin] = {}
    for text in texts:
        try:
            pin = parse_pin(text.strip().split("\n", 1)[0])
        except HostKeyPinError:
            continue
        if pin.key_type is not None:
            pins.setdefault(pin.key_type, pin)
    return tuple(pins[t] for t in KEY_TYPES if t in pins)


def pin_text(pin: HostKeyPin) -> str:
    """``ssh-ed25519 SHA256:...``, as the answers and the report say a pin."""
    return f"{pin.key_type} {pin.fingerprint}" if pin.key_type else pin.fingerprint


def source_host_pins(files: Mapping[str, str]) -> tuple[HostKeyPin, ...]:
    """The pins of the source's host keys among the configuration files
    read from it (:data:`SOURCE_HOST_KEYS`)."""
    return host_pins(
        text for path, text in sorted(files.items()) if fnmatch.fnmatchcase(path, SOURCE_HOST_KEYS)
    )


@dataclass(frozen=True)
class GeneratedHostKey:
    """A host key pair p2v makes for an instance it creates: the private
    half goes to the cluster once, as a secret OS parameter; the public
    half is the pin p2v connects with."""

    private: str = field(repr=False)
    """OpenSSH PEM, unencrypted (what the p2v-target OS installs)."""
    public: str
    """``ssh-ed25519 AAAA...``: a pin :func:`~p2v_tui.model.hostkey.parse_pin` takes."""
