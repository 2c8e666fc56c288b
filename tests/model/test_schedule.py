from __future__ import annotations

from p2v_tui.model.plan import CopyJob, MountStep, Plan
from p2v_tui.model.schedule import copy_stages, side_mounts

SIDE = MountStep("/dev/vda5", "/run/p2v-target/vda5", "btrfs", "subvolid=5")
ROOT = MountStep("/dev/vda2", "/target", "ext4")
BOOT = MountStep("/dev/vda3", "/target/boot", "ext4")
VAR = MountStep("/dev/vda5", "/target/var", "btrfs", "subvol=@var")


def test_each_filesystem_is_copied_before_anything_is_mounted_on_it() -> None:
    jobs = (
        CopyJob("/dev/sda5", "/", "/run/p2v-target/vda5", None),
        CopyJob("/dev/sda5", "/@var", "/run/p2v-target/vda5/@var", "/var"),
        CopyJob("/dev/sda2", "/", "/target", "/"),
        CopyJob("/dev/sda6", "/", "/target/srv", "/srv"),  # merged into /
        CopyJob("/dev/sda3", "/", "/target/boot", "/boot"),
    )
    plan = Plan(disks=(), mounts=(SIDE, ROOT, BOOT, VAR), copies=jobs)
    assert side_mounts(plan) == (SIDE,)
    stages = copy_stages(plan)
    assert [(s.mount, [j.dest for j in s.jobs]) for s in stages] == [
        (None, ["/run/p2v-target/vda5", "/run/p2v-target/vda5/@var"]),
        (ROOT, ["/target", "/target/srv"]),
        (BOOT, ["/target/boot"]),
        (VAR, []),
    ]
    assert sorted(j.dest for s in stages for j in s.jobs) == sorted(j.dest for j in jobs)
