"""A running server described from its reports (model/running.py): the
text an old Debian 7 with LVM, a bind mount, NFS and swap prints, and what
a lying or odd server prints instead."""

from __future__ import annotations

import pytest

from p2v_tui.model.running import (
    RunningReports,
    RunningSourceError,
    describe_running,
    devices_to_ask,
    links_to_resolve,
    local_mounts,
    parse_blocks,
    parse_proc_swaps,
    parse_statfs,
)

ROOT_UUID = "5f1c0f9e-3b7a-4c1e-9d2a-1a2b3c4d5e6f"
VAR_UUID = "9e8d7c6b-5a4f-4e3d-8c2b-1a0f9e8d7c6b"
BOOT_UUID = "0b6a4c1d-7e2f-4a3b-9c8d-2e1f0a9b8c7d"

# Debian 7 (wheezy): the root is mounted by its by-uuid link, rootfs shows too
MOUNTS = f"""\
rootfs / rootfs rw 0 0
sysfs /sys sysfs rw,nosuid,nodev,noexec,relatime 0 0
proc /proc proc rw,nosuid,nodev,noexec,relatime 0 0
udev /dev devtmpfs rw,relatime,size=10240k,nr_inodes=126413,mode=755 0 0
tmpfs /run tmpfs rw,nosuid,noexec,relatime,size=102524k,mode=755 0 0
/dev/disk/by-uuid/{ROOT_UUID} / ext4 rw,relatime,errors=remount-ro,user_xattr,barrier=1,data=ordered 0 0
/dev/sda1 /boot ext2 rw,relatime,errors=continue 0 0
/dev/mapper/vg0-var /var xfs rw,relatime,attr2,noquota 0 0
/dev/mapper/vg0-var /srv/www\\040data xfs rw,relatime,attr2,noquota 0 0
nas:/export/backup /mnt/backup nfs rw,vers=3,addr=192.0.2.9 0 0
"""
SWAPS = """\
Filename\t\t\t\tType\t\tSize\tUsed\tPriority
/dev/sda3                               partition\t1046524\t0\t-1
"""
BLOCKS = """\
disk sda 41943040 0
part sda1 sda 1 2048 497664
part sda2 sda 2 499712 39346176
part sda3 sda 3 39845888 2093056
disk dm-0 20971520 0
dm dm-0 vg0-var
slave dm-0 sda2
disk sr0 2097151 1
disk loop0 0 0
"""
LINKS = {f"/dev/disk/by-uuid/{ROOT_UUID}": "/dev/sda2"}


def _reports(**changed: object) -> RunningReports:
    base: dict[str, object] = dict(
        mounts=MOUNTS,
        swaps=SWAPS,
        blocks=BLOCKS,
        fstab=f"UUID={ROOT_UUID} / ext4 errors=remount-ro 0 1\n/dev/sda1 /boot ext2 defaults 0 2\n",
        hostname="oldweb\n",
        links=LINKS,
        signatures={
            "/dev/sda": "DEVNAME=/dev/sda\nPTTYPE=dos\n",
            "/dev/sda1": f"UUID={BOOT_UUID}\nTYPE=ext2\nPART_ENTRY_TYPE=0x83\nPART_ENTRY_NUMBER=1\n",
            "/dev/sda2": f"UUID={ROOT_UUID}\nTYPE=ext4\nPART_ENTRY_TYPE=0x83\n",
            "/dev/sda3": "UUID=3c2b1a09-8f7e-4d6c-b5a4-938271605f4e\nTYPE=swap\nPART_ENTRY_TYPE=0x82\n",
            "/dev/mapper/vg0-var": f"UUID={VAR_UUID}\nTYPE=xfs\n",
        },
        statfs={"/": "4096 2500000 1500000 655360 600000\n", "/boot": "1024 240000 200000 62000 61000\n",
                "/var": "4096 2600000 2000000 5000000 4990000\n"},
        details={
            "/dev/sda2": "Filesystem features:      has_journal ext_attr resize_inode dir_index filetype "
            "needs_recovery extent flex_bg sparse_super large_file huge_file uninit_bg dir_nlink\n"
            "Filesystem state:         clean\nBlock count:     4918272\nBlock size:     4096\n",
            "/dev/sda1": "Filesystem features:      ext_attr resize_inode dir_index filetype sparse_super\n"
            "Block count:              248832\nBlock size:               1024\n",
        },
    )  # fmt: skip
    base.update(changed)
    return RunningReports(**base)  # type: ignore[arg-type]


