"""Mapping the source's fstab entries to probed devices, on hand-built machines."""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import given
from hypothesis import strategies as st

from p2v_tui.model.fstab_devices import apply_fstab, kernel_name_position, resolve_spec, swap_file_paths
from p2v_tui.model.fstab_syntax import parse_fstab
from p2v_tui.model.machine import (
    Disk,
    Filesystem,
    LogicalVolume,
    Machine,
    MdArray,
    Partition,
    Subvolume,
    SwapArea,
    VolumeGroup,
)

GiB = 1024**3


def part(disk: str, n: int, **kw: object) -> Partition:
    return Partition(path=f"{disk}{n}", number=n, start=n * GiB, size=GiB, **kw)  # type: ignore[arg-type]


# The source's first disk is /dev/sdb here: the live USB stick took sda.
LIVE_USB = Disk(
    "/dev/sda", 8 * GiB, table="msdos", partitions=(part("/dev/sda", 1),), excluded="holds the live system"
)
SOURCE = Disk(
    "/dev/sdb",
    40 * GiB,
    table="gpt",
    partitions=(
        part("/dev/sdb", 1, flags=frozenset({"bios_grub"})),
        part("/dev/sdb", 2, name="boot", part_uuid="a1b2c3d4-0000-4000-8000-000000000002"),
        part("/dev/sdb", 3, part_uuid="a1b2c3d4-0000-4000-8000-000000000003"),
        part("/dev/sdb", 4),
        part("/dev/sdb", 5),
        part("/dev/sdb", 6),
    ),
)
ROOT = Filesystem("/dev/sdb3", "ext4", uuid="11111111-2222-3333-4444-555555555555", label="root")
BOOT = Filesystem("/dev/sdb2", "ext2", uuid="b00b0000-0000-0000-0000-000000000000", label="boot")
HOME = Filesystem("/dev/sdb4", "xfs", uuid="40000000-0000-0000-0000-000000000004", label="my home")
VAR = Filesystem(
    "/dev/sdb5",
    "btrfs",
    uuid="50000000-0000-0000-0000-000000000005",
    subvolumes=(Subvolume(256, "@var"), Subvolume(257, "@var/log"), Subvolume(258, "@snap", readonly=True)),
)
SWAP = SwapArea("partition", "/dev/sdb6", GiB, uuid="66666666-0000-0000-0000-000000000006", label="swap")

MACHINE = Machine(disks=(LIVE_USB, SOURCE), filesystems=(ROOT, BOOT, HOME, VAR), swaps=(SWAP,))


def with_fstab(machine: Machine, text: str) -> Machine:
    return dataclasses.replace(machine, fstab=parse_fstab(text))


def mountpoints(machine: Machine) -> dict[str, str | None]:
    return {fs.device: fs.mountpoint for fs in machine.filesystems}


@pytest.mark.parametrize(
    ("spec", "device"),
    [
        ("UUID=11111111-2222-3333-4444-555555555555", "/dev/sdb3"),
        ("UUID=11111111-2222-3333-4444-555555555555".upper(), "/dev/sdb3"),
        ('UUID="11111111-2222-3333-4444-555555555555"', "/dev/sdb3"),
        ("LABEL=boot", "/dev/sdb2"),
        ("LABEL=swap", "/dev/sdb6"),
        ("UUID=66666666-0000-0000-0000-000000000006", "/dev/sdb6"),
        ("PARTUUID=A1B2C3D4-0000-4000-8000-000000000003", "/dev/sdb3"),
        ("PARTLABEL=boot", "/dev/sdb2"),
        ("/dev/disk/by-uuid/40000000-0000-0000-0000-000000000004", "/dev/sdb4"),
        ("/dev/disk/by-label/my\\x20home", "/dev/sdb4"),
        ("/dev/disk/by-partuuid/a1b2c3d4-0000-4000-8000-000000000002", "/dev/sdb2"),
        ("/dev/sda3", "/dev/sdb3"),  # one source disk: by partition number
        ("/dev/vda3", "/dev/sdb3"),
        ("/dev/hda2", "/dev/sdb2"),
    ],
)
def test_resolve_spec(spec: str, device: str) -> None:
    resolved = resolve_spec(spec, MACHINE)
    assert resolved is not None
    assert resolved.device == device
    assert resolved.note == ""


