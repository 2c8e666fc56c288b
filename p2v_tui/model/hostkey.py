"""Pinning the target's SSH host key.

The answers give either a known_hosts line (``ssh-ed25519 AAAA...``, with or
without a leading host field) or a SHA256 fingerprint as ``ssh-keygen -l``
prints it. A key that does not match is refused before authentication, so no
credential and no data ever reach an impostor.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from dataclasses import dataclass

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
