from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from p2v_tui.model.commands import (
    DeviceNode,
    chroot_dev_script,
    ext_feature_option,
    mkfs_argv,
    swapfile_script,
    udev_encode,
    xfs_options,
)
from p2v_tui.model.plan import PlannedPartition, SwapFilePlan
from p2v_tui.model.units import MiB

UUID = "5d2e8b71-43c9-4f0a-b1e6-9a7c3d5e8f02"
OLD_EXT3 = ("has_journal", "ext_attr", "resize_inode", "dir_index", "filetype", "sparse_super", "large_file")


def part(fstype: str, **kw: object) -> PlannedPartition:
    return PlannedPartition(0, 1, MiB, 512 * MiB, "filesystem", "/dev/vda1", fstype, "/", **kw)  # type: ignore[arg-type]


def test_ext_features_start_from_none_and_skip_state_flags() -> None:
    assert ext_feature_option((*OLD_EXT3, "needs_recovery")) == ["-O", "none," + ",".join(OLD_EXT3)]
    assert ext_feature_option(()) == []


def test_xfs_features_go_to_their_option_groups() -> None:
    opts = xfs_options(("crc=1", "finobt=1", "bigtime=0", "sparse=1", "ftype=1", "unknown=3", "rmapbt=0"))
    # reflink and inobtcount were not among the source's features: turned off
    assert opts == [
        "-m", "crc=1,finobt=1,bigtime=0,rmapbt=0,reflink=0,inobtcount=0", "-i", "sparse=1", "-n", "ftype=1"
    ]  # fmt: skip
    assert xfs_options(()) == []  # nothing known about the source: mkfs.xfs defaults


@pytest.mark.parametrize(
    ("p", "expected"),
    [
        (
            part("ext4", uuid=UUID, label="root", inodes=50000),
            ["mkfs.ext4", "-F", "-q", "-N", "50000", "-U", UUID, "-L", "root", "/dev/vda1"],
        ),
        (
            part("xfs", uuid=UUID, features=("crc=1", "bigtime=0")),
            [
                "mkfs.xfs",
                "-f",
                "-q",
                "-m",
                f"uuid={UUID},crc=1,bigtime=0,reflink=0,rmapbt=0,inobtcount=0",
                "/dev/vda1",
            ],
        ),
        (part("xfs", uuid=UUID), ["mkfs.xfs", "-f", "-q", "-m", f"uuid={UUID}", "/dev/vda1"]),
        (
            part("btrfs", uuid=UUID, label="data"),
            ["mkfs.btrfs", "-f", "-q", "-U", UUID, "-L", "data", "/dev/vda1"],
        ),
        (part("swap", uuid=UUID), ["mkswap", "-f", "-U", UUID, "/dev/vda1"]),
        (
            part("vfat", uuid="ABCD-1234", label="EFI"),
            ["mkfs.vfat", "-F", "32", "-i", "ABCD1234", "-n", "EFI", "/dev/vda1"],
        ),
    ],
)
def test_mkfs_argv(p: PlannedPartition, expected: list[str]) -> None:
    assert mkfs_argv(p) == expected


def test_unknown_filesystem_is_an_error() -> None:
    with pytest.raises(ValueError, match="reiserfs"):
        mkfs_argv(part("reiserfs"))


@pytest.fixture
def loopdev(tmp_path: Path) -> Iterator[str]:
    if os.geteuid() != 0:
        pytest.skip("needs root: loop devices")
    image = tmp_path / "fs.img"
    with image.open("wb") as f:
        f.truncate(400 * MiB)
    dev = subprocess.run(
        ["losetup", "-f", "--show", str(image)], check=True, capture_output=True, text=True
    ).stdout
    try:
        yield dev.strip()
    finally:
        subprocess.run(["losetup", "-d", dev.strip()], check=False)


def blkid(dev: str, tag: str) -> str:
    return subprocess.run(
        ["blkid", "-p", "-o", "value", "-s", tag, dev], capture_output=True, text=True
    ).stdout.strip()


@pytest.mark.root
def test_real_mke2fs_reproduces_an_old_ext3(loopdev: str) -> None:
    p = PlannedPartition(
        0,
        1,
        0,
        400 * MiB,
        "filesystem",
        loopdev,
        "ext3",
        "/",
        uuid=UUID,
        label="oldroot",
        features=(*OLD_EXT3, "inode_size=128"),
        inodes=70000,
    )
    subprocess.run(mkfs_argv(p), check=True, capture_output=True)
    header = subprocess.run(["dumpe2fs", "-h", loopdev], capture_output=True, text=True, check=True).stdout
    features = next(line for line in header.splitlines() if line.startswith("Filesystem features:"))
    assert sorted(features.split(":", 1)[1].split()) == sorted(OLD_EXT3)
    assert "Inode size:\t          128" in header
    inodes = int(next(line for line in header.splitlines() if line.startswith("Inode count:")).split()[-1])
    assert inodes >= 70000
    assert blkid(loopdev, "UUID") == UUID and blkid(loopdev, "LABEL") == "oldroot"


