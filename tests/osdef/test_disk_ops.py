"""export, import and rename on loop files, as Ganeti runs them (root)."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from p2v_tui.model.target import facts_from_json
from tests.osdef.harness import (
    OS_DIR,
    GDisk,
    GiB,
    GNic,
    MiB,
    Node,
    ganeti_env,
    inspect_disk,
    loops_of,
    mounts_mentioning,
    run_os_script,
    sha256_file,
    sparse_file,
)

pytestmark = [pytest.mark.root, pytest.mark.slow]

OLD = "web01.example.org"
NEW = "db02.example.net"


def created_disk(tmp_path: Path, node: Node, ssh_key: str) -> tuple[Path, dict[str, str]]:
    disk = sparse_file(tmp_path / "disk0.img", 1 * GiB)
    env = ganeti_env(OLD, [GDisk(disk, 1024)], [GNic("aa:00:00:00:00:01")], osparams={"ssh_key": ssh_key})
    result = run_os_script("create", env, node)
    assert result.returncode == 0, result.stderr
    return disk, env


def test_export_import_round_trip_is_byte_identical(tmp_path: Path, node: Node, ssh_key: str) -> None:
    disk, env = created_disk(tmp_path, node, ssh_key)
    exported = tmp_path / "disk0.export"
    export_env = dict(env, EXPORT_INDEX="0", EXPORT_DISK_PATH=str(disk), EXPORT_DEVICE=str(disk))
    size_r, size_w = os.pipe()
    try:
        export_env["EXP_SIZE_FD"] = str(size_w)
        with exported.open("wb") as out:
            result = run_os_script("export", export_env, node, stdout=out.fileno(), pass_fds=[size_w])
        os.close(size_w)
        size_w = -1
        announced = os.read(size_r, 100).decode()
    finally:
        os.close(size_r)
        if size_w >= 0:
            os.close(size_w)
    assert result.returncode == 0, result.stderr
    assert announced == f"{1 * GiB}\n"
    assert sha256_file(exported) == sha256_file(disk)

    second = sparse_file(tmp_path / "disk0-new.img", 1 * GiB)
    import_env = dict(env, IMPORT_INDEX="0", IMPORT_DISK_PATH=str(second), IMPORT_DEVICE=str(second))
    import_env["DISK_0_PATH"] = str(second)
    with exported.open("rb") as src:
        result = run_os_script("import", import_env, node, stdin=src.fileno())
    assert result.returncode == 0, result.stderr
    assert sha256_file(second) == sha256_file(disk)
    for f in (disk, second):
        assert loops_of(f) == ""
    assert mounts_mentioning(str(node.tmpdir)) == []


def test_import_of_a_larger_stream_fails(tmp_path: Path, node: Node) -> None:
    small = sparse_file(tmp_path / "small.img", 4 * MiB)
    env = ganeti_env(OLD, [GDisk(small, 4)], [])
    env.update(IMPORT_INDEX="0", IMPORT_DISK_PATH=str(small), IMPORT_DEVICE=str(small))
    stream = tmp_path / "big.stream"
    stream.write_bytes(b"\x5a" * (5 * MiB))
    with stream.open("rb") as src:
        result = run_os_script("import", env, node, stdin=src.fileno())
    assert result.returncode != 0
    assert "smaller than the exported one" in result.stderr
    assert loops_of(small) == ""


def test_rename_updates_hostname_hosts_issue_and_facts(tmp_path: Path, node: Node, ssh_key: str) -> None:
    disk, env = created_disk(tmp_path, node, ssh_key)
    env = dict(env, INSTANCE_NAME=NEW, OLD_INSTANCE_NAME=OLD)
    result = run_os_script("rename", env, node)
    assert result.returncode == 0, result.stderr
    assert loops_of(disk) == ""
    assert mounts_mentioning(str(node.tmpdir), "p2v-target.") == []
    assert list(node.tmpdir.iterdir()) == []
    with inspect_disk(disk) as root:
        assert (root / "etc/hostname").read_text() == f"{NEW}\n"
        hosts = (root / "etc/hosts").read_text()
        assert f"127.0.1.1\t{NEW} db02" in hosts.splitlines()
        assert "web01" not in hosts
        issue = (root / "etc/issue").read_text()
        assert NEW in issue and OLD not in issue
        assert "p2v-target host key: 256 SHA256:" in issue
        facts = facts_from_json(json.loads((root / "etc/p2v-target/instance.json").read_text()))
        assert facts.name == NEW
        assert facts.disks[0].size == 1 * GiB


def test_rename_leaves_a_migrated_disk_alone(tmp_path: Path, node: Node) -> None:
    """After the migration partition 1 is the instance's own filesystem."""
    disk = sparse_file(tmp_path / "migrated.img", 64 * MiB)
    subprocess.run(["sfdisk", "-q", str(disk)], input=b"label: dos\nstart=1MiB, type=83\n", check=True)
    part = tmp_path / "part.img"
    sparse_file(part, 63 * MiB)
    subprocess.run(["mkfs.ext4", "-q", "-F", "-L", "rootfs", str(part)], check=True)
    subprocess.run(
        ["dd", f"if={part}", f"of={disk}", "bs=1M", "seek=1", "conv=notrunc,sparse", "status=none"],
        check=True,
    )
    before = sha256_file(disk)
    env = ganeti_env(NEW, [GDisk(disk, 64)], [])
    env["OLD_INSTANCE_NAME"] = OLD
    result = run_os_script("rename", env, node)
    assert result.returncode == 0, result.stderr
    assert "nothing to rename" in result.stderr
    assert sha256_file(disk) == before
    assert loops_of(disk) == ""


def test_partition_loop_fallback(tmp_path: Path, node: Node, ssh_key: str) -> None:
    """Devices that cannot hold partitions (LVM, DRBD) get a loop over partition 1's sectors."""
    disk, env = created_disk(tmp_path, node, ssh_key)
    probe = (
        f'. {OS_DIR / "common.sh"}; attach_disk "$DISK_0_PATH"; partition_loop "$BLOCKDEV" 1; '
        'case $ROOT_DEV in "$BLOCKDEV"*) exit 9;; esac; blkid -p -o value -s LABEL "$ROOT_DEV"'
    )
    full = dict(env, **node.overrides())
    result = subprocess.run(["bash", "-c", probe], env=full, capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "p2v-bootstrap"
    assert "using a loop device over its sectors" in result.stderr
    assert loops_of(disk) == ""


def test_reinstall_rewrites_the_disk(tmp_path: Path, node: Node, ssh_key: str) -> None:
    disk, env = created_disk(tmp_path, node, ssh_key)
    with inspect_disk(disk) as root:
        first = (root / "etc/ssh/ssh_host_ed25519_key.pub").read_text()
    result = run_os_script("create", dict(env, INSTANCE_REINSTALL="1"), node)
    assert result.returncode == 0, result.stderr
    with inspect_disk(disk) as root:
        assert (root / "etc/ssh/ssh_host_ed25519_key.pub").read_text() != first
        assert (root / "etc/hostname").read_text() == f"{OLD}\n"
    assert loops_of(disk) == ""
