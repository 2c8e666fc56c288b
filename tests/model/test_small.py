"""Serialisation, redaction, progress accounting, size units."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from p2v_tui.model.edits import FileEdit
from p2v_tui.model.machine import ConfigSnapshot, Disk, Filesystem, Machine, Partition, Subvolume, SwapArea
from p2v_tui.model.plan import LayoutChoices
from p2v_tui.model.progress import ProgressTracker
from p2v_tui.model.redact import MASK, redact
from p2v_tui.model.serialize import from_jsonable, to_jsonable
from p2v_tui.model.units import GiB, MiB, SizeError, align_down, align_up, format_size, parse_size


def test_machine_round_trips_through_json() -> None:
    m = Machine(
        disks=(
            Disk(
                "/dev/sda",
                10 * GiB,
                table="gpt",
                partitions=(Partition("/dev/sda1", 1, MiB, GiB, frozenset({"esp"})),),
            ),
        ),
        filesystems=(
            Filesystem(
                "/dev/sda2", "btrfs", "u", size=GiB, used=MiB, subvolumes=(Subvolume(256, "@", False, "/"),)
            ),
        ),
        swaps=(SwapArea("file", "/swapfile", GiB, on_device="/dev/sda2"),),
        config=ConfigSnapshot(files={"/etc/fstab": "x"}, links={"/sbin/init": "/lib/systemd/systemd"}),
    )
    assert from_jsonable(Machine, to_jsonable(m)) == m


@pytest.mark.parametrize("swap", ["keep", "auto", "drop", 3 * GiB])
def test_choices_round_trip(swap: object) -> None:
    c = LayoutChoices(swap=swap, exclude=("/var/cache",), exclude_sizes={"/var/cache": 5})  # type: ignore[arg-type]
    assert from_jsonable(LayoutChoices, to_jsonable(c)) == c


def test_unknown_keys_are_an_error() -> None:
    with pytest.raises(ValueError, match="unknown keys"):
        from_jsonable(LayoutChoices, {"headroom": 0.1, "bogus": 1})


@pytest.mark.parametrize(
    ("text", "hidden"),
    [
        ("[wifi-security]\npsk=hunter22\n", "hunter22"),
        ("+password = s3cret\n", "s3cret"),
        (" wpa-psk  averylongpassphrase\n", "averylongpassphrase"),  # ifupdown: no "="
        ("-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNz\n-----END OPENSSH PRIVATE KEY-----\n", "b3BlbnNz"),
        ("[802-1x]\nprivate-key-password=pk\n", "=pk"),
    ],
)
def test_redact_masks_secrets(text: str, hidden: str | None) -> None:
    out = redact(text)
    if hidden is not None:
        assert hidden not in out and MASK in out


def test_redact_keeps_flags_and_ordinary_lines() -> None:
    text = "psk-flags=1\naddress1=198.51.100.10/24\nmethod=manual\n"
    assert redact(text) == text


def test_an_edit_shows_its_diff_with_secrets_masked() -> None:
    old = "[wifi-security]\npsk=hunter22\n[ipv4]\nmethod=auto\n"
    edit = FileEdit(
        "/etc/NetworkManager/system-connections/w.nmconnection",
        old,
        old.replace("auto", "manual"),
        "nm",
        "why",
    )
    shown = edit.shown_diff()
    assert "hunter22" in edit.diff() and "hunter22" not in shown
    assert "+method=manual" in shown and MASK in shown


def test_progress_never_runs_backwards_and_reaches_total() -> None:
    t = ProgressTracker([100, 1000])
    t.start_job(0)
    t.update(50, 50, now=0.0)
    t.update(120, 60, now=1.0)  # rsync knows better than the estimate
    assert t.total >= 200 + 1000 and t.done == 120
    t.finish_job(120)
    t.start_job(1)
    seen = []
    for i in range(1, 11):
        t.update(i * 100, i * 10, now=1.0 + i)
        seen.append(t.done)
        assert t.done <= t.total
    assert seen == sorted(seen)
    t.finish_job(1000)
    assert t.done == t.total == 1120
    assert t.rate == pytest.approx(100.0, rel=0.5) and t.eta == 0


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("20G", 20 * GiB),
        ("512M", 512 * MiB),
        ("1.5T", int(1.5 * 1024**4)),
        ("4096", 4096),
        ("2GiB", 2 * GiB),
        ("1gb", GiB),
    ],
)
def test_parse_size(text: str, value: int) -> None:
    assert parse_size(text) == value


@pytest.mark.parametrize("text", ["", "G", "20X", "-1G", "1,5G"])
def test_parse_size_rejects(text: str) -> None:
    with pytest.raises(SizeError):
        parse_size(text)


@given(st.integers(0, 2**50))
def test_alignment(n: int) -> None:
    assert align_down(n) <= n <= align_up(n)
    assert align_up(n) % MiB == 0 and align_up(n) - n < MiB


def test_format_size() -> None:
    assert [format_size(n) for n in (0, 1536, 20 * GiB, 150 * GiB)] == [
        "0 B",
        "1.50 KiB",
        "20.0 GiB",
        "150 GiB",
    ]
