"""Whole migrations on real parts: loop-device disks with real filesystems,
a real sshd in a network namespace, real rsync, the real p2v program.

Root only; each case takes some seconds (the source tree has ~1500 small
files, a sparse file, ACLs, xattrs, device nodes, hard links)."""

from __future__ import annotations

import itertools
import json
import signal
import subprocess
import time
from pathlib import Path

import pytest
import yaml

from p2v_tui.model.units import GiB, MiB
from tests.integration.harness import (
    INSTANCE,
    INSTANCE_MAC,
    UUID_ROOT,
    blkid,
    changed_files,
    check_diffs_match_target,
    check_fstab_resolves,
    check_partition_table,
    check_trees_equal,
    image_hash,
    migration_target,
    run_p2v,
    source_machine,
    target_tree,
)
from tests.lab.disks import require

pytestmark = [pytest.mark.root, pytest.mark.slow]

EXCLUDE = "/var/cache/apt/archives"

# (source case, target disk size): every target is smaller than its source
CASES = [
    ("msdos-root-swap", 900 * MiB),
    ("gpt-mixed", 2200 * MiB),
    ("swapfile", 800 * MiB),
    ("no-swap-no-table", 600 * MiB),
]


@pytest.mark.parametrize(("case", "target_size"), CASES)
def test_migration_copies_everything_and_fixes_the_configuration(
    case: str, target_size: int, tmp_path: Path
) -> None:
    require("rsync", "sshd", "mkfs.xfs", "mkfs.btrfs", "patch", "setfacl")
    with source_machine(case, tmp_path) as source, migration_target(tmp_path, target_size) as target:
        source_hash = image_hash(source.image)
        run = run_p2v(target, target.answers(source, exclude=[EXCLUDE], hostname=INSTANCE), tmp_path)
        assert run.returncode == 0, run.output
        assert "DONE" in run.output

        plan = run.plan()
        check_partition_table(target.device, plan)
        changes = changed_files(run.report)
        assert "/etc/hostname" in changes
        if case in ("msdos-root-swap", "gpt-mixed"):  # fstab names /dev/sdX: rewritten
            assert "/etc/fstab" in changes
        with target_tree(target.device, plan) as dst, source.mounted_readonly() as src:
            check_trees_equal(source, plan, dst, excludes=[EXCLUDE], changed=list(changes))
            assert not (dst["/"] / EXCLUDE.lstrip("/")).exists() or not any(
                (dst["/"] / EXCLUDE.lstrip("/")).iterdir()
            )
            check_diffs_match_target(src, dst, changes, tmp_path)
            check_fstab_resolves(dst, plan)
            assert (dst["/"] / "etc/hostname").read_text().strip() in ("web01", INSTANCE)
            rules = dst["/"] / "etc/udev/rules.d/70-persistent-net.rules"
            if rules.exists():
                assert INSTANCE_MAC in rules.read_text()
            if source.tree.swapfile:
                swapfile = dst["/"] / source.tree.swapfile.lstrip("/")
                st = swapfile.stat()
                assert st.st_blocks * 512 >= st.st_size > 0, "swap file has holes"
                assert blkid(str(swapfile), "TYPE") == "swap"
                # recreated, not copied, yet with the source's time
                assert st.st_mtime_ns == (src["/"] / source.tree.swapfile.lstrip("/")).stat().st_mtime_ns
        # the source was never written
        assert image_hash(source.image) == source_hash
        # the report holds plan, diffs, events and debug log, no secret
        for name in ("plan.json", "plan.txt", "events.jsonl", "debug.log", "answers.yaml", "facts.json"):
            assert (run.report / name).is_file(), name
        events = [json.loads(line) for line in (run.report / "events.jsonl").read_text().splitlines()]
        assert any(e["type"] == "progress" for e in events)
        assert events[-1]["type"] == "finished" and events[-1]["ok"]
        key_text = target.key.read_text()
        secret = key_text.split("\n")[1]
        for f in run.report.rglob("*"):
            if f.is_file():
                assert secret not in f.read_text(errors="replace"), f"private key material in {f}"


def test_uuids_are_kept_so_fstab_by_uuid_needs_no_change(tmp_path: Path) -> None:
    require("rsync", "sshd")
    with (
        source_machine("swapfile", tmp_path, small_files=50) as source,
        migration_target(tmp_path, 800 * MiB) as t,
    ):
        run = run_p2v(t, t.answers(source), tmp_path)
        assert run.returncode == 0, run.output
        root = next(p for d in run.plan()["disks"] for p in d["partitions"] if p["mountpoint"] == "/")
        subprocess.run(["partx", "--update", t.device], capture_output=True)
        assert blkid(root["device"], "UUID") == UUID_ROOT
        diff = changed_files(run.report).get("/etc/fstab", "")
        assert f"-UUID={UUID_ROOT}" not in diff, "a UUID= line that still resolves was rewritten"


