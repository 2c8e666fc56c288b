"""The real ``p2v --wizard`` on an 80x24 terminal, typed into as a person
would: the built-in demo, and a real migration of loop disks through a real
sshd in a network namespace (done; cancelled mid-copy, then resumed)."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.integration.harness import (
    INSTANCE,
    P2V,
    Source,
    Target,
    changed_files,
    check_partition_table,
    check_trees_equal,
    image_hash,
    migration_target,
    source_machine,
    target_tree,
)
from tests.lab.disks import require
from tests.lab.tmux import Terminal, terminal

MiB = 1024 * 1024
TERM = {"TERM": "xterm", "LANG": "C.UTF-8"}


def go_through(t: Terminal, instance: str, *, connect: bool = True) -> None:
    """Network → Target (connect) → Source → Layout → Fixups → Confirm (type
    the instance name) → Transfer, checking each screen's title."""
    t.wait_for(r"Welcome: this live system's network")
    t.keys("F2")
    t.wait_for(r"Target: the Ganeti instance")
    if connect:
        t.keys("Enter")  # in the Host field: connect (the pin comes from the answers)
        t.wait_for(r"Connected to root@", timeout=60)
    t.keys("F2")
    t.wait_for(r"Source: what is on this machine", timeout=120)
    t.wait_for(r"Mount point\s+Type", timeout=120)
    t.keys("F2")
    t.wait_for(r"The data fits", timeout=120)
    t.keys("F2")
    t.wait_for(r"Configuration changes: \d+ files", timeout=60)
    t.keys("F2")
    t.wait_for(r"ERASED on instance " + instance)
    t.keys("F2")
    t.wait_for(r"Type " + instance + " to confirm")
    t.type(instance)
    t.keys("Tab", "Enter")
    t.wait_for(r"Migrating this machine into " + instance)


def test_demo_wizard_reaches_done(tmp_path: Path) -> None:
    require("rsync")
    report = tmp_path / "report"
    with terminal([P2V, "--wizard", "--demo", "--report", str(report)], tmp_path / "t", env=TERM) as t:
        go_through(t, "web01.example.org")
        done = t.wait_for(r"Migrated into web01.example.org", timeout=180)
        assert "gnt-instance start web01.example.org" in done
        t.keys("Enter")
        assert t.wait_exit() == 0
    migrated = report / "simulated-target" / "target"
    assert "UUID=" in (migrated / "etc/fstab").read_text()
    # valid as written (test_controller replays it headless to the same plan)
    check = subprocess.run([P2V, "--validate", str(report / "answers.yaml")], capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr


# --- a real migration: loop disks, a real sshd in a network namespace -------------


@pytest.fixture
def machine(tmp_path: Path) -> Iterator[tuple[Source, Target]]:
    require("rsync", "sshd", "tmux")
    with (
        source_machine("msdos-root-swap", tmp_path) as source,
        migration_target(tmp_path, 900 * MiB) as target,
    ):
        yield source, target


def prefill(target: Target, source: Source, path: Path, **extra: Any) -> Path:
    """What the person brings on a USB stick: target and source pre-filled,
    ``interactive: true`` so that p2v opens the wizard."""
    doc = target.answers(source, hostname=INSTANCE, **extra)
    doc.pop("confirm")
    doc["interactive"] = True
    path.write_text(yaml.safe_dump(doc))
    return path


def wizard_argv(target: Target, answers: Path, report: Path) -> list[str]:
    return target.ns.client_argv([P2V, "--answers-file", str(answers), "--report", str(report)])


@pytest.mark.root
@pytest.mark.slow
def test_wizard_migrates_loop_disks_through_ssh(machine: tuple[Source, Target], tmp_path: Path) -> None:
    source, target = machine
    before = image_hash(source.image)
    answers = prefill(target, source, tmp_path / "prefill.yaml")
    report = tmp_path / "report"
    with terminal(wizard_argv(target, answers, report), tmp_path / "t", env=TERM) as t:
        go_through(t, INSTANCE)
        t.wait_for(r"Migrated into " + INSTANCE, timeout=600)
        t.keys("Enter")
        assert t.wait_exit() == 0
    plan = json.loads((report / "plan.json").read_text())
    check_partition_table(target.device, plan)
    changes = changed_files(report)
    with target_tree(target.device, plan) as dst:
        check_trees_equal(source, plan, dst, excludes=[], changed=list(changes))
        assert (dst["/"] / "etc/hostname").read_text().strip() in ("web01", INSTANCE)
    assert image_hash(source.image) == before
    # the answers the wizard wrote replay headless to the same plan
    replay = subprocess.run(
        target.ns.client_argv(
            [
                P2V,
                "--answers-file",
                str(report / "answers.yaml"),
                "--dry-run",
                "--report",
                str(tmp_path / "r2"),
            ]
        ),
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert replay.returncode == 0, replay.stdout + replay.stderr
    assert json.loads((tmp_path / "r2/plan.json").read_text()) == plan


@pytest.mark.root
@pytest.mark.slow
def test_wizard_cancel_mid_copy_then_again_resumes(machine: tuple[Source, Target], tmp_path: Path) -> None:
    source, target = machine
    slow = prefill(target, source, tmp_path / "slow.yaml", bandwidth_limit="2M")
    with terminal(wizard_argv(target, slow, tmp_path / "r1"), tmp_path / "t1", env=TERM) as t:
        go_through(t, INSTANCE)
        t.wait_for(r"Copying|copying /", timeout=120)
        t.wait_for(r"\d+(\.\d+)? [KM]iB of ", timeout=120)
        t.keys("Escape")
        t.wait_for(r"Keep going")
        t.keys("Tab", "Enter")  # the other answer: stop
        done = t.wait_for(r"Cancelled: the target can be resumed", timeout=120)
        assert "a new run resumes" in done
        t.keys("Enter")
        assert t.wait_exit() == 4
    mounts = target.host.run(["cat", "/proc/self/mounts"]).stdout.split("\n")
    assert not [m for m in mounts if " /target/" in m or " /run/p2v-target/" in m], "left mounted"
    fast = prefill(target, source, tmp_path / "fast.yaml")
    with terminal(wizard_argv(target, fast, tmp_path / "r2"), tmp_path / "t2", env=TERM) as t:
        go_through(t, INSTANCE)
        t.wait_for(r"Migrated into " + INSTANCE, timeout=600)
        t.keys("Enter")
        assert t.wait_exit() == 0
    assert (
        "resuming"
        in (tmp_path / "r2" / "debug.log").read_text() + (tmp_path / "r2" / "events.jsonl").read_text()
    )
    plan = json.loads((tmp_path / "r2" / "plan.json").read_text())
    with target_tree(target.device, plan) as dst:
        check_trees_equal(source, plan, dst, excludes=[], changed=list(changed_files(tmp_path / "r2")))
