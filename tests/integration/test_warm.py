"""Warm passes from a server that still runs, then the cutover.

A real Debian 12 tree (with sshd and rsync) on a loop disk - / ext4 and
/srv xfs, read-write, swap - runs its own sshd (tests/lab/running_server);
the real p2v --warm probes it over SSH and the target pulls from it with
the read-only copy key (rrsync -ro). Then files are created, changed,
deleted and renamed on the running server, a second pass follows, more
changes, the server "powers off" (its sshd and mounts end) and the cutover
is the ordinary headless run from the live side (the disk probed locally),
which must find the warm target, resume it and leave the target equal to
the source. Root only (loop devices, namespaces)."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import signal
import stat
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from p2v_tui.model.units import GiB, MiB
from tests.integration.debian import debian_rootfs, untar_argv
from tests.integration.harness import (
    P2V,
    UUID_HOME,
    UUID_ROOT,
    UUID_SWAP,
    Source,
    SourceFs,
    Target,
    changed_files,
    check_trees_equal,
    image_hash,
    migration_target,
    run_p2v,
    sfdisk_dump,
    target_tree,
)
from tests.lab.disks import DiskSpec, PartSpec, loop_disk, mounted, require
from tests.lab.running_server import RunningServer, running_server
from tests.lab.sshd import pids_in_mount_ns
from tests.lab.tree import unpopulated

pytestmark = [pytest.mark.root, pytest.mark.slow]

EXTRA = ("openssh-server", "python3", "rsync", "xfsprogs")
FSTAB = f"""\
UUID={UUID_ROOT}\t/\text4\terrors=remount-ro\t0\t1
UUID={UUID_HOME}\t/srv\txfs\tdefaults\t0\t2
UUID={UUID_SWAP}\tnone\tswap\tsw\t0\t0
"""


@contextlib.contextmanager
def server_disk(work: Path, root_size: int) -> Iterator[Source]:
    tarball = debian_rootfs(EXTRA)
    spec = DiskSpec(
        root_size + 512 * MiB,
        "msdos",
        (PartSpec(root_size, "ext4", uuid=UUID_ROOT, mountpoint="/"),
         PartSpec(384 * MiB, "xfs", uuid=UUID_HOME, mountpoint="/srv"),
         PartSpec(None, "swap", uuid=UUID_SWAP)),
    )  # fmt: skip
    with loop_disk(spec, work / "server.img") as disk:
        with mounted(disk.partitions[0], "ext4") as root:
            subprocess.run(untar_argv(tarball, root), check=True)
            (root / "etc/fstab").write_text(FSTAB)
            (root / "etc/hostname").write_text("warmbox\n")
        with mounted(disk.partitions[1], "xfs") as srv:
            data = srv / "data"
            data.mkdir()
            for i in range(200):
                (data / f"record-{i:03}.txt").write_text(f"record {i}\n" * 50)
            (data / "big.bin").write_bytes(os.urandom(24 * MiB))
        tree = unpopulated()
        yield Source(
            disk,
            tree,
            [SourceFs("/", "/", "ext4", device=disk.partitions[0]),
             SourceFs("/srv", "/srv", "xfs", device=disk.partitions[1])],
            swap_device=disk.partitions[2],
        )  # fmt: skip


def server_mounts(source: Source) -> list[tuple[str, str]]:
    return [("/", source.disk.partitions[0]), ("/srv", source.disk.partitions[1])]


def manifest(root: Path, tops: tuple[str, ...]) -> dict[str, tuple[Any, ...]]:
    """Every entry under ``tops`` of the server's tree with its type, mode,
    owner, size, mtime, ctime and content hash: a write, a rename, a chmod
    or a deletion anywhere changes it (ctime included)."""
    found: dict[str, tuple[Any, ...]] = {}
    for top in tops:
        base = root / top.lstrip("/")
        for dirpath, dirnames, filenames in os.walk(base):
            for name in [*dirnames, *filenames, ""]:
                path = Path(dirpath) / name if name else Path(dirpath)
                st = path.lstat()
                digest = ""
                if stat.S_ISREG(st.st_mode):
                    digest = hashlib.sha256(path.read_bytes()).hexdigest()
                key = str(path.relative_to(root))
                found[key] = (st.st_mode, st.st_uid, st.st_size, st.st_mtime_ns, st.st_ctime_ns, digest)
            dirnames[:] = [d for d in dirnames if not os.path.ismount(Path(dirpath) / d) or d == "srv"]
    return found


def answers(target: Target, server: RunningServer, source: Source) -> dict[str, Any]:
    """The same answers for every warm pass and the cutover."""
    doc = target.answers(source)
    doc["source"]["running"] = server.answers()
    return doc


def warm(target: Target, server: RunningServer, source: Source, work: Path, *args: str) -> Any:
    work.mkdir()
    return run_p2v(target, answers(target, server, source), work, "--warm", *args)


def change(root: Path, round_: int) -> None:
    """What a running service does between passes."""
    data = root / "srv/data"
    (data / f"new-{round_}.txt").write_text(f"written after pass {round_}\n")
    (data / "record-010.txt").write_text(f"changed in round {round_}\n")
    (data / f"record-{20 + round_:03}.txt").unlink()
    (data / f"record-{30 + round_:03}.txt").rename(data / f"renamed-{round_}.txt")
    (root / "etc/motd").write_text(f"motd of round {round_}\n")


def test_warm_passes_then_cutover_resume_and_match_the_source(tmp_path: Path) -> None:
    require("rsync", "sshd", "mkfs.xfs", "rrsync")
    with server_disk(tmp_path, 1536 * MiB) as source, migration_target(tmp_path, 2 * GiB) as target:
        with running_server(target.ns, tmp_path / "server", server_mounts(source)) as server:
            before = manifest(server.root, ("/etc", "/srv", "/usr/bin", "/var/lib"))
            dry = warm(target, server, source, tmp_path / "dry", "--dry-run")
            assert dry.returncode == 0 and "dry run: nothing was written" in dry.output, dry.output
            assert "start=" not in sfdisk_dump(target.device)  # the target disk is still empty
            first = warm(target, server, source, tmp_path / "w1")
            assert first.returncode == 0, first.output
            assert "warm pass into" in first.output
            # the warm pass wrote nothing on the running server
            assert manifest(server.root, ("/etc", "/srv", "/usr/bin", "/var/lib")) == before
            record = json.loads((first.report / "warm.json").read_text())
            assert [fs["mountpoint"] for fs in record["filesystems"]] == ["/", "/srv"]
            assert len(record["passes"]) == 1 and record["passes"][0]["bytes"] > 100 * MiB
            table = sfdisk_dump(target.device)

            change(server.root, 1)
            second = warm(target, server, source, tmp_path / "w2")
            assert second.returncode == 0, second.output
            assert "already done by an earlier run" in second.output  # the same partitions, resumed
            assert sfdisk_dump(target.device) == table
            record = json.loads((second.report / "warm.json").read_text())
            assert len(record["passes"]) == 2
            assert record["passes"][1]["bytes"] < record["passes"][0]["bytes"] / 10
            change(server.root, 2)
        # the server is off now: the live image's side probes its disk
        source_hash = image_hash(source.image)
        (tmp_path / "cut").mkdir()
        cut = run_p2v(target, answers(target, server, source), tmp_path / "cut")
        assert cut.returncode == 0, cut.output
        assert "a warm copy of warmbox is on the target: 2 passes" in cut.output
        assert "already done by an earlier run: resuming" in cut.output
        # round 2 changed 3 files, created 1, renamed 1 (its ctime): about what the final pass sends
        assert "The final pass sends about" in cut.output
        assert sfdisk_dump(target.device) == table
        assert image_hash(source.image) == source_hash
        plan = cut.plan()
        with target_tree(target.device, plan) as dst, source.mounted_readonly() as src:
            check_trees_equal(source, plan, dst, [], list(changed_files(cut.report)))
            data = dst["/srv"] / "data"
            assert (data / "new-1.txt").exists() and (data / "new-2.txt").exists()
            assert (data / "record-010.txt").read_text() == "changed in round 2\n"
            assert not (data / "record-021.txt").exists() and not (data / "record-022.txt").exists()
            assert not (data / "record-031.txt").exists() and (data / "renamed-2.txt").exists()
            assert (dst["/"] / "etc/motd").read_text() == "motd of round 2\n"
            assert not (dst["/"] / "run/p2v-target").exists()
            del src


def test_cutover_refused_when_a_filesystem_outgrew_the_warm_layout(tmp_path: Path) -> None:
    require("rsync", "sshd", "mkfs.xfs", "rrsync")
    with server_disk(tmp_path, 2560 * MiB) as source, migration_target(tmp_path, int(1.75 * GiB)) as target:
        with running_server(target.ns, tmp_path / "server", server_mounts(source)) as server:
            first = warm(target, server, source, tmp_path / "w1")
            assert first.returncode == 0, first.output
            plan = first.plan()
            root_part = next(p for d in plan["disks"] for p in d["partitions"] if p["mountpoint"] == "/")
            # the server's / grows past the partition the warm pass made for it
            subprocess.run(
                ["fallocate", "-l", str(root_part["size"]), str(server.root / "var/grown.bin")], check=True
            )
        table = sfdisk_dump(target.device)
        (tmp_path / "cut").mkdir()
        cut = run_p2v(target, answers(target, server, source), tmp_path / "cut")
        assert cut.returncode == 1, cut.output
        assert "no longer fits the layout of the warm copy" in cut.output
        assert "Nothing was written" in cut.output and "Traceback" not in cut.output
        assert sfdisk_dump(target.device) == table


def test_warm_pass_needs_the_running_section(tmp_path: Path) -> None:
    if shutil.which("rsync") is None:
        pytest.skip("needs rsync")
    answers = tmp_path / "a.yaml"
    answers.write_text(
        "version: 1\ntarget: {host: 192.0.2.1, identity: /nonexistent, host_key: 'SHA256:" + "A" * 43 + "'}\n"
    )
    proc = subprocess.run(
        [P2V, "--answers-file", str(answers), "--warm", "--yes"], capture_output=True, text=True
    )
    assert proc.returncode == 1 and "--warm needs source.running" in proc.stderr


def copying(events: Path, proc: subprocess.Popen[str], timeout: float = 120) -> None:
    """Wait until the run's copy step started."""
    deadline = time.monotonic() + timeout
    while not (events.exists() and '"step": "copy"' in events.read_text()):
        assert time.monotonic() < deadline and proc.poll() is None, "the copy did not start"
        time.sleep(0.5)


