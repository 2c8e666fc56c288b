from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from p2v_tui.model.plan import CopyJob
from p2v_tui.model.rsync import (
    ProgressParser,
    RsyncName,
    RsyncProgress,
    parse_record,
    rsync_argv,
    sparse_argv,
)

DATA = Path(__file__).parent.parent / "data" / "rsync"
RECORDED = (DATA / "progress2-name1-local.out").read_text()


def records(chunks: list[str]) -> list[object]:
    parser = ProgressParser()
    out: list[object] = []
    for chunk in chunks:
        out += parser.feed(chunk)
    return out + parser.flush()


def test_recorded_output_parses_into_names_and_progress() -> None:
    recs = records([RECORDED])
    names = [r.name for r in recs if isinstance(r, RsyncName)]
    progress = [r for r in recs if isinstance(r, RsyncProgress)]
    assert "a/b/big" in names and "sparse" in names
    # unprintable bytes in names come back decoded (rsync prints \#012)
    assert "with space/new\nline" in names
    assert progress[0].bytes == 32768 and progress[0].percent == 0
    assert progress[-1].bytes == 180183294 and progress[-1].percent == 100
    assert progress[-1].files_total == 307 and progress[-1].files_left == 0
    byte_counts = [p.bytes for p in progress]
    assert byte_counts == sorted(byte_counts)


@given(st.lists(st.integers(min_value=1, max_value=200), min_size=1, max_size=400))
def test_any_chunking_gives_the_same_records(sizes: list[int]) -> None:
    chunks = []
    pos = 0
    for size in sizes:
        chunks.append(RECORDED[pos : pos + size])
        pos += size
    chunks.append(RECORDED[pos:])
    assert records(chunks) == records([RECORDED])


def test_progress_line_forms() -> None:
    assert parse_record(
        "    104,857,600  58%   40.00MB/s    0:00:02 (xfr#1, to-chk=305/307)"
    ) == RsyncProgress(104857600, 58, 307, 305)
    assert parse_record("     41,058,304  22%   39.12MB/s    0:00:03  ") == RsyncProgress(41058304, 22)
    assert parse_record("  1,000  1%  1.00kB/s  0:00:01 (xfr#2, ir-chk=1000/1020)") == RsyncProgress(
        1000, 1, 1020, 1000
    )
    assert parse_record("   ") is None
    assert parse_record("etc/fstab") == RsyncName("etc/fstab")


def test_argv_copies_everything_faithfully() -> None:
    job = CopyJob("/dev/sda5", "/", "/target/var", "/var", excludes=("/cache/apt/archives", "/tmp/*"))
    argv = rsync_argv(
        job, "/run/p2v/src/ro-x/", "root@203.0.113.2:/target/var", remote_shell=["ssh", "-p", "22"]
    )
    for flag in (
        "--archive",
        "--hard-links",
        "--acls",
        "--xattrs",
        "--numeric-ids",
        "--one-file-system",
        "--delete",
    ):
        assert flag in argv
    assert "--sparse" not in argv  # sparse files went first: see sparse_argv
    assert argv[argv.index("--rsh") + 1] == "ssh -p 22"
    assert "--exclude=/cache/apt/archives" in argv and "--exclude=/tmp/*" in argv
    # trailing slashes: copy the contents of the source into the destination
    assert argv[-2:] == ["/run/p2v/src/ro-x/", "root@203.0.113.2:/target/var/"]


def test_argv_local_has_no_remote_shell_and_optional_limit() -> None:
    job = CopyJob("/dev/sda1", "/", "/target", "/")
    argv = rsync_argv(job, "/src", "/tmp/t/target", remote_shell=None, bwlimit_kib=1024)
    assert "--rsh" not in argv and "--bwlimit=1024" in argv


def test_excluded_directories_stay_empty_files_go() -> None:
    job = CopyJob("/dev/sda1", "/", "/target", "/", excludes=("/var/cache/apt/archives", "/swapfile"),
                  keep_dirs=("/var/cache/apt/archives",))  # fmt: skip
    argv = rsync_argv(job, "/src", "/dst", remote_shell=None)
    rules = [a for a in argv if a.startswith(("--filter=+", "--filter=- /", "--exclude="))]
    # the directory is included before the exclusions, its contents are not
    assert rules == [
        "--filter=+ /var/cache/apt/archives/",
        "--filter=- /var/cache/apt/archives/**",
        "--exclude=/var/cache/apt/archives",
        "--exclude=/swapfile",
    ]


def test_excluded_directory_really_stays_empty(tmp_path: Path) -> None:
    """With the real rsync: a directory exclusion keeps the directory, a
    file exclusion drops the file."""
    if shutil.which("rsync") is None:
        pytest.skip("needs rsync")
    src = tmp_path / "src"
    (src / "cache/archives").mkdir(parents=True)
    (src / "cache/archives/big.deb").write_bytes(b"x" * 100)
    (src / "cache/archives/partial").mkdir()
    (src / "big.img").write_bytes(b"y")
    (src / "keep").write_bytes(b"z")
    job = CopyJob("/dev/x", "/", "/dst", "/", excludes=("/cache/archives", "/big.img"),
                  keep_dirs=("/cache/archives", "/big.img"))  # fmt: skip
    dst = tmp_path / "dst"
    argv = rsync_argv(job, str(src), str(dst), remote_shell=None)
    argv = [a for a in argv if not a.startswith(("--acls", "--xattrs", "--filter=-x"))]
    subprocess.run(argv, check=True, capture_output=True)
    assert (dst / "cache/archives").is_dir() and not any((dst / "cache/archives").iterdir())
    assert not (dst / "big.img").exists() and (dst / "keep").read_bytes() == b"z"


def test_sparse_pass_lists_files_and_excludes_what_is_inside_excluded_dirs() -> None:
    job = CopyJob(
        "/dev/sda5", "/", "/target/var", "/var", excludes=("/cache/apt",), keep_dirs=("/cache/apt",)
    )
    argv = sparse_argv(job, "/src", "/dst", "/tmp/list", remote_shell=None)
    assert "--sparse" in argv and "--files-from=/tmp/list" in argv and "--from0" in argv
    assert "--delete" not in argv and "--one-file-system" not in argv
    assert argv.count("--exclude=/cache/apt") == 1 and "--exclude=/cache/apt/**" in argv