def test_an_old_server_is_described_as_the_live_probe_would() -> None:
    m = describe_running(_reports())
    assert [fs.mountpoint for fs in m.filesystems] == ["/", "/boot", "/var"]
    root, boot, var = m.filesystems
    assert (root.device, root.fstype, root.uuid) == ("/dev/sda2", "ext4", ROOT_UUID)
    assert root.used == (2500000 - 1500000) * 4096 and root.inodes_used == 55360
    assert root.size == 4918272 * 4096
    assert "needs_recovery" not in root.features and "extent" in root.features
    assert boot.size == 248832 * 1024 and var.device == "/dev/mapper/vg0-var" and var.features == ()
    assert [d.path for d in m.disks] == ["/dev/sda"]  # not the CD, not the empty loop, the dm's disk
    disk = m.disks[0]
    assert disk.table == "msdos" and disk.size == 41943040 * 512
    assert next((p.number, p.start, p.size, p.type_id) for p in disk.partitions) == (
        1,
        2048 * 512,
        497664 * 512,
        "83",
    )
    assert [(s.kind, s.path, s.size) for s in m.swaps] == [("partition", "/dev/sda3", 1046524 * 1024)]
    assert m.os.hostname == "oldweb" and [e.file for e in m.fstab] == ["/", "/boot"]


def test_pseudo_network_and_second_mounts_are_left_out() -> None:
    copied, left = local_mounts(MOUNTS, LINKS)
    assert [m.target for m in copied] == ["/", "/boot", "/var"]
    assert {m.target for m in left} == {"/", "/sys", "/proc", "/dev", "/run", "/srv/www data", "/mnt/backup"}


def test_links_are_resolved_first_and_the_right_devices_asked() -> None:
    assert links_to_resolve(MOUNTS) == [f"/dev/disk/by-uuid/{ROOT_UUID}"]
    asked = devices_to_ask(MOUNTS, SWAPS, BLOCKS, LINKS)
    assert asked == ["/dev/sda", "/dev/sda1", "/dev/sda2", "/dev/sda3", "/dev/mapper/vg0-var"]


def test_an_inactive_swap_partition_is_still_the_servers_swap() -> None:
    m = describe_running(_reports(swaps="Filename Type Size Used Priority\n"))
    assert [(s.kind, s.path) for s in m.swaps] == [("partition", "/dev/sda3")]


def test_a_swap_file_belongs_to_the_filesystem_holding_it() -> None:
    swaps = "Filename Type Size Used Priority\n/var/swapfile file 524284 0 -2\n"
    m = describe_running(_reports(swaps=swaps))
    assert [(s.kind, s.path, s.on_device) for s in m.swaps if s.kind == "file"] == [
        ("file", "/var/swapfile", "/dev/mapper/vg0-var")
    ]


@pytest.mark.parametrize(
    ("change", "said"),
    [
        ({"blocks": ""}, "lists no block device"),
        ({"blocks": "disk sda many 0\n"}, "expected a number"),
        ({"blocks": "disk ../../etc 10 0\n"}, "not a block device name"),
        ({"blocks": "hello world\n"}, "not understood"),
        ({"statfs": {"/": "4096 10 20 5 1\n"}}, "impossible numbers"),
        ({"statfs": {}}, "expected 5 numbers"),
        ({"swaps": "header\n/dev/sda3 weird 1 0 0\n"}, "/proc/swaps"),
        ({"mounts": "/dev/sda2 / btrfs rw 0 0\n"}, "btrfs"),
        ({"mounts": "tmpfs / tmpfs rw 0 0\n"}, "/ is not a local filesystem"),
        ({"signatures": {"/dev/sda2": "TYPE=xfs\n"}}, "/proc/mounts says ext4"),
        ({"details": {"/dev/sda2": "Block count: lots\n"}}, "not understood"),
    ],
)
def test_what_a_server_must_not_say_is_refused_by_name(change: dict[str, object], said: str) -> None:
    with pytest.raises(RunningSourceError, match=said):
        describe_running(_reports(**change))


def test_parsers_alone() -> None:
    assert parse_statfs("4096 10 4 100 90", "/").used == 6 * 4096
    assert parse_proc_swaps("Filename Type\n") == []
    assert parse_blocks(BLOCKS).disks_under("dm-0") == {"sda"}