@pytest.fixture
def small_source(tmp_path: Path):  # type: ignore[no-untyped-def]
    require("rsync", "sshd")
    with source_machine("msdos-root-swap", tmp_path, small_files=200) as source:
        yield source


def test_target_too_small_fails_before_any_write(small_source, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    with migration_target(tmp_path, 40 * MiB) as target:
        before = image_hash(target.image)
        run = run_p2v(target, target.answers(small_source), tmp_path)
        assert run.returncode == 1, run.output
        assert "more than" in run.output and "Largest directories" in run.output
        assert image_hash(target.image) == before
        assert "before any write" in (run.report / "result.txt").read_text()


def test_wrong_host_key_is_refused_before_any_write(small_source, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    with migration_target(tmp_path, 900 * MiB) as target:
        before = image_hash(target.image)
        other = subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(tmp_path / "other")],
                               check=True)  # fmt: skip
        del other
        fingerprint = subprocess.run(["ssh-keygen", "-lf", str(tmp_path / "other.pub")], capture_output=True,
                                     text=True, check=True).stdout.split()[1]  # fmt: skip
        answers = target.answers(small_source)
        answers["target"]["host_key"] = fingerprint
        run = run_p2v(target, answers, tmp_path)
        assert run.returncode == 1, run.output
        assert "host key" in run.output and "Refusing to connect" in run.output
        assert image_hash(target.image) == before
        # the key was checked before our credentials were offered
        assert "Accepted publickey" not in target.host.log_path.read_text()


def test_wrong_client_key_is_refused(small_source, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    with migration_target(tmp_path, 900 * MiB) as target:
        subprocess.run(
            ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(tmp_path / "stranger")], check=True
        )
        answers = target.answers(small_source)
        answers["target"]["identity"] = str(tmp_path / "stranger")
        run = run_p2v(target, answers, tmp_path)
        assert run.returncode == 1 and "refused the key" in run.output, run.output


