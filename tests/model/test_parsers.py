"""Parsers of probe tool output, on output recorded from the real tools."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from p2v_tui.model.fstab_syntax import escape
from p2v_tui.model.machine import LogicalVolume
from p2v_tui.model.parsers import (
    md_array_from_detail,
    md_arrays_from_examine,
    parse_blkid_export,
    parse_btrfs_get_default,
    parse_btrfs_subvolume_list,
    parse_dumpe2fs_header,
    parse_lvm_report,
    parse_proc_mounts,
    parse_shell_assignments,
    parse_xfs_info,
    parse_xfs_log_state,
    partition_type_id,
    volume_groups_from_reports,
)
from p2v_tui.model.source_mount_options import can_mount_readonly, readonly_mount_options

DATA = Path(__file__).parent.parent / "data" / "probe"


def data(name: str) -> str:
    return (DATA / name).read_text()


# --- blkid --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("blkid-gpt-ext4.txt", {"TYPE": "ext4", "LABEL": "root",
                                "UUID": "0e1f2a3b-1111-2222-3333-444455556666",
                                "PART_ENTRY_NAME": "root", "PART_ENTRY_NUMBER": "3"}),
        ("blkid-gpt-bios-grub.txt", {"PART_ENTRY_TYPE": "21686148-6449-6e6f-744e-656564454649",
                                     "PART_ENTRY_NAME": "bios"}),
        ("blkid-gpt-esp-vfat.txt", {"TYPE": "vfat", "UUID": "27B5-7930", "LABEL": "ESP",
                                    "PART_ENTRY_TYPE": "c12a7328-f81f-11d2-ba4b-00a0c93ec93b"}),
        ("blkid-gpt-swap.txt", {"TYPE": "swap", "LABEL": "swp", "USAGE": "other"}),
        ("blkid-gpt-lvm2-member.txt", {"TYPE": "LVM2_member", "VERSION": "LVM2 001", "USAGE": "raid",
                                       "UUID": "Hpdh6t-p1WL-GpuQ-0ekf-60w9-3T5X-wGZuoE"}),
        ("blkid-gpt-disk.txt", {"PTTYPE": "gpt", "PTUUID": "1dd2a951-9b14-6944-a4bf-7c725ad8fcd0"}),
        ("blkid-msdos-ext4-bootable.txt", {"TYPE": "ext4", "PART_ENTRY_UUID": "546f28d3-01",
                                           "PART_ENTRY_TYPE": "0x83", "PART_ENTRY_FLAGS": "0x80"}),
        ("blkid-msdos-extended.txt", {"PTTYPE": "dos", "PART_ENTRY_TYPE": "0x5", "PART_ENTRY_NUMBER": "2"}),
        ("blkid-msdos-logical-xfs.txt", {"TYPE": "xfs", "LABEL": "xhome", "PART_ENTRY_NUMBER": "5"}),
        ("blkid-msdos-logical-swap.txt", {"TYPE": "swap", "PART_ENTRY_TYPE": "0x82"}),
        ("blkid-msdos-logical-ext3.txt", {"TYPE": "ext3", "SEC_TYPE": "ext2"}),
        ("blkid-btrfs-whole-disk.txt", {"TYPE": "btrfs", "LABEL": "bt",
                                        "UUID_SUB": "bd1aee21-7f75-4268-ba72-e3a4888d15af"}),
        ("blkid-ext4-label-with-space.txt", {"TYPE": "ext4", "LABEL": "my data"}),
    ],
)  # fmt: skip
def test_blkid_export(name: str, expected: dict[str, str]) -> None:
    values = parse_blkid_export(data(name))
    assert {k: values.get(k) for k in expected} == expected


def test_blkid_export_reads_only_the_first_device() -> None:
    text = data("blkid-gpt-ext4.txt") + "\n" + data("blkid-gpt-swap.txt")
    assert parse_blkid_export(text)["TYPE"] == "ext4"


def test_blkid_nothing_found_is_empty() -> None:
    assert parse_blkid_export("") == {}


@given(
    st.text(alphabet=st.characters(blacklist_categories=("Cs", "Cc")), min_size=1)
    | st.sampled_from(["a\u2028b", "x\x85", " lead", "trail "])
)
def test_blkid_unescapes_what_blkid_escapes(label: str) -> None:
    # blkid export puts a backslash before shell-special characters.
    escaped = "".join("\\" + c if c in " \\\"'$`<>" else c for c in label)
    assert parse_blkid_export(f"DEVNAME=/dev/x\nLABEL={escaped}\n")["LABEL"] == label


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("0x83", "83"),
        ("0x5", "05"),
        ("0xef", "EF"),
        ("0x8e", "8E"),
        ("c12a7328-f81f-11d2-ba4b-00a0c93ec93b", "C12A7328-F81F-11D2-BA4B-00A0C93EC93B"),
    ],
)
def test_partition_type_id(raw: str, expected: str) -> None:
    assert partition_type_id(raw) == expected


# --- ext ----------------------------------------------------------------------


def test_dumpe2fs_clean_ext4() -> None:
    info = parse_dumpe2fs_header(data("dumpe2fs-ext4-clean.txt"))
    assert info.features == (
        "has_journal", "ext_attr", "resize_inode", "dir_index", "filetype", "extent", "64bit",
        "flex_bg", "sparse_super", "large_file", "huge_file", "dir_nlink", "extra_isize", "metadata_csum",
    )  # fmt: skip
    assert info.state == "clean"
    assert info.cleanly_unmounted
    assert (info.block_size, info.block_count, info.size) == (1024, 102400, 100 * 1024 * 1024)
    assert (info.label, info.uuid) == ("broot", "1ed4d8c6-5cc6-40f9-86b9-a3fe97325eb9")


def test_dumpe2fs_needs_recovery_is_not_clean() -> None:
    info = parse_dumpe2fs_header(data("dumpe2fs-ext4-needs-recovery.txt"))
    assert "needs_recovery" in info.features
    assert info.state == "clean"  # ext4 says clean while mounted; the journal tells
    assert not info.cleanly_unmounted


def test_dumpe2fs_ext2_not_clean() -> None:
    info = parse_dumpe2fs_header(data("dumpe2fs-ext2-not-clean.txt"))
    assert info.state == "not clean"
    assert not info.cleanly_unmounted
    assert "has_journal" not in info.features
    assert info.label == "old"


def test_dumpe2fs_ext3_without_label() -> None:
    info = parse_dumpe2fs_header(data("dumpe2fs-ext3.txt"))
    assert info.features == (
        "has_journal", "ext_attr", "resize_inode", "dir_index", "filetype", "sparse_super", "large_file",
    )  # fmt: skip
    assert info.label == ""
    assert info.cleanly_unmounted


# --- xfs ----------------------------------------------------------------------


def test_xfs_info_recorded() -> None:
    info = parse_xfs_info(data("xfs_info.txt"))
    assert info.features == (
        "crc=1", "finobt=1", "sparse=1", "rmapbt=0", "reflink=1", "bigtime=1", "inobtcount=1", "nrext64=0",
    )  # fmt: skip
    assert (info.block_size, info.data_blocks) == (4096, 79360)
    assert info.size == 79360 * 4096


# xfsprogs 4.x layout (CentOS 7), written from its documented format.
XFS_INFO_V4 = """\
meta-data=/dev/sda2              isize=256    agcount=4, agsize=655296 blks
         =                       sectsz=512   attr=2, projid32bit=1
         =                       crc=0        finobt=0 spinodes=0
