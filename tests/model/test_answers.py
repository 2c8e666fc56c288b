from __future__ import annotations

from typing import Any

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from p2v_tui.model.answers import (
    Answers,
    RunningAnswers,
    TargetAnswers,
    answers_from_doc,
    answers_to_doc,
    validation_errors,
)
from p2v_tui.model.answers_checks import semantic_errors
from p2v_tui.model.edits import FixupChoices, StaticAddress
from p2v_tui.model.plan import LayoutChoices, LayoutRequest, SwapPolicy
from p2v_tui.model.units import GiB, MiB
from p2v_tui.system.answers_io import answers_schema

FP = "SHA256:2mhgpoUuP6MaGwICixwTtTCcOJuaVAyyyiNy3hy42JY"


def doc(**extra: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "version": 1,
        "target": {"host": "203.0.113.2", "identity": "/root/key", "host_key": FP},
    }
    base.update(extra)
    return base


def errors(d: Any) -> list[str]:
    return validation_errors(d, answers_schema())


def test_minimal_document_is_valid_and_has_safe_defaults() -> None:
    assert errors(doc()) == []
    a = answers_from_doc(doc())
    assert a.confirm is False  # a headless run still needs confirm or --yes
    assert a.after == "poweroff" and a.target.port == 22 and a.target.user == "root"
    assert a.layout.swap == "auto" and a.layout.headroom == pytest.approx(0.2)
    assert a.source_disks is None and a.bandwidth_limit is None


@pytest.mark.parametrize(
    ("document", "expected"),
    [
        ({"version": 1}, "target: required"),
        ({"target": {"host": "h", "identity": "k", "host_key": FP}}, "version: required"),
        (doc(target={"identity": "/k", "host_key": FP}), "target.host: required"),
        (
            doc(target={"host": "h", "identity": "/k", "host_key": "nope"}),
            "target.host_key: expected the target's",
        ),
        (
            doc(target={"host": "h", "identity": "/k", "host_key": FP, "port": "22x"}),
            "target.port: expected integer",
        ),
        (doc(target={"host": "h", "identity": "/k", "host_key": FP, "hots": 1}), "target.hots: unknown key"),
        (doc(after="shutdown"), "after: expected one of poweroff, reboot, none; got 'shutdown'"),
        (doc(swap="lots"), "swap: expected keep, auto, drop or a size like 2G"),
        (
            doc(layout={"partitions": [{"mount": "/", "size": "big"}]}),
            "layout.partitions[0].size: expected a size",
        ),
        (doc(layout={"partitions": [{"size": "1G"}]}), "layout.partitions[0].mount: required"),
        (doc(exclude=["relative/path"]), "exclude[0]: expected"),
        (doc(network={"gateway": "198.51.100.1"}), "network.address: required when network.gateway is given"),
        (doc(version=2), "version: expected one of 1"),
        ("just text", "expected a mapping"),
    ],
)
def test_errors_name_the_key_path(document: Any, expected: str) -> None:
    found = errors(document)
    assert any(expected in line for line in found), found


def test_unknown_key_suggests_the_close_one() -> None:
    found = errors(doc(hostnme="x"))
    assert any("hostnme: unknown key (did you mean hostname?)" in line for line in found), found


def test_full_document_converts() -> None:
    d = doc(
        confirm=True,
        source={"disks": ["/dev/sda"]},
        layout={
            "table": "gpt",
            "headroom": "10%",
            "drop": ["/srv"],
            "partitions": [
                {"mount": "/", "size": "20G"},
                {"mount": "/home", "size": "rest", "fs": "xfs", "disk": 1},
                {"mount": "swap", "size": "512M"},
                {"mount": "/var", "size": "25%"},
                {"mount": "/boot", "size": "fit"},
            ],
        },
        swap="1G",
        exclude=["/var/cache/apt/archives"],
        hostname="web01.example.org",
        network={
            "interface": "eth0",
            "address": "198.51.100.10/24",
            "gateway": "198.51.100.1",
            "dns": ["9.9.9.9"],
        },
        boot="cluster",
        firmware="bios",
        console="ttyS0",
        fixups={"disable": ["network-names"]},
        after="none",
        report="/tmp/r",
        bandwidth_limit="50M",
        instance={
            "name": "web01.example.org",
            "disks": [{"path": "/dev/vda", "size": 10 * GiB}],
            "nics": [{"mac": "AA:00:00:00:00:01"}],
        },
    )
    assert errors(d) == []
    a = answers_from_doc(d)
    assert a.layout.explicit == (
        LayoutRequest("/", "size", 20 * GiB),
        LayoutRequest("/home", "rest", 0, "xfs", 1),
        LayoutRequest("swap", "size", 512 * MiB),
        LayoutRequest("/var", "percent", 25),
        LayoutRequest("/boot", "fit"),
    )
    assert a.layout.swap == GiB and a.layout.boot == "cluster" and a.layout.headroom == pytest.approx(0.1)
    assert a.fixups.static == StaticAddress("198.51.100.10/24", "198.51.100.1", ("9.9.9.9",))
    assert a.fixups.disabled == frozenset({"network-names"})
    assert a.instance is not None and a.instance.nics[0].mac == "aa:00:00:00:00:01"
    assert a.instance.origin == "answers"
    assert a.bandwidth_limit == 50 * MiB


SWAP_WORDS: list[SwapPolicy] = ["keep", "auto", "drop"]
sizes = st.sampled_from([512 * MiB, GiB, 20 * GiB, 3 * 1024**4, 1536 * MiB])