@pytest.mark.root
def test_real_mkfs_xfs_keeps_uuid_and_old_kernel_features(loopdev: str) -> None:
    if not shutil.which("mkfs.xfs"):
        pytest.skip("needs mkfs.xfs (xfsprogs)")
    p = PlannedPartition(
        0,
        1,
        0,
        400 * MiB,
        "filesystem",
        loopdev,
        "xfs",
        "/home",
        uuid=UUID,
        label="home",
        features=("crc=1", "finobt=1", "bigtime=0", "inobtcount=0", "reflink=0", "sparse=1"),
    )
    subprocess.run(mkfs_argv(p), check=True, capture_output=True)
    assert blkid(loopdev, "UUID") == UUID and blkid(loopdev, "LABEL") == "home"
    info = subprocess.run(["xfs_db", "-r", "-c", "version", loopdev], capture_output=True, text=True).stdout
    assert "BIGTIME" not in info and "INOBTCNT" not in info and "REFLINK" not in info and "FINOBT" in info


@pytest.mark.root
@pytest.mark.parametrize("fstype", ["btrfs", "swap"])
def test_real_mkfs_keeps_uuid(loopdev: str, fstype: str) -> None:
    p = PlannedPartition(0, 1, 0, 400 * MiB, "filesystem", loopdev, fstype, None, uuid=UUID, label="lbl")
    subprocess.run(mkfs_argv(p), check=True, capture_output=True)
    assert blkid(loopdev, "UUID") == UUID and blkid(loopdev, "TYPE") == fstype


@pytest.mark.root
def test_swapfile_script_makes_a_swap_file_without_holes(loopdev: str, tmp_path: Path) -> None:
    subprocess.run(["mkfs.ext4", "-q", loopdev], check=True)
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    subprocess.run(["mount", loopdev, str(mnt)], check=True)
    try:
        mtime_ns = 1_500_000_000_123_456_789
        argv = swapfile_script(SwapFilePlan("/swapfile", 64 * MiB, UUID, "", "ext4", mtime_ns))
        # the script addresses /target/...; run it with /target pointing at our mount
        script = argv[2].replace("/target/", f"{mnt}/")
        subprocess.run([argv[0], argv[1], script], check=True, capture_output=True)
        st = (mnt / "swapfile").stat()
        assert st.st_size == 64 * MiB and st.st_blocks * 512 >= 64 * MiB  # no holes
        assert oct(st.st_mode & 0o777) == "0o600"
        assert blkid(str(mnt / "swapfile"), "UUID") == UUID
        assert st.st_mtime_ns == mtime_ns  # the source's, as for every copied file
    finally:
        subprocess.run(["umount", str(mnt)], check=True)


def test_swapfile_script_stops_when_nocow_cannot_be_set(tmp_path: Path) -> None:
    """On btrfs a swap file must be NOCOW: if chattr fails, nothing else runs
    (no copy-on-write swap file that swapon would refuse)."""
    fake = tmp_path / "bin"
    fake.mkdir()
    (fake / "chattr").write_text("#!/bin/sh\nexit 1\n")
    (fake / "chattr").chmod(0o755)
    argv = swapfile_script(SwapFilePlan("/swapfile", 4 * MiB, UUID, "", "btrfs"))
    script = argv[2].replace("/target/", f"{tmp_path}/")
    env = {"PATH": f"{fake}:/usr/sbin:/usr/bin:/sbin:/bin"}
    result = subprocess.run([argv[0], argv[1], script], env=env, capture_output=True)
    assert result.returncode != 0
    assert (tmp_path / "swapfile").stat().st_size == 0  # neither fallocate nor dd ran


@pytest.mark.parametrize(
    ("label", "link"),
    [
        ("/boot", "\\x2fboot"),
        ("my home", "my\\x20home"),
        ("root-fs_1.x", "root-fs_1.x"),
        ("données", "données"),
    ],
)
def test_by_label_links_are_named_as_udev_names_them(label: str, link: str) -> None:
    assert udev_encode(label) == link
    script = chroot_dev_script("/target", [DeviceNode("vda2", 254, 2, uuid=UUID, label=label)])[2]
    assert f"/target/dev/disk/by-label/{link}" in script.replace("'", "")
