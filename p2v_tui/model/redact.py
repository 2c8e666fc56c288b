"""Keeping secrets out of the report.

Diffs show neighbouring lines as context, and configuration files the fixups
touch can hold secrets (Wi-Fi keys in NetworkManager keyfiles, 802.1X
passwords, bond/VPN keys). Values of secret-looking keys and whole private
key blocks are masked before anything is written to the report.
"""

from __future__ import annotations

import re

MASK = "<redacted>"

_KEY_VALUE = re.compile(
    r"(?im)^(?P<lead>[+\- ]?\s*[\w.-]*(?:psk|passw(?:or)?d|secret|passphrase|private-key|pin|wep-key\d?|"
    r"auth-key|api[_-]?key|token)[\w.-]*\s*[=:]\s*)(?P<value>\S.*)$"
)
_IFUPDOWN = re.compile(r"(?im)^(?P<lead>[+\- ]?\s*wpa-(?:psk|password|passphrase)\s+)(?P<value>\S.*)$")
_PEM = re.compile(
    r"-----BEGIN (?P<kind>[A-Z0-9 ]*PRIVATE KEY)-----.*?-----END (?P=kind)-----",
    re.DOTALL,
)


def redact(text: str) -> str:
    text = _PEM.sub(
        lambda m: f"-----BEGIN {m.group('kind')}----- {MASK} -----END {m.group('kind')}-----", text
    )
    text = _IFUPDOWN.sub(lambda m: m.group("lead") + MASK, text)
    return _KEY_VALUE.sub(_mask, text)


def _mask(m: re.Match[str]) -> str:
    key = m.group("lead").rstrip(" \t=:")
    if key.endswith(("-flags", "_flags", "-type")):
        return m.group(0)  # how a secret is stored, not the secret
    return m.group("lead") + MASK