@st.composite
def answers(draw: st.DrawFn) -> Answers:
    explicit = draw(
        st.none()
        | st.lists(
            st.builds(
                LayoutRequest,
                mountpoint=st.sampled_from(["/", "/home", "/var", "swap"]),
                mode=st.sampled_from(["fit", "rest", "size", "percent"]),
                size=st.integers(1, 100),
                fstype=st.sampled_from([None, "ext4", "xfs"]),
                disk=st.integers(0, 2),
            ),
            min_size=1,
            max_size=4,
        ).map(tuple)
    )
    if explicit:
        explicit = tuple(
            r
            if r.mode == "percent"
            else LayoutRequest(r.mountpoint, r.mode, draw(sizes) if r.mode == "size" else 0, r.fstype, r.disk)
            for r in explicit
        )
    static = draw(
        st.none()
        | st.builds(
            StaticAddress,
            st.just("198.51.100.7/24"),
            st.sampled_from([None, "198.51.100.1"]),
            st.sampled_from([(), ("198.51.100.53",)]),
        )
    )
    return Answers(
        target=TargetAnswers("203.0.113.2", "/root/k", FP, draw(st.integers(1, 65535)), "root"),
        layout=LayoutChoices(
            headroom=draw(st.sampled_from([0.0, 0.1, 0.25, 0.5])),
            swap=draw(st.sampled_from(SWAP_WORDS) | sizes),
            table=draw(st.sampled_from(["auto", "gpt", "msdos"])),
            explicit=explicit,
            drop=tuple(draw(st.lists(st.sampled_from(["/srv", "/opt"]), unique=True))),
            exclude=tuple(draw(st.lists(st.sampled_from(["/var/cache", "/home/*/tmp"]), unique=True))),
            boot=draw(st.sampled_from(["own", "cluster"])),
            firmware=draw(st.sampled_from(["bios", "efi"])),
        ),
        fixups=FixupChoices(
            hostname=draw(st.sampled_from([None, "web01", "web01.example.org"])),
            static=static if static is None or static.gateway or not static.dns else None,
            interface=draw(st.sampled_from([None, "eth0"])),
            console=draw(st.sampled_from(["auto", "ttyS0", "hvc0", "none"])),
            disabled=frozenset(draw(st.lists(st.sampled_from(["network-names", "console"])))),
        ),
        source_disks=draw(st.none() | st.just(("/dev/sda",))),
        after=draw(st.sampled_from(["poweroff", "reboot", "none"])),
        confirm=draw(st.booleans()),
        bandwidth_limit=draw(st.none() | sizes),
        running=draw(
            st.none()
            | st.builds(
                RunningAnswers,
                st.sampled_from(["192.0.2.10", "oldbox.example.org"]),
                st.just("/root/probe"),
                st.just(FP),
                st.just("/root/copy"),
                st.integers(1, 65535),
                st.sampled_from(["root", "backup"]),
            )
        ),
    )


@given(answers())
def test_written_answers_validate_and_read_back_identically(a: Answers) -> None:
    """What the wizard writes, p2v --answers-file reads back to the same choices."""
    d = yaml.safe_load(yaml.safe_dump(answers_to_doc(a)))
    assert errors(d) == []
    assert answers_from_doc(d) == a


@pytest.mark.parametrize(
    ("document", "errors"),
    [
        ({"version": 1}, ["target: required"]),
        ({"version": 1, "target": {"host": "h"}}, ["target.host_key: required", "target.identity: required"]),
        (
            {"version": 1, "interactive": False, "target": {"host": "h"}},
            ["target.host_key: required", "target.identity: required"],
        ),
        ({"version": 1, "interactive": True}, []),
        ({"version": 1, "interactive": True, "target": {"host": "h"}, "hostname": "web01"}, []),
        (
            {"version": 1, "interactive": "yes"},
            ["target: required", "interactive: expected boolean, got str 'yes'"],
        ),
    ],
)
def test_interactive_answers_may_leave_out_any_section(document: Any, errors: list[str]) -> None:
    assert validation_errors(document, answers_schema()) == errors


def test_interactive_answers_prefill_what_they_give() -> None:
    a = answers_from_doc(
        {"version": 1, "interactive": True, "target": {"host": "h", "port": 2222}, "hostname": "w"}
    )
    assert a.interactive and a.target == TargetAnswers(host="h", identity="", host_key="", port=2222)
    assert a.fixups.hostname == "w"
    assert "interactive" not in answers_to_doc(a)


RUNNING = {"host": "192.0.2.10", "identity": "/root/probe", "host_key": FP, "copy_identity": "/root/copy"}


@pytest.mark.parametrize(
    ("running", "said"),
    [
        ({**RUNNING, "host": "bad host!"}, "source.running.host: neither an IP address nor a host name"),
        ({**RUNNING, "user": "Root;rm"}, "source.running.user:"),
        ({**RUNNING, "host_key": "SHA256:" + "A" * 42 + "=="}, "source.running.host_key:"),
        (
            {k: v for k, v in RUNNING.items() if k != "copy_identity"},
            "source.running.copy_identity: required",
        ),
        ({**RUNNING, "extra": 1}, "source.running.extra: unknown key"),
    ],
)
def test_the_running_source_is_checked_like_the_target(running: dict[str, Any], said: str) -> None:
    d = doc(source={"running": running})
    found = errors(d) or semantic_errors(d)
    assert any(said in line for line in found), found


def test_a_warm_pass_is_not_for_an_instance_p2v_creates() -> None:
    d = doc(source={"running": RUNNING})
    d["cluster"] = {}
    assert any("source.running: a warm pass" in line for line in semantic_errors(d))