@pytest.mark.parametrize(
    "spec",
    [
        "UUID=00000000-dead-beef-0000-000000000000",
        "LABEL=nothing",
        "/dev/sda9",  # no partition 9 on the source disk
        "/dev/disk/by-id/ata-SAMSUNG_123-part3",  # names hardware that is not here
        "/dev/root",
        "server:/export",
        "tmpfs",
    ],
)
def test_resolve_spec_unknown(spec: str) -> None:
    assert resolve_spec(spec, MACHINE) is None


def test_live_usb_partitions_are_never_matched() -> None:
    # LABEL of a filesystem only on the excluded disk: not a Filesystem of the machine.
    assert resolve_spec("PARTUUID=whatever-01", MACHINE) is None


FSTAB = """\
# /etc/fstab: static file system information.
UUID=11111111-2222-3333-4444-555555555555 /      ext4  errors=remount-ro 0 1
LABEL=boot                                /boot  ext2  defaults          0 2
/dev/sda4                                 /home  xfs   defaults          0 2
UUID=50000000-0000-0000-0000-000000000005 /var   btrfs subvol=@var       0 0
UUID=50000000-0000-0000-0000-000000000005 /var/log btrfs subvolid=257    0 0
UUID=66666666-0000-0000-0000-000000000006 none   swap  sw                0 0
/swapfile                                 none   swap  sw                0 0
proc                                      /proc  proc  defaults          0 0
tmpfs                                     /tmp   tmpfs defaults          0 0
/home/shared                              /srv/shared none bind          0 0
/dev/sr0                                  /media/cdrom0 udf,iso9660 user,noauto 0 0
UUID=77777777-0000-0000-0000-000000000007 /data  ext4  defaults          0 2
"""


def test_apply_fstab_sets_mountpoints() -> None:
    machine = apply_fstab(with_fstab(MACHINE, FSTAB), root_device="/dev/sdb3")
    assert mountpoints(machine) == {
        "/dev/sdb3": "/",
        "/dev/sdb2": "/boot",
        "/dev/sdb4": "/home",
        "/dev/sdb5": "/var",
    }
    var = machine.filesystems[3]
    assert [(sv.path, sv.mountpoint) for sv in var.subvolumes] == [
        ("@var", "/var"),
        ("@var/log", "/var/log"),
        ("@snap", None),
    ]
    assert machine.root() == dataclasses.replace(ROOT, mountpoint="/", notes=machine.filesystems[0].notes)


def test_apply_fstab_notes_only_entries_that_should_match() -> None:
    machine = apply_fstab(with_fstab(MACHINE, FSTAB), root_device="/dev/sdb3")
    root = machine.root()
    assert root is not None
    # /data's disk is missing; cdrom (noauto), proc, tmpfs and the bind mount are fine.
    assert root.notes == (
        "fstab entry UUID=77777777-0000-0000-0000-000000000007 for /data matches no probed device",
    )
    assert all(fs.notes == () for fs in machine.filesystems[1:])


def test_apply_fstab_swap_file_is_left_to_the_prober() -> None:
    assert swap_file_paths(parse_fstab(FSTAB)) == ("/swapfile",)
    machine = apply_fstab(with_fstab(MACHINE, FSTAB), root_device="/dev/sdb3")
    assert machine.swaps == (SWAP,)


def test_btrfs_without_subvol_option_mounts_the_default_subvolume() -> None:
    var = dataclasses.replace(VAR, default_subvolume=256)
    machine = dataclasses.replace(MACHINE, filesystems=(ROOT, var))
    fstab = (
        "LABEL=root / ext4 defaults 0 1\nUUID=50000000-0000-0000-0000-000000000005 /var btrfs defaults 0 0\n"
    )
    out = apply_fstab(with_fstab(machine, fstab), root_device="/dev/sdb3")
    assert out.filesystems[1].mountpoint == "/var"
    assert out.filesystems[1].subvolumes[0].mountpoint == "/var"


