"""Read-only mounts of source filesystems (system/source_mounts.py), on loop devices."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest

from p2v_tui.system.runner import CommandError
from p2v_tui.system.source_mounts import readonly_mount
from tests.lab.disks import DiskSpec, MiB, PartSpec, image_sha256, loop_disk, require, run

pytestmark = [pytest.mark.root]


@pytest.mark.parametrize(
    ("fstype", "subvolid"), [("ext2", None), ("ext3", None), ("ext4", None), ("xfs", None), ("btrfs", 5)]
)
def test_readonly_mount_cannot_write_and_cleans_up(tmp_path: Path, fstype: str, subvolid: int | None) -> None:
    require(f"mkfs.{fstype}")
    spec = DiskSpec(320 * MiB, None, (PartSpec(None, fstype),))
    base = tmp_path / "mnt"
    with loop_disk(spec, tmp_path / "disk.img") as disk:
        run(["sync"])
        before = image_sha256(disk.image)
        with readonly_mount(disk.path, fstype, subvolid=subvolid, base=str(base)) as where:
            assert Path(where).parent == base
            with open("/proc/self/mounts", encoding="utf-8") as f:
                line = next(entry for entry in f if entry.split()[1] == where)
            assert line.split()[3].split(",")[0] == "ro"
            with pytest.raises(OSError) as info:
                (Path(where) / "new-file").write_text("x")
            assert info.value.errno == errno.EROFS
        assert not os.path.exists(where)
        with open("/proc/self/mounts", encoding="utf-8") as f:
            assert where not in f.read()
        run(["sync"])
        assert image_sha256(disk.image) == before


def test_readonly_mount_failure_leaves_no_directory(tmp_path: Path) -> None:
    require("mkfs.ext4")
    spec = DiskSpec(64 * MiB, None, (PartSpec(None, "ext4"),))
    base = tmp_path / "mnt"
    with (
        loop_disk(spec, tmp_path / "disk.img") as disk,
        pytest.raises(CommandError, match="wrong fs type"),
        readonly_mount(disk.path, "xfs", base=str(base)),
    ):
        pass  # pragma: no cover - the mount fails
    assert list(base.iterdir()) == []
