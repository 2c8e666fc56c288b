"""Pinning the target's host key, whatever its type, and reaching it by an
IPv6 literal: through paramiko and through the OpenSSH that rsync and tar
use, against a real sshd with ed25519, RSA and ECDSA host keys."""

from __future__ import annotations

from pathlib import Path

import pytest

from p2v_tui.model.units import MiB
from tests.integration.harness import image_hash, migration_target, run_p2v, source_machine
from tests.lab.disks import require

pytestmark = [pytest.mark.root, pytest.mark.slow]


@pytest.mark.parametrize(
    ("kind", "form"),
    [("rsa", "fingerprint"), ("rsa", "line"), ("ecdsa", "fingerprint"), ("ecdsa", "line")],
)
def test_any_pinned_host_key_type_works_for_the_whole_migration(kind: str, form: str, tmp_path: Path) -> None:
    require("rsync", "sshd")
    with (
        source_machine("swapfile", tmp_path, small_files=50) as source,
        migration_target(tmp_path, 800 * MiB, extra_host_key_types=("rsa", "ecdsa")) as target,
    ):
        line, fingerprint = target.host.extra_host_keys[kind]
        answers = target.answers(source)
        answers["target"]["host_key"] = fingerprint if form == "fingerprint" else line
        run = run_p2v(target, answers, tmp_path)
        assert run.returncode == 0, run.output
        assert "DONE" in run.output


def test_a_pin_the_server_does_not_have_is_refused_naming_what_it_offers(tmp_path: Path) -> None:
    require("rsync", "sshd")
    with (
        source_machine("swapfile", tmp_path, small_files=50) as source,
        migration_target(tmp_path, 800 * MiB, extra_host_key_types=("rsa",)) as target,
    ):
        before = image_hash(target.image)
        answers = target.answers(source)
        answers["target"]["host_key"] = "SHA256:" + "A" * 43
        run = run_p2v(target, answers, tmp_path)
        assert run.returncode == 1
        assert target.host.host_key_fingerprint in run.output  # ed25519 offered
        assert target.host.extra_host_keys["rsa"][1] in run.output  # and RSA
        # the handshakes for the types the server lacks fail inside paramiko,
        # which logs each with its traceback: into debug.log, not the console
        assert "Traceback" not in run.output and "paramiko" not in run.output, run.output
        assert "paramiko.transport" in (run.report / "debug.log").read_text()
        assert image_hash(target.image) == before


def test_target_by_ipv6_literal(tmp_path: Path) -> None:
    require("rsync", "sshd")
    with (
        source_machine("swapfile", tmp_path, small_files=50) as source,
        migration_target(tmp_path, 800 * MiB) as target,
    ):
        answers = target.answers(source)
        answers["target"]["host"] = target.ns.target_ip6
        run = run_p2v(target, answers, tmp_path)
        assert run.returncode == 0, run.output
        assert f"{target.ns.target_ip6}" in run.output


def test_a_key_others_may_read_still_copies(tmp_path: Path) -> None:
    """A key on a FAT stick or fetched over HTTP shows mode 0644: OpenSSH
    refuses such a file, so the copy must not depend on the key's mode."""
    require("rsync", "sshd")
    with (
        source_machine("swapfile", tmp_path, small_files=50) as source,
        migration_target(tmp_path, 800 * MiB) as target,
    ):
        loose = tmp_path / "loose_key"
        loose.write_bytes(target.key.read_bytes())
        loose.chmod(0o644)
        answers = target.answers(source)
        answers["target"]["identity"] = str(loose)
        run = run_p2v(target, answers, tmp_path)
        assert run.returncode == 0, run.output
        assert "UNPROTECTED PRIVATE KEY FILE" not in run.output
        assert loose.stat().st_mode & 0o777 == 0o644  # the user's file is left as it is