def test_btrfs_root_subvolume_and_shallowest_mountpoint() -> None:
    root = Filesystem(
        "/dev/sdb3", "btrfs", uuid="r", subvolumes=(Subvolume(256, "@"), Subvolume(257, "@home"))
    )
    machine = Machine(disks=(SOURCE,), filesystems=(root,))
    fstab = "UUID=r /home btrfs subvol=/@home 0 0\nUUID=r / btrfs subvol=@,compress=zstd 0 0\n"
    out = apply_fstab(with_fstab(machine, fstab), root_device="/dev/sdb3", root_subvolume=256)
    fs = out.filesystems[0]
    assert fs.mountpoint == "/"
    assert [(sv.path, sv.mountpoint) for sv in fs.subvolumes] == [("@", "/"), ("@home", "/home")]
    assert fs.notes == ()


def test_btrfs_missing_subvolume_is_noted() -> None:
    fstab = f"LABEL=root / ext4 defaults 0 1\nUUID={VAR.uuid} /x btrfs subvol=@gone 0 0\n"
    out = apply_fstab(with_fstab(MACHINE, fstab), root_device="/dev/sdb3")
    assert out.filesystems[3].notes == ("fstab mounts subvolume @gone, which does not exist",)


def test_root_entry_that_matches_nothing_falls_back_to_the_fstab_holder() -> None:
    fstab = "/dev/root / ext4 defaults 0 1\nLABEL=boot /boot ext2 defaults 0 2\n"
    out = apply_fstab(with_fstab(MACHINE, fstab), root_device="/dev/sdb3")
    root = out.root()
    assert root is not None and root.device == "/dev/sdb3"
    assert any("/dev/root" in n and "holds /etc/fstab" in n for n in root.notes)


def test_several_source_disks_map_kernel_names_by_order_and_say_so() -> None:
    second = Disk("/dev/sdc", 40 * GiB, table="msdos", partitions=(part("/dev/sdc", 1),))
    data = Filesystem("/dev/sdc1", "ext4", uuid="d")
    machine = Machine(disks=(LIVE_USB, SOURCE, second), filesystems=(ROOT, data))
    fstab = "/dev/sda3 / ext4 defaults 0 1\n/dev/sdb1 /data ext4 defaults 0 2\n"
    out = apply_fstab(with_fstab(machine, fstab), root_device="/dev/sdb3")
    assert mountpoints(out) == {"/dev/sdb3": "/", "/dev/sdc1": "/data"}
    # "sda" is anchored: the fstab naming / as /dev/sda3 lives on /dev/sdb3
    assert out.filesystems[0].notes == ()
    assert "taken to be /dev/sdc1" in out.filesystems[1].notes[0]


def test_kernel_names_of_disks_that_are_not_migrated_match_nothing() -> None:
    """/dev/sdc1 of an old fstab is not the single source disk's partition 1."""
    data = Filesystem("/dev/sdb1", "ext4", uuid="d")
    machine = Machine(disks=(LIVE_USB, SOURCE), filesystems=(ROOT, data))
    fstab = "/dev/sda3 / ext4 defaults 0 1\n/dev/sdc1 /backup ext4 defaults 0 2\n"
    out = apply_fstab(with_fstab(machine, fstab), root_device="/dev/sdb3")
    assert [fs.mountpoint for fs in out.filesystems] == ["/", None]
    assert "/dev/sdc1 for /backup matches no probed device" in out.filesystems[0].notes[0]


def test_same_uuid_twice_is_noted() -> None:
    clone = dataclasses.replace(HOME, device="/dev/sdb5", uuid=ROOT.uuid)
    machine = dataclasses.replace(MACHINE, filesystems=(ROOT, clone))
    out = apply_fstab(with_fstab(machine, f"UUID={ROOT.uuid} / ext4 defaults 0 1\n"), root_device="/dev/sdb3")
    assert out.filesystems[0].notes == (f"UUID={ROOT.uuid} matches 2 devices; /dev/sdb3 was taken",)


