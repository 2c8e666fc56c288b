"""RsyncTransfer with the real rsync, locally (no SSH needed to check what
it writes): holes, allocated zeros, hard links, exclusions, progress."""

from __future__ import annotations

import os
import shutil
import threading
from pathlib import Path

import pytest

from p2v_tui.model.plan import CopyJob
from p2v_tui.system.transfer import Cancelled, RsyncTransfer, scan_files

MiB = 1024 * 1024
pytestmark = pytest.mark.skipif(shutil.which("rsync") is None, reason="needs rsync")


def make_tree(src: Path) -> None:
    (src / "img").mkdir(parents=True)
    with (src / "img/disk.raw").open("wb") as f:  # 40 MiB, 1 MiB of data at 10 MiB
        f.truncate(40 * MiB)
        f.seek(10 * MiB)
        f.write(os.urandom(MiB))
    os.link(src / "img/disk.raw", src / "img/disk-link.raw")
    (src / "img/zeros.bin").write_bytes(bytes(8 * MiB))  # written zeros: allocated, not sparse
    (src / "cache/archives").mkdir(parents=True)
    with (src / "cache/archives/held.img").open("wb") as f:  # sparse but excluded
        f.truncate(30 * MiB)
    (src / "etc").mkdir()
    (src / "etc/hostname").write_text("oldbox\n")
    big = src / "img/backup.tar"  # large, one link, no holes: streamed by tar
    big.write_bytes(os.urandom(12 * MiB))
    big.chmod(0o640)
    os.setxattr(big, "user.origin", b"oldbox")
    os.utime(big, ns=(1_600_000_000_123_456_789, 1_600_000_000_123_456_789))


def allocated(path: Path) -> int:
    return path.stat().st_blocks * 512


def test_sparse_files_keep_holes_and_allocated_files_stay_allocated(tmp_path: Path) -> None:
    src, root = tmp_path / "src", tmp_path / "root"
    make_tree(src)
    if allocated(src / "img/disk.raw") >= 40 * MiB:
        pytest.skip("this filesystem does not support sparse files")
    assert sorted(scan_files(str(src)).sparse) == [
        b"cache/archives/held.img",
        b"img/disk-link.raw",
        b"img/disk.raw",
    ]
    (root / "target").mkdir(parents=True)
    job = CopyJob(
        "/dev/x", "/", "/target", "/", excludes=("/cache/archives",), keep_dirs=("/cache/archives",)
    )
    seen: list[int] = []
    names: set[str] = set()

    def progress(done: int, pct: int | None, current: str) -> None:
        seen.append(done)
        names.add(current)

    result = RsyncTransfer(local_root=str(root)).copy(job, str(src), progress, threading.Event())
    dst = root / "target"
    assert allocated(dst / "img/disk.raw") <= 2 * MiB, "holes were filled"
    assert (dst / "img/disk.raw").read_bytes() == (src / "img/disk.raw").read_bytes()
    assert os.path.samefile(dst / "img/disk.raw", dst / "img/disk-link.raw")
    assert allocated(dst / "img/zeros.bin") >= 8 * MiB, "an allocated file became sparse"
    assert (dst / "cache/archives").is_dir() and not any((dst / "cache/archives").iterdir())
    assert (dst / "etc/hostname").read_text() == "oldbox\n"
    a, b = (src / "img/backup.tar").stat(), (dst / "img/backup.tar").stat()
    assert (dst / "img/backup.tar").read_bytes() == (src / "img/backup.tar").read_bytes()
    assert (a.st_mode, a.st_mtime_ns, a.st_uid) == (b.st_mode, b.st_mtime_ns, b.st_uid)
    assert os.getxattr(dst / "img/backup.tar", "user.origin") == b"oldbox"
    assert seen == sorted(seen) and result.bytes >= 60 * MiB
    assert {"img/backup.tar", "img/zeros.bin"} <= names  # the tar pass names its files too


def test_cancel_stops_rsync(tmp_path: Path) -> None:
    src, root = tmp_path / "src", tmp_path / "root"
    make_tree(src)
    (root / "target").mkdir(parents=True)
    cancel = threading.Event()
    cancel.set()
    with pytest.raises(Cancelled):
        RsyncTransfer(local_root=str(root), bwlimit_kib=64).copy(
            CopyJob("/dev/x", "/", "/target", "/"), str(src), lambda *a: None, cancel
        )