def test_malformed_answers_name_the_key_and_touch_nothing(small_source, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    with migration_target(tmp_path, 900 * MiB) as target:
        before = image_hash(target.image)
        answers = target.answers(small_source)
        del answers["target"]["host"]
        answers["after"] = "shutdown"
        run = run_p2v(target, answers, tmp_path)
        assert run.returncode == 1
        assert "target.host: required" in run.stderr
        assert "after: expected one of poweroff, reboot, none" in run.stderr
        assert image_hash(target.image) == before
        assert not run.report.exists()


def test_unconfirmed_run_is_refused(small_source, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    with migration_target(tmp_path, 900 * MiB) as target:
        before = image_hash(target.image)
        answers = target.answers(small_source)
        answers["confirm"] = False
        run = run_p2v(target, answers, tmp_path)
        assert run.returncode == 3 and "confirm: true" in run.output, run.output
        assert image_hash(target.image) == before


def test_dry_run_shows_plan_and_diffs_and_writes_nothing(small_source, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    with migration_target(tmp_path, 900 * MiB) as target:
        before = image_hash(target.image)
        answers = target.answers(small_source)
        answers["confirm"] = False
        run = run_p2v(target, answers, tmp_path, "--dry-run")
        assert run.returncode == 0, run.output
        assert f"Target disk {target.device}" in run.stdout and "--- a/etc/fstab" in run.stdout
        assert image_hash(target.image) == before


def test_events_stream_to_stdout(small_source, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    with migration_target(tmp_path, 900 * MiB) as target:
        run = run_p2v(target, target.answers(small_source), tmp_path, "--events", "-")
        assert run.returncode == 0, run.output
        events = [json.loads(line) for line in run.stdout.splitlines()]
        kinds = {e["type"] for e in events}
        assert {"step_started", "step_finished", "progress", "file_changed", "finished"} <= kinds
        steps = [e["step"] for e in events if e["type"] == "step_started"]
        assert steps[:5] == ["preflight", "partition", "mkfs", "mount", "copy"]
        progress = [e for e in events if e["type"] == "progress"]
        assert progress[-1]["done"] == progress[-1]["total"] > 0
        assert all(a["done"] <= b["done"] for a, b in itertools.pairwise(progress))


def test_source_never_mounted_writable(small_source, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """While p2v runs, no source filesystem is mounted read-write."""
    with migration_target(tmp_path, 900 * MiB) as target:
        answers = target.answers(small_source)
        proc = subprocess.Popen(target.ns.client_argv([
            str(Path(__file__).resolve().parents[2] / ".venv/bin/p2v"), "--answers-file",
            str(_write(tmp_path / "a.yaml", answers)), "--report", str(tmp_path / "r")]),
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)  # fmt: skip
        devices = {fs.device for fs in small_source.filesystems}
        writable = []
        while proc.poll() is None:
            for line in Path("/proc/self/mounts").read_text().splitlines():
                dev, _where, _fstype, opts = line.split()[:4]
                if dev in devices and "rw" in opts.split(","):
                    writable.append(line)
        out = proc.stdout.read() if proc.stdout else ""
        assert proc.returncode == 0, out
        assert not writable, writable


def _write(path: Path, doc: dict[str, object]) -> Path:
    path.write_text(yaml.safe_dump(doc))
    return path


def test_big_gpt_plan_uses_the_whole_disk(tmp_path: Path) -> None:
    """A target bigger than the source: filesystems grow into it. Booting
    its own disk on gpt takes a BIOS boot partition; the built tree has no
    GRUB, so the dry run shows the plan and says a real run would refuse it."""
    require("rsync", "sshd", "mkfs.xfs", "mkfs.btrfs")
    with (
        source_machine("msdos-root-swap", tmp_path, small_files=100) as source,
        migration_target(tmp_path, 3 * GiB) as target,
    ):
        answers = target.answers(source, layout={"table": "gpt"}, boot="own")
        run = run_p2v(target, answers, tmp_path, "--dry-run")
        assert run.returncode == 1, run.output
        assert "refused, nothing was written: the source has no GRUB 2" in run.output
        assert "choose boot: cluster" in run.output
        (disk,) = run.plan()["disks"]
        assert disk["table"] == "gpt"
        last = max(p["start"] + p["size"] for p in disk["partitions"])
        assert 3 * GiB - last < 2 * MiB
        assert disk["partitions"][0]["role"] == "bios_grub"


def test_power_off_only_a_bootstrap_os_in_ram(small_source, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """The lab's target runs from a disk, not from RAM: p2v migrates, then
    does not power it off (a mistyped host must never be switched off); the
    migration still counts as done, with a warning and the right next steps."""
    with migration_target(tmp_path, 900 * MiB) as target:
        run = run_p2v(target, target.answers(small_source, after="poweroff"), tmp_path)
        assert run.returncode == 0, run.output
        assert "WARNING: the migration is complete, but 'poweroff' was not run" in run.output
        result = (run.report / "result.txt").read_text()
        assert f"gnt-instance shutdown {INSTANCE}" in result  # it still runs: shut it down first
        assert f'"uuid": "{UUID_ROOT}"' in (run.report / "plan.json").read_text()


def test_a_target_that_is_this_machine_is_refused(small_source, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    with migration_target(tmp_path, 900 * MiB, same_machine=True) as target:
        before = image_hash(target.image)
        run = run_p2v(target, target.answers(small_source), tmp_path)
        assert run.returncode == 1 and "is this machine itself" in run.output, run.output
        assert image_hash(target.image) == before


def test_cancel_mid_copy_then_run_again_resumes(small_source, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """Ctrl-C during the copy stops safely (exit 4, target unmounted); the
    same command again finds the filesystems made, copies the rest and
    finishes with everything equal to the source."""
    with migration_target(tmp_path, 900 * MiB) as target:
        answers = target.answers(small_source, bandwidth_limit="2M")  # slow enough to stop midway
        answers_file = _write(tmp_path / "a.yaml", answers)
        events = tmp_path / "events.jsonl"
        p2v = str(Path(__file__).resolve().parents[2] / ".venv/bin/p2v")
        argv = [
            p2v,
            "--answers-file",
            str(answers_file),
            "--report",
            str(tmp_path / "r1"),
            "--events",
            str(events),
        ]
        proc = subprocess.Popen(target.ns.client_argv(argv), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                text=True)  # fmt: skip
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            lines = events.read_text().splitlines() if events.exists() else []
            if any('"type": "progress"' in line and '"done": 0,' not in line for line in lines):
                break
            time.sleep(0.2)
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=120)
        assert proc.returncode == 4, out
        last = out.strip().splitlines()[-1]
        assert last.startswith("STOPPED: cancelled: "), out
        assert last.endswith("The source is untouched; run the same command again to resume."), out
        mounts = target.host.run(["cat", "/proc/self/mounts"]).stdout.split("\n")
        assert not [m for m in mounts if " /target/" in m or " /run/p2v-target/" in m], "left mounted"

        answers["bandwidth_limit"] = "1G"
        run = run_p2v(target, answers, tmp_path)
        assert run.returncode == 0, run.output
        assert "resuming" in run.output
        plan = run.plan()
        changes = changed_files(run.report)
        with target_tree(target.device, plan) as dst:
            check_trees_equal(small_source, plan, dst, excludes=[], changed=list(changes))