LVM_MACHINE = Machine(
    disks=(SOURCE,),
    filesystems=(BOOT, Filesystem("/dev/my-vg/root", "ext4", uuid="lvroot")),
    volume_groups=(
        VolumeGroup(
            "my-vg",
            30 * GiB,
            ("/dev/sdb3",),
            (
                LogicalVolume("my-vg", "root", 10 * GiB, "/dev/my-vg/root"),
                LogicalVolume("my-vg", "home", 10 * GiB, "/dev/my-vg/home"),
                LogicalVolume("my-vg", "swap_1", 2 * GiB, "/dev/my-vg/swap_1"),
            ),
        ),
    ),
)


def test_lvm_names() -> None:
    fstab = """\
/dev/mapper/my--vg-root /      ext4 defaults 0 1
/dev/my-vg/home         /home  ext4 defaults 0 2
/dev/mapper/my--vg-swap_1 none swap sw       0 0
LABEL=boot              /boot  ext2 defaults 0 2
"""
    out = apply_fstab(with_fstab(LVM_MACHINE, fstab), root_device="/dev/my-vg/root")
    assert mountpoints(out) == {"/dev/sdb2": "/boot", "/dev/my-vg/root": "/"}
    # The inactive home LV has no filesystem to carry /home: the user learns why.
    assert out.filesystems[1].notes == ("/home is on /dev/my-vg/home, not active here: not probed",)
    assert out.swaps == (SwapArea("partition", "/dev/my-vg/swap_1", 2 * GiB),)


def test_md_names() -> None:
    md = MdArray("/dev/md/0", "raid1", ("/dev/sdb3", "/dev/sdc3"), uuid="u", size=10 * GiB)
    machine = Machine(
        disks=(SOURCE,), filesystems=(Filesystem("/dev/md/0", "ext4", uuid="m"),), md_arrays=(md,)
    )
    for spec in ("/dev/md0", "/dev/md/0"):
        out = apply_fstab(with_fstab(machine, f"{spec} / ext4 defaults 0 1\n"), root_device="/dev/md/0")
        assert out.filesystems[0].mountpoint == "/"
        assert out.filesystems[0].notes == ()


def test_whole_disk_filesystem_by_kernel_name() -> None:
    bare = Disk("/dev/sdd", 10 * GiB, table=None)
    machine = Machine(disks=(bare,), filesystems=(Filesystem("/dev/sdd", "ext4", uuid="w"),))
    out = apply_fstab(with_fstab(machine, "/dev/sdb / ext4 defaults 0 1\n"), root_device="/dev/sdd")
    assert out.filesystems[0].mountpoint == "/"
    assert out.filesystems[0].notes == ()


@pytest.mark.parametrize(
    ("spec", "position"),
    [
        ("/dev/sda", (0, None)),
        ("/dev/sdb3", (1, 3)),
        ("/dev/sdz1", (25, 1)),
        ("/dev/sdaa1", (26, 1)),
        ("/dev/vda2", (0, 2)),
        ("/dev/xvdb1", (1, 1)),
        ("/dev/hdc5", (2, 5)),
        ("/dev/nvme0n1p2", (0, 2)),
        ("/dev/nvme1n1", (1, None)),
        ("/dev/mmcblk0p1", (0, 1)),
        ("/dev/cciss/c0d1p2", (1, 2)),
        ("/dev/loop0p1", None),
        ("/dev/mapper/vg-root", None),
        ("UUID=x", None),
    ],
)
def test_kernel_name_position(spec: str, position: tuple[int, int | None] | None) -> None:
    assert kernel_name_position(spec) == position


def _letters(index: int) -> str:
    out = ""
    index += 1
    while index:
        index, r = divmod(index - 1, 26)
        out = chr(ord("a") + r) + out
    return out


@given(st.integers(min_value=0, max_value=26**3), st.integers(min_value=1, max_value=128))
def test_kernel_name_position_inverts_kernel_naming(index: int, number: int) -> None:
    assert kernel_name_position(f"/dev/sd{_letters(index)}{number}") == (index, number)
