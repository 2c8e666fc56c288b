"""What an earlier run left mounted on the target, and in which order it
is unmounted: read from a real bootstrap's /proc/self/mounts as a run whose
link was lost leaves it (the chroot's API filesystems mounted too)."""

from __future__ import annotations

import pytest

from p2v_tui.model.parsers import parse_proc_mounts
from p2v_tui.model.resume import leftover_mounts, on_disk

BOOTSTRAP = """\
none / tmpfs rw,relatime 0 0
proc /proc proc rw,nosuid,nodev,noexec,relatime 0 0
/dev/vda /etc/p2v-target ext4 ro,relatime 0 0
tmpfs /run tmpfs rw,nosuid,nodev,mode=755 0 0
p2v-lab-run /run/p2v-target tmpfs rw,relatime,mode=755 0 0
p2v-lab-target /target tmpfs rw,relatime,mode=755 0 0
"""

LEFT = """\
/dev/vdb4 /run/p2v-target/vdb4 btrfs rw,relatime,subvolid=5,subvol=/ 0 0
/dev/vdb2 /target ext4 rw,relatime 0 0
/dev/vdb1 /target/boot ext4 rw,relatime 0 0
/dev/vdb4 /target/var btrfs rw,relatime,subvolid=256,subvol=/@var 0 0
p2v-dev /target/dev tmpfs rw,relatime,size=16384k,mode=755 0 0
proc /target/proc proc rw,relatime 0 0
"""


@pytest.mark.parametrize(
    ("mounts", "disks", "left"),
    [
        # the bootstrap alone: its own tmpfs on /target and /run/p2v-target stay
        (BOOTSTRAP, ["/dev/vdb"], []),
        # a lost run's mounts, the last mounted first
        (
            BOOTSTRAP + LEFT,
            ["/dev/vdb"],
            ["/target/proc", "/target/dev", "/target/var", "/target/boot", "/target", "/run/p2v-target/vdb4"],
        ),
        # on /target itself only a filesystem of the instance's disks is p2v's
        ("/dev/vdc1 /target ext4 rw 0 0\n", ["/dev/vdb"], []),
        ("/dev/vdb1 /target ext4 rw 0 0\n", ["/dev/vdb"], ["/target"]),
        # below it everything is (p2v mounts nothing else there)
        ("/dev/sdz1 /target/home xfs rw 0 0\n", ["/dev/vdb"], ["/target/home"]),
        # a name that only starts like it is not below it
        ("/dev/vdb1 /targets ext4 rw 0 0\n/dev/vdb2 /run/p2v-target2 ext4 rw 0 0\n", ["/dev/vdb"], []),
    ],
)
def test_leftover_mounts(mounts: str, disks: list[str], left: list[str]) -> None:
    assert leftover_mounts(parse_proc_mounts(mounts), disks) == left


@pytest.mark.parametrize(
    ("device", "disk", "on"),
    [
        ("/dev/vdb", "/dev/vdb", True),
        ("/dev/vdb3", "/dev/vdb", True),
        ("/dev/vdba", "/dev/vdb", False),
        ("/dev/loop1p2", "/dev/loop1", True),
        ("/dev/loop10", "/dev/loop1", False),
        ("/dev/nvme0n1p1", "/dev/nvme0n1", True),
    ],
)
def test_on_disk(device: str, disk: str, on: bool) -> None:
    assert on_disk(device, disk) is on
