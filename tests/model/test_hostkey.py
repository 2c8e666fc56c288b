from __future__ import annotations

from pathlib import Path

import pytest

from p2v_tui.model.hostkey import HostKeyPinError, known_hosts_line, parse_pin

DATA = Path(__file__).parent.parent / "data" / "ssh"


@pytest.mark.parametrize("kind", ["ed25519", "ecdsa", "rsa"])
def test_pin_from_public_key_has_ssh_keygen_fingerprint(kind: str) -> None:
    line = (DATA / f"host_{kind}.pub").read_text().strip()
    expected = (DATA / f"host_{kind}.fingerprint").read_text().strip()
    pin = parse_pin(line)
    assert pin.fingerprint == expected
    assert pin.key_type == line.split()[0]
    # known_hosts form with host patterns in front works the same
    assert parse_pin(f"[203.0.113.2]:22,target {line}").fingerprint == expected


def test_pin_from_fingerprint() -> None:
    fp = (DATA / "host_ed25519.fingerprint").read_text().strip()
    pin = parse_pin(fp)
    assert pin.fingerprint == fp and pin.key_type is None
    assert parse_pin(fp + "=").fingerprint == fp


@pytest.mark.parametrize(
    "text",
    [
        "SHA256:short",
        "SHA256:" + "!" * 43,
        "ssh-ed25519",
        "ssh-ed25519 not*base64",
        "ssh-rsa AAAAC3NzaC1lZDI1NTE5AAAAIAhlPiFfwwjVEd5AiJSp8KourfpV46GpPK4Kxjzh4Lll",  # ed25519 blob
        "MD5:aa:bb",
    ],
)
def test_bad_pins_are_refused(text: str) -> None:
    with pytest.raises(HostKeyPinError):
        parse_pin(text)


def test_known_hosts_line_uses_alias() -> None:
    assert known_hosts_line("ssh-ed25519", "AAAA") == "p2v-target ssh-ed25519 AAAA\n"
