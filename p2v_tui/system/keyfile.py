"""A private key pasted into the wizard, kept as a file SSH can use.

The target is reached with a key file; on a live system the key often
comes from a USB stick (a path) or is pasted into the wizard. A pasted key
is checked the way the connection will read it (:func:`load_private_key`)
before anything relies on it, and written only where no one else can read
it: mode 0600 in a directory of mode 0700 that the caller owns (not the
report directory, which is meant to be handed around). The key text is
never logged, never put into an error message and never kept in the
answers (they hold the file's path only).
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from ..model.answers import UnusableKeyError
from ..model.hostkey import GeneratedHostKey
from .ssh import load_private_key
from .target import TargetError

log = logging.getLogger(__name__)

_ARMOR = re.compile(r"-----BEGIN ([A-Z0-9 ]+)-----(.*?)-----END \1-----", re.DOTALL)

_PUBLIC_PREFIXES = ("ssh-", "ecdsa-sha2-", "sk-ssh-", "sk-ecdsa-")


class PastedKeyError(TargetError, UnusableKeyError):
    """The pasted text is not a private key SSH can use; nothing was kept."""


def normalize_pasted_key(text: str) -> str:
    """The key as a file holds it, whatever a terminal did to the paste.

    Terminals and serial consoles add carriage returns, trailing blanks and
    indentation, or join the lines with spaces; the key's base64 body means
    the same on any line length, so it is rebuilt one chunk per line between
    its BEGIN/END lines. Text without those lines is returned stripped (the
    check that follows says what is wrong with it).
    """
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    match = _ARMOR.search(text)
    if match is None:
        return text.strip() + "\n"
    kind, body = match.group(1), match.group(2)
    # PEM headers (Proc-Type, DEK-Info: an encrypted key) keep their lines.
    lines = [line.strip() for line in body.strip().splitlines()] if ":" in body else body.split()
    return "\n".join([f"-----BEGIN {kind}-----", *lines, f"-----END {kind}-----"]) + "\n"


def _looks_public(text: str) -> bool:
    first = text.strip().split(maxsplit=1)[0] if text.strip() else ""
    return first.startswith(_PUBLIC_PREFIXES)


def _private_directory(directory: Path) -> None:
    """Create ``directory`` (0700) or make an existing one of ours private."""
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    info = directory.stat()
    if info.st_uid != os.getuid():
        raise PastedKeyError(f"{directory} belongs to another user: the key is not written there")
    if info.st_mode & 0o077:
        os.chmod(directory, 0o700)


def store_pasted_key(text: str, directory: Path) -> Path:
    """Check the pasted private key and write it (0600) into ``directory``.

    Returns the file's path, for ``TargetAnswers.identity``. The same key
    pasted twice lands in the same file. Raises :class:`PastedKeyError`
    saying what is wrong (empty, a public key, a passphrase, not a key)
    without repeating the text.
    """
    if not text.strip():
        raise PastedKeyError("nothing was pasted: paste the private key, BEGIN and END lines included")
    if _looks_public(text):
        raise PastedKeyError(
            "this is a public key (it starts with its type); paste the private key, the file "
            "without .pub, which starts with -----BEGIN"
        )
    data = normalize_pasted_key(text).encode()
    _private_directory(directory)
    name = "pasted-key-" + hashlib.sha256(data).hexdigest()[:12]
    final = directory / name
    partial = directory / f".{name}.part"
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
    try:
        os.fchmod(fd, 0o600)  # an old partial file may have had another mode
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        try:
            key = load_private_key(str(partial))
        except TargetError as e:
            # Its message names the file; say "the pasted key" instead.
            reason = str(e).replace(f"{partial}: ", "").replace(str(partial), "the pasted key")
            raise PastedKeyError(f"the pasted text is not usable: {reason}") from None
        os.replace(partial, final)
    finally:
        if partial.exists():
            partial.unlink()
    log.info("pasted %s key stored as %s", key.get_name(), final)
    return final


def generate_host_key() -> GeneratedHostKey:
    """A new ed25519 host key pair, in memory only (never written to disk
    or the report)."""
    key = Ed25519PrivateKey.generate()
    private = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.OpenSSH, serialization.NoEncryption()
    ).decode()
    public = key.public_key().public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)
    return GeneratedHostKey(private=private, public=public.decode())


def public_key_line(identity: str) -> str:
    """The public half of the private key file ``identity``, as one
    ``authorized_keys`` line (the created instance's ``ssh_key``)."""
    key = load_private_key(identity)
    return f"{key.get_name()} {key.get_base64()} p2v"