def test_a_cancelled_warm_pass_ends_the_targets_rsync_removes_the_key_and_resumes(tmp_path: Path) -> None:
    require("rsync", "sshd", "mkfs.xfs", "rrsync")
    with (
        server_disk(tmp_path, 1536 * MiB) as source,
        migration_target(tmp_path, 2 * GiB) as target,
        running_server(target.ns, tmp_path / "server", server_mounts(source)) as server,
    ):
        doc = answers(target, server, source)
        doc["bandwidth_limit"] = "16M"  # slow enough to be stopped in the middle
        (tmp_path / "w1").mkdir()
        answers_file = tmp_path / "w1" / "answers.yaml"
        answers_file.write_text(yaml.safe_dump(doc))
        report = tmp_path / "w1" / "report"
        argv = [P2V, "--answers-file", str(answers_file), "--report", str(report), "--warm", "--yes"]
        client = target.ns.client_argv(argv)
        proc = subprocess.Popen(client, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        try:
            copying(report / "events.jsonl", proc)
            time.sleep(3)
            proc.send_signal(signal.SIGINT)  # Ctrl-C: ip netns exec became p2v
            out, _ = proc.communicate(timeout=120)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        assert proc.returncode == 4, out
        assert "STOPPED" in out and "Traceback" not in out
        ns_id = os.readlink(f"/proc/{target.host.pid}/ns/mnt")
        names = {Path(f"/proc/{pid}/comm").read_text().strip() for pid in pids_in_mount_ns(ns_id)}
        assert "rsync" not in names, names
        left = target.host.run(["ls", "-A", "/run/p2v-target"]).stdout.split()
        assert "warm-ssh" not in left and "warm.json" in left
        again = warm(target, server, source, tmp_path / "w2")
        assert again.returncode == 0, again.output
        assert "already done by an earlier run" in again.output
