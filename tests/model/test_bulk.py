from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from p2v_tui.model.bulk import (
    classify,
    excluded,
    tar_create_argv,
    tar_extract_argv,
    tar_member,
    tar_progress,
)

DATA = Path(__file__).parent.parent / "data" / "rsync"


def test_classify_recorded_find_output() -> None:
    """Recorded ``find -printf FIND_FORMAT`` of: a 50 MiB file with 1 MiB of
    data and a hard link to it, a 20 MiB file of holes only, a 5 MiB file of
    written zeros (allocated: not sparse), a 12 MiB random file, a tiny file."""
    scan = classify((DATA / "find-scan.out").read_bytes())
    assert sorted(scan.sparse) == [b"a/sparse-link", b"a/sparse.img", b"ex/excluded-sparse"]
    assert scan.bulk == (b"a/large.bin",)


@pytest.mark.parametrize(
    ("record", "sparse", "bulk"),
    [
        (b"0\t65535\t1\tsmall-hole", False, False),  # rounding, not a hole
        (b"0\t65536\t1\tbig-hole", True, False),
        (b"16384\t8388608\t1\tlarge", False, True),
        (b"16384\t8388608\t2\tlarge-linked", False, False),  # hard links stay with rsync (-H)
        (b"16376\t8388607\t1\tjust-small", False, False),
    ],
)
def test_classify_rules(record: bytes, sparse: bool, bulk: bool) -> None:
    scan = classify(record + b"\0")
    assert bool(scan.sparse) is sparse and bool(scan.bulk) is bulk


@pytest.mark.parametrize(
    ("path", "patterns", "expected"),
    [
        ("var/cache/apt/archives/x.deb", ["/var/cache/apt/archives"], True),
        ("var/cache/apt/archives", ["/var/cache/apt/archives"], True),
        ("var/cache/apt/archives2/x", ["/var/cache/apt/archives"], False),
        ("home/alice/Downloads/big.iso", ["/home/*/Downloads"], True),
        ("home/alice/x/Downloads/big.iso", ["/home/*/Downloads"], False),
        ("srv/data/a/b/c", ["/srv/**"], True),
        ("srv", ["/srv/**"], False),
        ("data/file[1].img", ["/data/file\\[1\\].img"], True),
        ("data/file1.img", ["/data/file[0-9].img"], True),
        ("data/filex.img", ["/data/file[!x].img"], False),
        ("etc/fstab", ["/var"], False),
    ],
)
def test_excluded_like_rsync(path: str, patterns: list[str], expected: bool) -> None:
    assert excluded(path, patterns) is expected


def test_excluded_agrees_with_real_rsync(tmp_path: Path) -> None:
    """The matcher decides the tar pass; rsync decides the others: both must
    leave out the same files."""
    if shutil.which("rsync") is None:
        pytest.skip("needs rsync")
    names = ["var/cache/apt/archives/a.deb", "var/cache/apt/b", "home/al/Downloads/x", "home/al/keep",
             "srv/a/b/c", "data/file[1].img", "data/file2.img", "data/filex.img", "top"]  # fmt: skip
    patterns = [
        "/var/cache/apt/archives",
        "/home/*/Downloads",
        "/srv/**",
        "/data/file\\[1\\].img",
        "/data/file[0-9].img",
    ]
    src = tmp_path / "src"
    for name in names:
        (src / name).parent.mkdir(parents=True, exist_ok=True)
        (src / name).write_text(name)
    dst = tmp_path / "dst"
    subprocess.run(["rsync", "-a", *(f"--exclude={p}" for p in patterns), f"{src}/", f"{dst}/"], check=True)
    copied = {n for n in names if (dst / n).exists()}
    assert copied == {n for n in names if not excluded(n, patterns)}


def test_tar_argv_and_progress() -> None:
    create = tar_create_argv("/src", "/tmp/list")
    assert "--null" in create and "--files-from=/tmp/list" in create and "--no-recursion" in create
    assert "--xattrs-include=*" in create and "--format=posix" in create
    assert tar_extract_argv("/target/home")[:4] == [
        "tar",
        "--extract",
        "--file=-",
        "--directory=/target/home",
    ]
    assert tar_progress(b"tar: 10229760 (9.8MiB, 658MiB/s)\ntar: 20469760 (20MiB, 642MiB/s)\n") == 20469760
    assert tar_progress(b"tar: some warning\n") is None
    assert (
        tar_progress(b"tar: 10229760 (9.8MiB, 1GiB/s)\nTotal bytes written: 12595200 (13MiB, 1GiB/s)\n")
        == 12595200
    )


@pytest.mark.parametrize(
    ("line", "member"),
    [
        (b"img/backup.tar\n", "img/backup.tar"),
        (b"var/lib/mysql/ibdata1", "var/lib/mysql/ibdata1"),
        (b"tar: 10223616 (9.8MiB, 796MiB/s)\n", None),
        (b"tar: img/x: Cannot open: Permission denied\n", None),
        (b"Total bytes written: 21233664 (21MiB, 828MiB/s)\n", None),
        (b"\n", None),
    ],
)
def test_tar_member_names_from_the_index_lines(line: bytes, member: str | None) -> None:
    """Recorded from ``tar --create --verbose --index-file=/dev/stderr`` with checkpoints."""
    assert tar_member(line) == member
