"""The Target screen's "create it on a Ganeti cluster" choice, by keys:
its fields, their errors as an answers file's checks say them (the real
model.cluster_fields behind a mocked controller), and Continue going on
without connecting to anything."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest

from p2v_tui.engine.session import Connected
from p2v_tui.model.answers import Answers
from p2v_tui.model.cluster_fields import ClusterFields, with_cluster
from p2v_tui.system.answers_io import answers_schema

from ..render import press, render, screen
from .support import save_screen
from .test_target import BLANK, Setup, demo

__all__ = ["demo"]  # the module fixture, shared with test_target

PIN = "SHA256:" + "A" * 43


@pytest.fixture
def cluster(demo: tuple[Answers, Connected], tmp_path: Path) -> Setup:
    s = Setup(demo, BLANK, tmp_path / "keys")
    c: Any = s.controller

    def set_cluster(fields: ClusterFields, identity: str) -> None:
        c.answers = with_cluster(c.answers, fields, identity, answers_schema())

    c.set_cluster.side_effect = set_cluster
    c.set_no_cluster.side_effect = lambda: setattr(c, "answers", dataclasses.replace(c.answers, cluster=None))
    press(s.frame, "up", "enter")  # from Host up to the choice: create it on a cluster
    return s


def flat(widget: object) -> str:
    """All of the form (it scrolls at 80x24)."""
    return " ".join(screen(widget, rows=40).split())


def typed(s: Setup, *values: str) -> None:
    """Type into the cluster's fields from the first (RAPI URL) on."""
    press(s.frame, "down")
    for text in values:
        press(s.frame, *text, "tab")


def test_the_choice_shows_the_cluster_fields_and_connects_to_nothing(cluster: Setup) -> None:
    lines = render(cluster.frame)
    save_screen("target-cluster", lines)
    text = flat(cluster.frame)
    for label in ("RAPI URL", "RAPI user", "Password file", "Certificate", "Instance name", "Bootstrap CIDR"):
        assert label in text
    assert "Gateway" in text and "Migrated addr" in text and "Node" in text and "Key file" in text
    assert "Host key" not in text and "Connect" not in text.replace("connecting", "")
    assert "Nothing is created yet" in text
    assert cluster.frame.continue_enabled


def test_continue_with_nothing_typed_says_what_is_needed(cluster: Setup) -> None:
    press(cluster.frame, "f2")
    text = flat(cluster.frame)
    assert "Not ready: RAPI URL: needed; RAPI user: needed; Password file: needed" in text
    assert "Key file: needed" in text
    assert cluster.nav.calls == [] and cluster.controller.answers.cluster is None
    cluster.controller.connect.assert_not_called()


def test_values_an_answers_file_refuses_are_refused_by_their_label(cluster: Setup) -> None:
    typed(cluster, "ftp://ganeti", "p2vw", "rapi-password", "rapi.pem", "web01", "198.51.100.20")
    cluster.screen.key_file.set_text("/media/usb/id_ed25519")
    press(cluster.frame, "f2")
    text = flat(cluster.frame)
    assert "RAPI URL: RAPI speaks HTTPS only, not 'ftp'" in text
    assert "Password file: expected the absolute path" in text
    assert "Certificate: 'rapi.pem' is a relative path" in text
    assert "Instance name: 'web01' is not fully qualified" in text
    assert "Bootstrap CIDR: with the prefix length" in text
    assert cluster.nav.calls == [] and cluster.controller.answers.cluster is None


def test_good_values_become_the_answers_cluster_section(cluster: Setup) -> None:
    typed(
        cluster,
        "https://ganeti.example.org",
        "p2vw",
        "/media/usb/rapi-password",
        PIN,
        "web01.example.org",
        "198.51.100.20/24",
        "198.51.100.1",
        "",
        "node1.example.org",
    )
    assert "empty: 198.51.100.20, as the bootstrap" in flat(cluster.frame)
    press(cluster.frame, "tab", "tab", *"/media/usb/id_ed25519", "f2")  # past the key's choice
    assert cluster.nav.calls == ["next"], flat(cluster.frame)
    c = cluster.controller.answers.cluster
    assert (
        c is not None and c.instance.name == "web01.example.org" and c.instance.pnode == "node1.example.org"
    )
    assert c.migrated_address == "198.51.100.20" and c.instance.gateway == "198.51.100.1"
    assert c.instance.memory == 256 * 2**20 and c.instance.disks is None  # the answers' defaults
    assert cluster.controller.answers.target.identity == "/media/usb/id_ed25519"
    cluster.controller.connect.assert_not_called()
    cluster.controller.scan_host_key.assert_not_called()


def test_back_to_an_existing_instance_asks_to_connect_again(cluster: Setup) -> None:
    press(cluster.frame, "up", "enter")  # the first choice: an instance that exists
    text = flat(cluster.frame)
    assert "Host key" in text and "RAPI URL" not in text
    assert not cluster.frame.continue_enabled and "connect first" in text
    cluster.controller.set_no_cluster.assert_called_once()
