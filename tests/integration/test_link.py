"""The link to the target cut in the middle of a copy, as a pulled cable or
a dead switch does it: nothing is answered and nothing is reset. p2v must
notice within about a minute on every channel (rsync's OpenSSH, paramiko),
stop with the resumable exit code and one line saying so, and the same
command, run again once the link is back, must unmount what the dead run
left on the target and complete with every file equal to the source.

A real sshd in a network namespace, real loop-device source and target; the
link is cut by taking the target's end of the wire down inside its
namespace, at 40 % of a copy slowed by bandwidth_limit."""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
import yaml

from p2v_tui.model.units import MiB
from tests.integration import linkprobe
from tests.integration.harness import (
    P2V,
    REPO,
    Target,
    changed_files,
    check_trees_equal,
    image_hash,
    migration_target,
    source_machine,
    target_tree,
)
from tests.lab.disks import require
from tests.lab.netns import VETH, stop_popen

pytestmark = [pytest.mark.root, pytest.mark.slow]

DETECT_WITHIN = 90.0
"""Seconds from the cut to p2v's exit (its link timeout is 40 s)."""
CHANNEL_WITHIN = 60.0
"""Seconds from a cut to each of p2v's channels giving it up: about a
minute (LINK_TIMEOUT is 40 s)."""
SSHD_WITHIN = 100.0
"""Seconds from the cut to the target's sshd ending the dead sessions: the
bootstrap's ClientAliveInterval 10 and ClientAliveCountMax 3, which OpenSSH
9.2 turns into about (2 x 3 + 1) x 10 = 70 s of silence (measured 79 s;
with shorter settings 2 x 1 + 1 intervals for a count of 1, 2 x 3 + 1 for
3, the same with the link cut farther away, by blackhole routes)."""


def set_link(target: Target, state: str) -> None:
    subprocess.run(["ip", "-n", target.ns.target, "link", "set", VETH, state], check=True)


def progress(events: Path) -> float:
    """The copy's progress so far, 0 to 1, from the events p2v wrote."""
    lines = events.read_text().splitlines() if events.exists() else []
    done = [json.loads(line) for line in lines if '"type": "progress"' in line]
    return max((e["done"] / e["total"] for e in done if e["total"]), default=0.0)


def test_a_link_cut_mid_copy_stops_resumable_and_the_same_command_again_completes(tmp_path: Path) -> None:
    require("rsync", "sshd", "ip")
    # ~50 MiB at 2 MiB/s: the copy takes about 25 s, the cut comes at ~10 s
    with (
        source_machine("msdos-root-swap", tmp_path, small_files=200, large_file=40 * MiB, sparse_file=4 * MiB)
        as source,
        migration_target(tmp_path, 900 * MiB) as target,
    ):  # fmt: skip
        source_hash = image_hash(source.image)
        answers = tmp_path / "answers.yaml"
        answers.write_text(yaml.safe_dump(target.answers(source, bandwidth_limit="2M")))
        events = tmp_path / "events.jsonl"
        report = tmp_path / "report"
        command = target.ns.client_argv(
            [P2V, "--answers-file", str(answers), "--report", str(report), "--events", str(events)]
        )

        proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        try:
            deadline = time.monotonic() + 120
            while progress(events) < 0.4 and proc.poll() is None and time.monotonic() < deadline:
                time.sleep(0.2)
            assert proc.poll() is None and progress(events) >= 0.4, "the copy did not reach 40 %"
            assert progress(events) < 0.8, "the copy ran too fast to be cut in its middle"
            set_link(target, "down")
            cut = time.monotonic()
            out, _ = proc.communicate(timeout=DETECT_WITHIN + 60)
            noticed = time.monotonic() - cut
            print(f"LINKCUT noticed after {noticed:.1f} s")
        finally:
            stop_popen(proc)
        assert proc.returncode == 4, out
        assert noticed <= DETECT_WITHIN, f"p2v took {noticed:.0f} s to notice\n{out}"
        last = out.strip().splitlines()[-1]
        assert last.startswith("STOPPED: the link to the target is lost"), out
        assert last.endswith("The source is untouched; run the same command again to resume."), out
        assert "Traceback" not in out
        mounts = target.host.run(["cat", "/proc/self/mounts"]).stdout
        assert " /target ext4 " in mounts  # left: the dead link could not unmount it

        set_link(target, "up")
        again = subprocess.run(command, capture_output=True, text=True, timeout=300)
        assert again.returncode == 0, again.stdout + again.stderr
        assert "unmounting what an earlier run left mounted on the target: /target" in again.stdout
        assert "resuming" in again.stdout
        plan = json.loads((report / "plan.json").read_text())
        changes = changed_files(report)
        with target_tree(target.device, plan) as dst:
            check_trees_equal(source, plan, dst, excludes=[], changed=list(changes))
        assert image_hash(source.image) == source_hash


def test_every_channel_gives_a_cut_link_up_within_a_minute_and_sshd_ends_the_dead_sessions(
    tmp_path: Path,
) -> None:
    """paramiko (a command running, an SFTP read and a command asked for
    after the cut) and OpenSSH through its ControlMaster, each timed from
    the cut; then the target's sshd, still cut off, ends every session
    itself (ClientAlive*, as the bootstrap OS's), which is what lets a later
    run unmount what the dead one held."""
    require("sshd", "ssh", "ip")
    with (
        migration_target(tmp_path, 64 * MiB) as target,
        tempfile.TemporaryDirectory(prefix="p2v-link-") as control,  # short: the control socket's path
    ):
        probe = subprocess.Popen(
            target.ns.client_argv([
                sys.executable, "-m", "tests.integration.linkprobe",
                target.host.host, str(target.host.port), str(target.key), target.host.host_key_fingerprint,
                control,
            ]),
            cwd=REPO, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        assert probe.stdin is not None and probe.stdout is not None
        try:
            ready = probe.stdout.readline()
            assert ready == "ready\n", ready + probe.communicate(timeout=30)[1]
            set_link(target, "down")
            cut = time.monotonic()
            out, err = probe.communicate("cut\n", timeout=linkprobe.GIVE_UP + 30)
        finally:
            stop_popen(probe)
        results = json.loads(out)
        print("LINKCUT per channel:", json.dumps(results))
        for name in ("command", "sftp", "call"):
            assert results[name]["ended"].startswith("TargetLost: the link to the target is lost"), results
        assert results["openssh"]["ended"].startswith("exit 255"), results
        slow = {
            n: r["seconds"] for n, r in results.items() if not r["seconds"] or r["seconds"] > CHANNEL_WITHIN
        }
        assert not slow, f"gave the cut link up too late: {slow}\n{err}"

        # the target's sshd, its client silent, ends each connection:
        # three of paramiko and OpenSSH's master
        def ended() -> int:
            return target.host.log_path.read_text().count("Timeout, client not responding")

        while ended() < 4 and time.monotonic() < cut + SSHD_WITHIN:
            time.sleep(1)
        print(f"LINKCUT sshd ended the dead sessions after {time.monotonic() - cut:.1f} s")
        assert ended() == 4, target.host.log_path.read_text()[-3000:]
