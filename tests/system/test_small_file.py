"""One reader for the small files a person names (answers, key, RAPI
password, RAPI certificate): a FIFO does not hang, a device or directory
is refused, a file over the limit is refused, one at the limit is read
whole; and a certificate file gives the pin of the certificate in it."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from p2v_tui.model.rapi_requests import RapiSettingError
from p2v_tui.system.rapi import read_certificate_pin
from p2v_tui.system.small_file import SmallFileError, read_small_file
from tests.lab.rapi_replay import make_cert


def test_a_file_at_the_limit_is_read_whole_and_one_byte_more_refused(tmp_path: Path) -> None:
    (tmp_path / "f").write_bytes(b"x" * 100)
    assert read_small_file(tmp_path / "f", 100) == b"x" * 100
    with pytest.raises(SmallFileError) as e:
        read_small_file(tmp_path / "f", 99)
    assert e.value.problem == "too-large"


@pytest.mark.parametrize("kind", ["fifo", "directory", "device", "missing"])
def test_what_is_not_a_small_regular_file(tmp_path: Path, kind: str) -> None:
    path = {
        "fifo": tmp_path / "p",
        "directory": tmp_path,
        "device": Path("/dev/zero"),
        "missing": tmp_path / "no",
    }[kind]
    if kind == "fifo":
        os.mkfifo(path)  # opened without blocking: no hang
    with pytest.raises(SmallFileError) as e:
        read_small_file(path, 4096)
    assert e.value.problem == ("unreadable" if kind == "missing" else "not-regular")
    if kind == "missing":
        assert e.value.reason == "No such file or directory"


def test_a_certificate_file_gives_its_pin(tmp_path: Path) -> None:
    cert = make_cert(tmp_path)
    assert read_certificate_pin(cert.path) == cert.pin
    (tmp_path / "big.pem").write_bytes(b"#" * (256 * 1024 + 1))
    with pytest.raises(RapiSettingError, match=r"big\.pem is larger than 256 KiB"):
        read_certificate_pin(tmp_path / "big.pem")
    with pytest.raises(RapiSettingError, match="is not a regular file"):
        read_certificate_pin(tmp_path)
    (tmp_path / "key.pem").write_text("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n")
    with pytest.raises(RapiSettingError, match=r"key\.pem: no -----BEGIN CERTIFICATE----- block"):
        read_certificate_pin(tmp_path / "key.pem")