data     =                       bsize=4096   blocks=2621184, imaxpct=25
         =                       sunit=0      swidth=0 blks
naming   =version 2              bsize=4096   ascii-ci=0 ftype=0
log      =internal               bsize=4096   blocks=2560, version=2
         =                       sectsz=512   sunit=0 blks, lazy-count=1
realtime =none                   extsz=4096   blocks=0, rtextents=0
"""


def test_xfs_info_of_an_error_message() -> None:
    info = parse_xfs_info("xfs_info: /mnt/x is not a mounted XFS filesystem\n")
    assert (info.features, info.size) == ((), 0)


def test_xfs_info_old_format_maps_spinodes_to_sparse() -> None:
    info = parse_xfs_info(XFS_INFO_V4)
    assert info.features == ("crc=0", "finobt=0", "sparse=0")
    assert info.size == 2621184 * 4096


@pytest.mark.parametrize(
    ("name", "state"), [("xfs_logprint-clean.txt", "clean"), ("xfs_logprint-dirty.txt", "dirty")]
)
def test_xfs_log_state(name: str, state: str) -> None:
    assert parse_xfs_log_state(data(name)) == state


def test_xfs_log_state_unknown() -> None:
    assert parse_xfs_log_state("xfs_logprint: /dev/sda1 contains a mounted filesystem\n") == ""


# --- btrfs --------------------------------------------------------------------


def test_btrfs_subvolume_list_with_fs_tree_prefix() -> None:
    rows = parse_btrfs_subvolume_list(data("btrfs-subvolume-list.txt"))
    assert [(r.id, r.parent, r.top_level, r.path) for r in rows] == [
        (256, 5, 5, "@"),
        (257, 5, 5, "@home"),
        (258, 256, 256, "@/var/log"),
        (259, 5, 5, "@snap-ro"),
    ]


def test_btrfs_subvolume_list_readonly() -> None:
    rows = parse_btrfs_subvolume_list(data("btrfs-subvolume-list-readonly.txt"))
    assert [(r.id, r.path) for r in rows] == [(259, "@snap-ro")]


def test_btrfs_subvolume_list_plain_and_path_with_spaces() -> None:
    text = "ID 256 gen 10 top level 5 path @\nID 300 gen 12 top level 5 path my snapshots/2024 01\n"
    rows = parse_btrfs_subvolume_list(text)
    assert [(r.id, r.parent, r.path) for r in rows] == [(256, None, "@"), (300, None, "my snapshots/2024 01")]


@pytest.mark.parametrize(
    ("name", "expected"), [("btrfs-get-default.txt", 256), ("btrfs-get-default-top-level.txt", 5)]
)
def test_btrfs_get_default(name: str, expected: int) -> None:
    assert parse_btrfs_get_default(data(name)) == expected


def test_btrfs_get_default_rejects_garbage() -> None:
    with pytest.raises(ValueError, match="get-default"):
        parse_btrfs_get_default("ERROR: not a btrfs filesystem")


# --- /proc/mounts ---------------------------------------------------------------


def test_proc_mounts_recorded() -> None:
    entries = parse_proc_mounts(data("proc-mounts.txt"))
    by_target = {e.target: e for e in entries}
    ext4 = by_target["/run/p2v-rec/probe-x/ro-a"]
    assert (ext4.source, ext4.fstype) == ("/dev/loop3p1", "ext4")
    assert "norecovery" in ext4.options.split(",")  # how the kernel shows noload
    xfs = by_target["/run/p2v-rec/probe-x/ro b"]
    assert xfs.options.startswith("ro,")
    btrfs = by_target["/run/p2v-rec/probe-x/ro-c"]
    assert "subvolid=5" in btrfs.options.split(",")


def test_proc_mounts_live_medium() -> None:
    entries = parse_proc_mounts(data("proc-mounts-live.txt"))
    medium = next(e for e in entries if e.target == "/run/live/medium")
    assert (medium.source, medium.fstype) == ("/dev/sdc1", "iso9660")


@given(
    st.text(alphabet=st.characters(blacklist_categories=("Cs", "Cc")), min_size=1).filter(lambda s: s.strip())
)
def test_proc_mounts_unescapes_targets(name: str) -> None:
    line = f"/dev/sda1 /mnt/{escape(name)} ext4 ro 0 0\n"
    assert parse_proc_mounts(line)[0].target == f"/mnt/{name}"


# --- shell assignment files -----------------------------------------------------

DEBIAN_OS_RELEASE = """\
PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"
NAME="Debian GNU/Linux"
VERSION_ID="12"
VERSION="12 (bookworm)"
VERSION_CODENAME=bookworm
ID=debian
HOME_URL="https://www.debian.org/"
"""

ROCKY_OS_RELEASE = """\
NAME="Rocky Linux"
VERSION="9.3 (Blue Onyx)"
ID="rocky"
ID_LIKE="rhel centos fedora"
VERSION_ID="9.3"
PRETTY_NAME="Rocky Linux 9.3 (Blue Onyx)"
"""


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (DEBIAN_OS_RELEASE, {"ID": "debian", "VERSION_ID": "12",
                             "PRETTY_NAME": "Debian GNU/Linux 12 (bookworm)"}),
        (ROCKY_OS_RELEASE, {"ID": "rocky", "ID_LIKE": "rhel centos fedora", "VERSION_ID": "9.3"}),
        ("NETWORKING=yes\nHOSTNAME=legacy.example.org\n", {"HOSTNAME": "legacy.example.org"}),
        ("# comment\nexport A='x y'\nB=\"q\\\"uote\"\nC=plain # trailing\n",
         {"A": "x y", "B": 'q"uote', "C": "plain"}),
        ("BROKEN=\"unterminated\n", {"BROKEN": "unterminated"}),
        ("not an assignment\n1X=no\n", {}),
    ],
)  # fmt: skip
def test_shell_assignments(text: str, expected: dict[str, str]) -> None:
    values = parse_shell_assignments(text)
    assert {k: values.get(k) for k in expected} == expected
    if not expected:
        assert values == {}


# --- LVM --------------------------------------------------------------------------


def test_lvm_reports_recorded() -> None:
    pvs = parse_lvm_report(data("pvs.json"), "pv")
    vgs = parse_lvm_report(data("vgs.json"), "vg")
    lvs = parse_lvm_report(data("lvs.json"), "lv")
    assert [p["pv_name"] for p in pvs] == ["/dev/loop0p5", "/dev/loop5", "/dev/loop6"]
    groups = volume_groups_from_reports(pvs, vgs, lvs)
    assert len(groups) == 1
    vg = groups[0]
    assert (vg.name, vg.size, vg.pvs) == ("vgtest", 155189248, ("/dev/loop0p5", "/dev/loop5"))
    assert vg.lvs == (
        LogicalVolume(vg="vgtest", name="home", size=20971520, path="/dev/vgtest/home"),
        LogicalVolume(vg="vgtest", name="root", size=41943040, path="/dev/vgtest/root"),
    )


def test_lvm_report_of_nothing() -> None:
    assert parse_lvm_report('{"report": [{"vg": []}]}', "vg") == []


def test_lvm_report_rejects_non_json() -> None:
    with pytest.raises(json.JSONDecodeError):
        parse_lvm_report("  No volume groups found\n", "vg")


# --- md ---------------------------------------------------------------------------


def test_mdadm_examine_groups_members_of_one_array() -> None:
    (array,) = md_arrays_from_examine(data("mdadm-examine-raid1-1.2.txt"))
    assert array.device == "/dev/md/0"
    assert array.level == "raid1"
    assert array.members == ("/dev/sda2", "/dev/sdb2")
    assert array.uuid == "7c2b9e40:1f6a3d25:98e1c0b7:4a5d6e3f"
    assert array.size == 20953088 * 1024


def test_mdadm_examine_090_superblock() -> None:
    (array,) = md_arrays_from_examine(data("mdadm-examine-raid1-0.90.txt"))
    assert (array.device, array.level, array.members) == ("/dev/md0", "raid1", ("/dev/sda1",))
    assert array.size == 524224 * 1024


def test_mdadm_examine_of_two_arrays() -> None:
    text = data("mdadm-examine-raid1-1.2.txt") + data("mdadm-examine-raid1-0.90.txt")
    arrays = md_arrays_from_examine(text)
    assert [a.device for a in arrays] == ["/dev/md/0", "/dev/md0"]


def test_mdadm_detail() -> None:
    array = md_array_from_detail(data("mdadm-detail-raid1.txt"))
    assert array is not None
    assert array.device == "/dev/md127"
    assert array.members == ("/dev/sdc2", "/dev/sdd2")
    assert array.uuid == "7c2b9e40:1f6a3d25:98e1c0b7:4a5d6e3f"
    assert array.size == 20953088 * 1024


def test_mdadm_detail_of_nothing() -> None:
    assert md_array_from_detail("") is None


# --- read-only mount options -------------------------------------------------------


@pytest.mark.parametrize(
    ("fstype", "subvolid", "expected"),
    [
        ("ext2", None, "ro"),
        ("ext3", None, "ro,noload"),
        ("ext4", None, "ro,noload"),
        ("xfs", None, "ro,norecovery,nouuid"),
        ("btrfs", None, "ro,rescue=nologreplay"),
        ("btrfs", 5, "ro,rescue=nologreplay,subvolid=5"),
        ("vfat", None, "ro"),
    ],
)
def test_readonly_mount_options(fstype: str, subvolid: int | None, expected: str) -> None:
    assert readonly_mount_options(fstype, subvolid=subvolid) == expected
    assert "ro" in expected.split(",")


@pytest.mark.parametrize(("fstype", "subvolid"), [("ntfs", None), ("crypto_LUKS", None), ("ext4", 5)])
def test_readonly_mount_options_refuses(fstype: str, subvolid: int | None) -> None:
    with pytest.raises(ValueError, match=fstype):
        readonly_mount_options(fstype, subvolid=subvolid)


def test_can_mount_readonly() -> None:
    assert can_mount_readonly("xfs")
    assert not can_mount_readonly("swap")
