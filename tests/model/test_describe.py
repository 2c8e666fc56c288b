"""One phrasing of each fact: the console's description and the wizard's
lines say the same thing the same way."""

from __future__ import annotations

from p2v_tui.model.describe import boot_text, describe_machine, describe_plan, os_line, subvolume_line
from p2v_tui.model.machine import (
    Disk,
    Filesystem,
    LogicalVolume,
    Machine,
    MdArray,
    OsInfo,
    Partition,
    Subvolume,
    VolumeGroup,
)
from p2v_tui.model.plan import Plan
from p2v_tui.model.units import GiB, MiB


def machine() -> Machine:
    return Machine(
        disks=(
            Disk("/dev/sda", 20 * GiB, table="gpt", partitions=(Partition("/dev/sda2", 2, MiB, 10 * GiB),)),
        ),
        filesystems=(
            Filesystem(
                "/dev/vg0/root",
                "btrfs",
                size=5 * GiB,
                used=GiB,
                mountpoint="/",
                subvolumes=(Subvolume(256, "@", mountpoint="/"), Subvolume(257, "@snap", readonly=True)),
            ),
        ),
        volume_groups=(
            VolumeGroup(
                "vg0", 10 * GiB, ("/dev/sda2",), (LogicalVolume("vg0", "root", 5 * GiB, "/dev/vg0/root"),)
            ),
        ),
        md_arrays=(MdArray("/dev/md0", "raid1", ("/dev/sdb1", "/dev/sdc1")),),
    )


def test_the_console_description_uses_the_shared_lines() -> None:
    text = describe_machine(machine())
    assert "  LVM vg0 10.0 GiB on /dev/sda2\n" in text
    assert "    LV /dev/vg0/root 5.00 GiB\n" in text
    assert "  RAID /dev/md0 raid1 of /dev/sdb1, /dev/sdc1\n" in text
    assert "      subvolume @ at /\n" in text
    assert "      subvolume @snap (read-only)\n" in text


def test_a_machine_without_os_facts_has_no_os_line_and_a_missing_hostname_is_a_question_mark() -> None:
    assert os_line(machine()) is None
    m = Machine(os=OsInfo(pretty_name="Debian GNU/Linux 12 (bookworm)"))
    assert os_line(m) == "Debian GNU/Linux 12 (bookworm), hostname ?"


def test_a_subvolume_without_a_mount_point_says_only_its_path() -> None:
    assert subvolume_line(Subvolume(5, "")) == "subvolume <top>"


def test_boot_is_said_once_for_the_console_and_the_summary() -> None:
    own = Plan((), (), (), boot="own", bootloader_disk="/dev/vda")
    cluster = Plan((), (), (), boot="cluster")
    assert boot_text(own) == "its own kernel (GRUB on /dev/vda)"
    assert "Boot: the cluster's kernel\n" in describe_plan(cluster)
