"""A pasted private key: checked, written 0600 in a private directory,
never logged; made by the real ssh-keygen."""

from __future__ import annotations

import logging
import os
import shutil
import stat
import subprocess
from pathlib import Path

import pytest

from p2v_tui.system.keyfile import PastedKeyError, normalize_pasted_key, store_pasted_key
from p2v_tui.system.ssh import load_private_key

if not shutil.which("ssh-keygen"):
    pytest.skip("needs ssh-keygen (openssh-client)", allow_module_level=True)


def keygen(tmp_path: Path, kind: str, *extra: str, passphrase: str = "") -> tuple[str, str]:
    """A fresh key: (private key text, public key line)."""
    path = tmp_path / f"made-{kind}{'-'.join(extra)}"
    argv = ["ssh-keygen", "-q", "-t", kind, "-N", passphrase, "-C", "admin@example", "-f", str(path), *extra]
    subprocess.run(argv, check=True)
    return path.read_text(), Path(f"{path}.pub").read_text()


def fingerprint_of(path: Path) -> str:
    out = subprocess.run(["ssh-keygen", "-l", "-f", str(path)], capture_output=True, text=True, check=True)
    return out.stdout.split()[1]


@pytest.mark.parametrize(
    ("kind", "extra"),
    [("ed25519", ()), ("rsa", ("-b", "2048")), ("rsa", ("-b", "2048", "-m", "PEM")), ("ecdsa", ())],
)
def test_a_pasted_key_is_stored_private_and_usable(tmp_path: Path, kind: str, extra: tuple[str, ...]) -> None:
    private, public = keygen(tmp_path, kind, *extra)
    keys = tmp_path / "keys"
    stored = store_pasted_key(private, keys)
    assert stored.parent == keys
    assert stat.S_IMODE(stored.stat().st_mode) == 0o600
    assert stat.S_IMODE(keys.stat().st_mode) == 0o700
    # ssh-keygen derives the same public key from the stored file
    derived = subprocess.run(
        ["ssh-keygen", "-y", "-f", str(stored)], capture_output=True, text=True, check=True
    )
    assert derived.stdout.split()[:2] == public.split()[:2]
    assert load_private_key(str(stored)).get_base64() == public.split()[1]
    assert [p.name for p in keys.iterdir()] == [stored.name]  # no partial file left


def test_a_paste_mangled_by_a_terminal_still_works(tmp_path: Path) -> None:
    private, _ = keygen(tmp_path, "ed25519")
    lines = private.splitlines()
    crlf_indented = "\r\n".join("  " + line + "  " for line in lines) + "\r\n"
    joined = " ".join(lines)  # the line breaks became spaces
    for text in (crlf_indented, joined, "\n\n" + private + "\n\n"):
        stored = store_pasted_key(text, tmp_path / "keys")
        assert stored.read_text() == private
        assert fingerprint_of(stored) == fingerprint_of(Path(f"{tmp_path}/made-ed25519.pub"))


def test_the_same_key_twice_is_one_file(tmp_path: Path) -> None:
    private, _ = keygen(tmp_path, "ed25519")
    first = store_pasted_key(private, tmp_path / "keys")
    second = store_pasted_key(private.replace("\n", "\r\n"), tmp_path / "keys")
    assert first == second and len(list((tmp_path / "keys").iterdir())) == 1


def test_an_existing_open_directory_is_made_private(tmp_path: Path) -> None:
    private, _ = keygen(tmp_path, "ed25519")
    keys = tmp_path / "keys"
    keys.mkdir(mode=0o755)
    os.chmod(keys, 0o755)
    store_pasted_key(private, keys)
    assert stat.S_IMODE(keys.stat().st_mode) == 0o700


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("", "nothing was pasted"),
        ("   \n\t\n", "nothing was pasted"),
        ("hello world, this is not a key\n", "not usable"),
        (
            "-----BEGIN OPENSSH PRIVATE KEY-----\nbm90IGEga2V5IGF0IGFsbA==\n"
            "-----END OPENSSH PRIVATE KEY-----\n",
            "not usable",
        ),
    ],
)
def test_garbage_is_refused_and_nothing_is_kept(tmp_path: Path, text: str, says: str) -> None:
    keys = tmp_path / "keys"
    with pytest.raises(PastedKeyError, match=says):
        store_pasted_key(text, keys)
    assert not keys.exists() or list(keys.iterdir()) == []


def test_a_truncated_key_is_refused(tmp_path: Path) -> None:
    private, _ = keygen(tmp_path, "rsa", "-b", "2048")
    lines = private.splitlines()
    cut = "\n".join(lines[:5] + lines[-1:]) + "\n"  # most of the body lost in the paste
    with pytest.raises(PastedKeyError, match="not usable") as info:
        store_pasted_key(cut, tmp_path / "keys")
    assert lines[2] not in str(info.value)
    assert list((tmp_path / "keys").iterdir()) == []


def test_a_public_key_is_refused_with_what_to_paste(tmp_path: Path) -> None:
    _, public = keygen(tmp_path, "ed25519")
    with pytest.raises(PastedKeyError, match=r"public key.*without \.pub"):
        store_pasted_key(public, tmp_path / "keys")


def test_a_key_with_a_passphrase_is_refused_saying_so(tmp_path: Path) -> None:
    private, _ = keygen(tmp_path, "ed25519", passphrase="correct horse")
    with pytest.raises(PastedKeyError, match="passphrase"):
        store_pasted_key(private, tmp_path / "keys")
    assert list((tmp_path / "keys").iterdir()) == []


def test_the_key_never_reaches_the_log_or_the_error(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    private, _ = keygen(tmp_path, "ed25519")
    body = private.splitlines()[1]
    caplog.set_level(logging.DEBUG)
    stored = store_pasted_key(private, tmp_path / "keys")
    with pytest.raises(PastedKeyError) as info:
        store_pasted_key(private.replace(body, body[::-1]), tmp_path / "keys")
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert str(stored) in logged  # the path is logged ...
    assert body not in logged and body[::-1] not in logged  # ... the key is not
    assert body[::-1] not in str(info.value) and body not in str(info.value)


def test_normalize_keeps_pem_headers_and_plain_text() -> None:
    pem = (
        "-----BEGIN RSA PRIVATE KEY-----\r\n Proc-Type: 4,ENCRYPTED\r\nDEK-Info: AES-128-CBC,00\r\n\r\n"
        "QUJD\r\n-----END RSA PRIVATE KEY-----"
    )
    assert normalize_pasted_key(pem) == (
        "-----BEGIN RSA PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\nDEK-Info: AES-128-CBC,00\n\n"
        "QUJD\n-----END RSA PRIVATE KEY-----\n"
    )
    assert normalize_pasted_key("  junk  \r\n") == "junk\n"
