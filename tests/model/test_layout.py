"""The layout planner on hand-computed cases.

Sizes in the tables are MiB. Floors are worked out in the comments from the
overhead table in p2v_tui/model/layout_sizes.py (ext*: 16 MiB + journal +
6 % + inode tables of S/64; xfs: log + 2 %, >= 300 MiB; btrfs: 256 MiB + 5 %).
"""

from __future__ import annotations

import dataclasses

import pytest

from p2v_tui.model.layout import filesystem_floor, partition_device, plan_layout
from p2v_tui.model.layout_copy import locate
from p2v_tui.model.layout_sizes import share_space
from p2v_tui.model.machine import (
    Disk,
    Filesystem,
    LogicalVolume,
    Machine,
    Partition,
    Subvolume,
    SwapArea,
    VolumeGroup,
)
from p2v_tui.model.plan import (
    CopyJob,
    LayoutChoices,
    LayoutError,
    LayoutRequest,
    MountStep,
    Plan,
)
from p2v_tui.model.target import TargetDisk
from p2v_tui.model.units import GiB, MiB, TiB


def part(path: str, number: int, size: int) -> Partition:
    return Partition(path=path, number=number, start=0, size=size)


def fs(
    device: str, mountpoint: str, fstype: str = "ext4", *, size: int, used: int, **kw: object
) -> Filesystem:
    return Filesystem(
        device=device,
        fstype=fstype,
        size=size,
        used=used,
        mountpoint=mountpoint,
        uuid=kw.pop("uuid", f"uuid-{device.rsplit('/', 1)[-1]}"),  # type: ignore[arg-type]
        **kw,  # type: ignore[arg-type]
    )


def rows(plan: Plan) -> dict[str, list[tuple[int, int, int, str, str | None]]]:
    """disk path -> (number, start MiB, size MiB, role, mount point)."""
    return {
        d.disk.path: [
            (p.number, p.start // MiB, p.size // MiB, p.role, p.mountpoint or p.fstype) for p in d.partitions
        ]
        for d in plan.disks
    }


# --- machines --------------------------------------------------------------

# msdos, / of 95 GiB with 10 GiB used, 4 GiB swap in a logical partition.
# / floor: 12 GiB data; S = (12288 + 16 + 64 journal) / (1 - 0.06 - 1/64) = 13379.9 -> 13380 MiB.
MSDOS_ROOT_SWAP = Machine(
    disks=(
        Disk(
            "/dev/sda",
            100 * GiB,
            table="msdos",
            partitions=(part("/dev/sda1", 1, 95 * GiB), part("/dev/sda5", 5, 4 * GiB)),
        ),
    ),
    filesystems=(fs("/dev/sda1", "/", size=95 * GiB, used=10 * GiB),),
    swaps=(SwapArea("partition", "/dev/sda5", 4 * GiB, uuid="uuid-swap", label="swap"),),
)
ROOT_FLOOR = 13380

# gpt with BIOS boot; 50 GiB of filesystems; /var is btrfs with subvolumes.
BTRFS_VAR = Filesystem(
    "/dev/sda5",
    "btrfs",
    uuid="uuid-var",
    size=10 * GiB,
    used=3 * GiB,
    mountpoint="/var",
    subvolumes=(
        Subvolume(256, "@var", mountpoint="/var"),
        Subvolume(257, "@var-log", mountpoint="/var/log"),
        Subvolume(258, "@var/lib/machines"),
        Subvolume(259, "snapshots/1", readonly=True),
    ),
    default_subvolume=256,
)
GPT_MIXED = Machine(
    disks=(
        Disk(
            "/dev/sda",
            51 * GiB,
            table="gpt",
            partitions=(
                part("/dev/sda1", 1, MiB),
                part("/dev/sda2", 2, 1 * GiB),
                part("/dev/sda3", 3, 20 * GiB),
                part("/dev/sda4", 4, 19 * GiB),
                part("/dev/sda5", 5, 10 * GiB),
            ),
        ),
    ),
    filesystems=(
        fs("/dev/sda2", "/boot", size=1 * GiB, used=100 * MiB, features=("has_journal", "^metadata_csum")),
        fs("/dev/sda3", "/", size=20 * GiB, used=5 * GiB, label="root"),
        fs("/dev/sda4", "/home", "xfs", size=19 * GiB, used=4 * GiB),
        BTRFS_VAR,
    ),
)

# /boot, / and swap on gpt (for cluster boot).
BOOT_ROOT_SWAP = Machine(
    disks=(
        Disk(
            "/dev/sda",
            12 * GiB,
            table="gpt",
            partitions=(
                part("/dev/sda1", 1, 1 * GiB),
                part("/dev/sda2", 2, 9 * GiB),
                part("/dev/sda3", 3, 1 * GiB),
            ),
        ),
    ),
    filesystems=(
        fs("/dev/sda1", "/boot", size=1 * GiB, used=100 * MiB),
        fs("/dev/sda2", "/", size=9 * GiB, used=2 * GiB),
    ),
    swaps=(SwapArea("partition", "/dev/sda3", 1 * GiB),),
)

# msdos with five filesystems and swap: six partitions.
SIX = Machine(
    disks=(
        Disk(
            "/dev/sda",
            6 * GiB,
            table="msdos",
            partitions=tuple(part(f"/dev/sda{n}", n, 1 * GiB) for n in (1, 2, 3, 5, 6, 7)),
        ),
    ),
    filesystems=tuple(
        fs(f"/dev/sda{n}", mp, size=1 * GiB, used=100 * MiB)
        for n, mp in ((1, "/"), (2, "/boot"), (3, "/home"), (5, "/var"), (6, "/srv"))
    ),
    swaps=(SwapArea("partition", "/dev/sda7", 512 * MiB),),
)

# Two source disks: / and swap on sda (gpt), /srv on sdb (msdos).
TWO_DISKS = Machine(
    disks=(
        Disk(
            "/dev/sda",
            30 * GiB,
            table="gpt",
            partitions=(part("/dev/sda1", 1, 20 * GiB), part("/dev/sda2", 2, 2 * GiB)),
        ),
        Disk("/dev/sdb", 60 * GiB, table="msdos", partitions=(part("/dev/sdb1", 1, 50 * GiB),)),
    ),
    filesystems=(
        fs("/dev/sda1", "/", size=20 * GiB, used=2 * GiB),
        fs("/dev/sdb1", "/srv", size=50 * GiB, used=10 * GiB),
    ),
    swaps=(SwapArea("partition", "/dev/sda2", 2 * GiB),),
)

# / and four more filesystems on gpt, for explicit layouts.
MANY = Machine(
    disks=(
        Disk(
            "/dev/sda",
            100 * GiB,
            table="gpt",
            partitions=tuple(part(f"/dev/sda{n}", n, 10 * GiB) for n in range(1, 7)),
        ),
    ),
    filesystems=(
        fs("/dev/sda1", "/", size=20 * GiB, used=5 * GiB),
        fs("/dev/sda2", "/var", size=10 * GiB, used=2 * GiB),
        fs("/dev/sda3", "/home", "xfs", size=50 * GiB, used=1 * GiB),
        fs("/dev/sda4", "/srv", size=10 * GiB, used=500 * MiB),
        fs("/dev/sda5", "/opt", size=5 * GiB, used=1 * GiB),
    ),
    swaps=(SwapArea("partition", "/dev/sda6", 1 * GiB, uuid="uuid-swap"),),
)


def vda(size: int, index: int = 0, path: str = "/dev/vda") -> TargetDisk:
    return TargetDisk(index=index, path=path, size=size)


# --- the layout table ------------------------------------------------------

LAYOUTS = [
    pytest.param(
        # Root shrinks from 95 GiB; swap kept; msdos ends at the last MiB (20480).
        MSDOS_ROOT_SWAP,
        [vda(20 * GiB)],
        LayoutChoices(),
        {"/dev/vda": [(1, 1, 16383, "filesystem", "/"), (2, 16384, 4096, "swap", "swap")]},
        id="msdos-shrink-root-keep-swap",
    ),
    pytest.param(
        # Capacity 100 GiB + 2 MiB (usable end) - 1 MiB (start) - 1 MiB (bios_grub) = 100 GiB:
        # every filesystem doubles its 50 GiB source share exactly.
        GPT_MIXED,
        [vda(100 * GiB + 3 * MiB)],
        LayoutChoices(),
        {
            "/dev/vda": [
                (1, 1, 1, "bios_grub", None),
                (2, 2, 40960, "filesystem", "/"),
                (3, 40962, 2048, "filesystem", "/boot"),
                (4, 43010, 38912, "filesystem", "/home"),
                (5, 81922, 20480, "filesystem", "/var"),
            ]
        },
        id="gpt-grow-proportional",
    ),
    pytest.param(
        # Room for the root floor and 1 GiB: swap auto shrinks 4 GiB -> 1 GiB.
        MSDOS_ROOT_SWAP,
        [vda((ROOT_FLOOR + 1024 + 1) * MiB)],
        LayoutChoices(swap="auto"),
        {"/dev/vda": [(1, 1, ROOT_FLOOR, "filesystem", "/"), (2, ROOT_FLOOR + 1, 1024, "swap", "swap")]},
        id="swap-auto-shrinks",
    ),
    pytest.param(
        # Room for the root floor and 100 MiB: less than 256 MiB of swap, so dropped.
        MSDOS_ROOT_SWAP,
        [vda((ROOT_FLOOR + 100 + 1) * MiB)],
        LayoutChoices(swap="auto"),
        {"/dev/vda": [(1, 1, ROOT_FLOOR + 100, "filesystem", "/")]},
        id="swap-auto-drops",
    ),
    pytest.param(
        MSDOS_ROOT_SWAP,
        [vda(20 * GiB)],
        LayoutChoices(swap=2 * GiB),
        {"/dev/vda": [(1, 1, 18431, "filesystem", "/"), (2, 18432, 2048, "swap", "swap")]},
        id="swap-given-size",
    ),
    pytest.param(
        MSDOS_ROOT_SWAP,
        [vda(20 * GiB)],
        LayoutChoices(swap="drop"),
        {"/dev/vda": [(1, 1, 20479, "filesystem", "/")]},
        id="swap-dropped",
    ),
    pytest.param(
        # Cluster boot: no bios_grub, / is partition 1. Capacity 20 GiB - 1 GiB swap = 19 GiB
        # shared 9:1 -> 17510.4 and 1945.6 MiB, rounded down; the spare MiB goes to /.
        BOOT_ROOT_SWAP,
        [vda(20 * GiB + 2 * MiB)],
        LayoutChoices(boot="cluster"),
        {
            "/dev/vda": [
                (1, 1, 17511, "filesystem", "/"),
                (2, 17512, 1945, "filesystem", "/boot"),
                (3, 19457, 1024, "swap", "swap"),
            ]
        },
        id="cluster-root-first",
    ),
    pytest.param(
        BOOT_ROOT_SWAP,
        [vda(20 * GiB + 2 * MiB)],
        LayoutChoices(boot="cluster", root_path="/dev/vda2"),
        {
            "/dev/vda": [
                (1, 1, 1945, "filesystem", "/boot"),
                (2, 1946, 17511, "filesystem", "/"),
                (3, 19457, 1024, "swap", "swap"),
            ]
        },
        id="cluster-root-second",
    ),
    pytest.param(
        # 6 partitions on msdos: 1-3 primary, extended 4 from 5837 MiB, logicals 5-7 each after a
        # 1 MiB EBR gap. Capacity 10240 - 1 - 3 gaps - 512 swap = 9724 MiB over 5 equal weights:
        # 1944 each, the 4 MiB left go to /.
        SIX,
        [vda(10 * GiB)],
        LayoutChoices(),
        {
            "/dev/vda": [
                (1, 1, 1948, "filesystem", "/"),
                (2, 1949, 1944, "filesystem", "/boot"),
                (3, 3893, 1944, "filesystem", "/home"),
                (5, 5838, 1944, "filesystem", "/srv"),
                (6, 7783, 1944, "filesystem", "/var"),
                (7, 9728, 512, "swap", "swap"),
            ]
        },
        id="msdos-extended",
    ),
    pytest.param(
        # Each source disk to its own target disk, each with its source's table.
        TWO_DISKS,
        [vda(30 * GiB), vda(60 * GiB, 1, "/dev/vdb")],
        LayoutChoices(),
        {
            "/dev/vda": [
                (1, 1, 1, "bios_grub", None),
                (2, 2, 28669, "filesystem", "/"),
                (3, 28671, 2048, "swap", "swap"),
            ],
            "/dev/vdb": [(1, 1, 61439, "filesystem", "/srv")],
        },
        id="two-disks-to-two-disks",
    ),
    pytest.param(
        # Fewer target disks than source disks: all on the first. Capacity 81917 - 2048 swap
        # = 79869 MiB shared 20:50 -> 22819.7 and 57049.3; the spare MiB goes to /.
        TWO_DISKS,
        [vda(80 * GiB)],
        LayoutChoices(),
        {
            "/dev/vda": [
                (1, 1, 1, "bios_grub", None),
                (2, 2, 22820, "filesystem", "/"),
                (3, 22822, 57049, "filesystem", "/srv"),
                (4, 79871, 2048, "swap", "swap"),
            ]
        },
        id="two-disks-to-one",
    ),
    pytest.param(
        # Explicit: / takes the rest, /home 10 GiB, /srv 5 % of 100 GiB + 2 MiB (5120 MiB after
        # rounding down), /opt its floor (1.2 GiB data: (1228.8 + 16 + 32) / 0.924375 -> 1382),
        # swap the source's 1 GiB; /var merges into /.
        MANY,
        [vda(100 * GiB + 2 * MiB)],
        LayoutChoices(
            explicit=(
                LayoutRequest("/", "rest"),
                LayoutRequest("/home", "size", 10 * GiB),
                LayoutRequest("/srv", "percent", 5),
                LayoutRequest("/opt", "fit"),
                LayoutRequest("swap", "fit"),
            )
        ),
        {
            "/dev/vda": [
                (1, 1, 1, "bios_grub", None),
                (2, 2, 84633, "filesystem", "/"),
                (3, 84635, 10240, "filesystem", "/home"),
                (4, 94875, 1382, "filesystem", "/opt"),
                (5, 96257, 5120, "filesystem", "/srv"),
                (6, 101377, 1024, "swap", "swap"),
            ]
        },
        id="explicit-size-percent-fit-rest",
    ),
]


@pytest.mark.parametrize(("machine", "disks", "choices", "expected"), LAYOUTS)
def test_layout(
    machine: Machine,
    disks: list[TargetDisk],
    choices: LayoutChoices,
    expected: dict[str, list[tuple[int, int, int, str, str | None]]],
) -> None:
    plan = plan_layout(machine, disks, choices)
    assert rows(plan) == expected
    for d in plan.disks:
        for p in d.partitions:
            assert p.device == partition_device(d.disk.path, p.number)
            assert p.size >= p.min_size


def test_msdos_shrink_keeps_identity_and_boots_from_the_disk() -> None:
    plan = plan_layout(MSDOS_ROOT_SWAP, [vda(20 * GiB)], LayoutChoices())
    root, swap = plan.disks[0].partitions
    assert plan.disks[0].table == "msdos"
    assert (root.uuid, root.source, root.min_size) == ("uuid-sda1", "/dev/sda1", ROOT_FLOOR * MiB)
    assert (swap.fstype, swap.uuid, swap.label, swap.source) == ("swap", "uuid-swap", "swap", "/dev/sda5")
    assert plan.bootloader_disk == "/dev/vda"
    assert plan.mounts == (MountStep("/dev/vda1", "/target", "ext4"),)
    assert plan.copies == (CopyJob("/dev/sda1", "/", "/target", "/", (), 10 * GiB),)


def test_swap_auto_notes_say_what_happened() -> None:
    shrunk = plan_layout(MSDOS_ROOT_SWAP, [vda((ROOT_FLOOR + 1025) * MiB)], LayoutChoices())
    assert "swap /dev/sda5 shrunk from 4.00 GiB to 1.00 GiB to make room on /dev/vda" in shrunk.notes
    dropped = plan_layout(MSDOS_ROOT_SWAP, [vda((ROOT_FLOOR + 101) * MiB)], LayoutChoices())
    assert dropped.dropped == ("/dev/sda5",)
    assert any(n.startswith("swap /dev/sda5 (4.00 GiB) dropped") for n in dropped.notes)


def test_no_swap_at_all() -> None:
    machine = Machine(disks=MSDOS_ROOT_SWAP.disks, filesystems=MSDOS_ROOT_SWAP.filesystems)
    plan = plan_layout(machine, [vda(20 * GiB)], LayoutChoices(swap="keep"))
    assert [p.role for p in plan.partitions] == ["filesystem"]
    assert plan.swapfiles == ()
    assert plan.dropped == ()


def test_gpt_mixed_mounts_copies_and_btrfs() -> None:
    plan = plan_layout(GPT_MIXED, [vda(100 * GiB + 3 * MiB)], LayoutChoices())
    var = plan.partition_at("/var")
    assert var is not None
    assert [s.path for s in var.subvolumes] == ["@var", "@var/lib/machines", "@var-log"]
    assert var.default_subvolume == "@var"
    assert (var.uuid, var.fstype) == ("uuid-var", "btrfs")
    boot = plan.partition_at("/boot")
    assert boot is not None and boot.features == ("has_journal", "^metadata_csum")
    assert plan.partition_at("/").label == "root"  # type: ignore[union-attr]
    assert plan.bootloader_disk == "/dev/vda"
    assert plan.mounts == (
        MountStep("/dev/vda5", "/run/p2v-target/vda5", "btrfs", "subvolid=5"),
        MountStep("/dev/vda2", "/target", "ext4"),
        MountStep("/dev/vda3", "/target/boot", "ext4"),
        MountStep("/dev/vda4", "/target/home", "xfs", "nouuid"),
        MountStep("/dev/vda5", "/target/var", "btrfs", "subvol=@var"),
        MountStep("/dev/vda5", "/target/var/log", "btrfs", "subvol=@var-log"),
    )
    side = "/run/p2v-target/vda5"
    assert plan.copies == (
        CopyJob("/dev/sda5", "/", side, None, ("/@var", "/@var-log", "/snapshots/1"), 0),
        CopyJob("/dev/sda5", "/@var", side + "/@var", "/var", ("/lib/machines",), 3 * GiB),
        CopyJob("/dev/sda5", "/@var/lib/machines", side + "/@var/lib/machines", "/var/lib/machines", (), 0),
        CopyJob("/dev/sda5", "/@var-log", side + "/@var-log", "/var/log", (), 0),
        CopyJob("/dev/sda3", "/", "/target", "/", (), 5 * GiB),
        CopyJob("/dev/sda2", "/", "/target/boot", "/boot", (), 100 * MiB),
        CopyJob("/dev/sda4", "/", "/target/home", "/home", (), 4 * GiB),
    )
    assert "read-only btrfs subvolumes (snapshots) of /var are not copied: snapshots/1" in plan.notes


SWAPFILE = Machine(
    disks=MSDOS_ROOT_SWAP.disks,
    filesystems=MSDOS_ROOT_SWAP.filesystems,
    swaps=(SwapArea("file", "/swapfile", 2 * GiB, uuid="uuid-swapfile", on_device="/dev/sda1"),),
)


@pytest.mark.parametrize(
    ("policy", "kept", "floor"),
    [
        # 8 GiB copied; kept: 9.6 + 2 GiB -> (11878.4 + 80) / 0.924375 -> 12937 MiB.
        ("keep", True, 12937),
        ("auto", True, 12937),
        # dropped: 9.6 GiB -> (9830.4 + 80) / 0.924375 -> 10722 MiB.
        ("drop", False, 10722),
    ],
)
def test_swap_file_kept_or_dropped(policy: str, kept: bool, floor: int) -> None:
    plan = plan_layout(SWAPFILE, [vda(20 * GiB)], LayoutChoices(swap=policy))  # type: ignore[arg-type]
    root = plan.partition_at("/")
    assert root is not None and root.min_size == floor * MiB
    # never copied: recreated (or not) instead
    assert plan.copies == (CopyJob("/dev/sda1", "/", "/target", "/", ("/swapfile",), 8 * GiB),)
    if kept:
        assert [(s.path, s.size, s.uuid, s.fstype) for s in plan.swapfiles] == [
            ("/swapfile", 2 * GiB, "uuid-swapfile", "ext4")
        ]
        assert plan.dropped == ()
    else:
        assert plan.swapfiles == ()
        assert plan.dropped == ("/swapfile",)


# btrfs / with 9 GiB used, xfs /srv with 100 MiB, on a 10 GiB msdos disk, headroom 25 %.
# / floor: 11520 MiB data; (11520 + 256) / 0.95 = 12395.8 -> 12396 MiB.
# /srv floor: xfs's smallest, 300 MiB. Capacity 10239 MiB -> 2457 MiB missing.
TOO_BIG = Machine(
    disks=(
        Disk(
            "/dev/sda",
            40 * GiB,
            table="msdos",
            partitions=(part("/dev/sda1", 1, 30 * GiB), part("/dev/sda2", 2, 10 * GiB)),
        ),
    ),
    filesystems=(
        fs("/dev/sda1", "/", "btrfs", size=30 * GiB, used=9 * GiB),
        fs("/dev/sda2", "/srv", "xfs", size=10 * GiB, used=100 * MiB),
    ),
)


def test_data_that_does_not_fit() -> None:
    with pytest.raises(LayoutError) as err:
        plan_layout(TOO_BIG, [vda(10 * GiB)], LayoutChoices(headroom=0.25))
    assert err.value.missing == 2457 * MiB
    assert str(err.value) == (
        "the data needs 2.40 GiB more than /dev/vda (10.0 GiB) offers: "
        "/ needs at least 12.1 GiB (9.00 GiB used + headroom), "
        "/srv needs at least 300 MiB (100 MiB used + headroom), "
        "partition table and alignment 1.00 MiB"
    )


def test_exclusions_make_it_fit() -> None:
    # 7 GiB left on /: (8960 + 256) / 0.95 = 9701.05 -> 9702 MiB; 9702 + 300 <= 10239.
    choices = LayoutChoices(
        headroom=0.25,
        exclude=("/var/cache/", "/srv/tmp", "/var/cache/apt"),
        exclude_sizes={"/var/cache": 2 * GiB, "/srv/tmp": 10 * MiB, "/var/cache/apt": 1 * GiB},
    )
    plan = plan_layout(TOO_BIG, [vda(10 * GiB)], choices)
    root = plan.partition_at("/")
    assert root is not None and root.min_size == 9702 * MiB
    # / is btrfs: copied through its side mount, its top level is what / mounts
    assert plan.copies == (
        CopyJob("/dev/sda1", "/", "/run/p2v-target/vda1", "/", ("/var/cache",), 7 * GiB, ("/var/cache",)),
        CopyJob("/dev/sda2", "/", "/target/srv", "/srv", ("/tmp",), 90 * MiB, ("/tmp",)),
    )


def test_explicit_merges_var_into_root() -> None:
    choices = LayoutChoices(
        explicit=(
            LayoutRequest("/", "rest"),
            LayoutRequest("/home", "size", 10 * GiB),
            LayoutRequest("/srv", "percent", 5),
            LayoutRequest("/opt", "fit"),
            LayoutRequest("swap", "fit"),
        ),
        exclude=("/var/cache/apt",),
        exclude_sizes={"/var/cache/apt": 512 * MiB},
    )
    plan = plan_layout(MANY, [vda(100 * GiB + 2 * MiB)], choices)
    assert dict(plan.merged) == {"/var": "/"}
    root = plan.partition_at("/")
    assert root is not None and root.used == 5 * GiB + 2 * GiB - 512 * MiB
    assert not any(m.path == "/target/var" for m in plan.mounts)
    assert (
        CopyJob("/dev/sda2", "/", "/target/var", "/var", ("/cache/apt",), 1536 * MiB, ("/cache/apt",))
        in plan.copies
    )
    # the root job leaves the merged directory alone, so a resumed --delete copy cannot empty it
    root_job = next(c for c in plan.copies if c.dest == "/target")
    assert root_job.excludes[-1:] == ("/var/**",)
    assert [c.dest for c in plan.copies] == [
        "/target",
        "/target/var",
        "/target/home",
        "/target/opt",
        "/target/srv",
    ]
    assert plan.partition_for_source("/dev/sda6").uuid == "uuid-swap"  # type: ignore[union-attr]
    assert "/var (ext4 on /dev/sda2) is merged into /: its files are copied there" in plan.notes


def test_explicit_fstype_override_keeps_uuid_drops_features() -> None:
    machine = Machine(
        disks=MANY.disks,
        filesystems=(
            fs(
                "/dev/sda1",
                "/",
                size=20 * GiB,
                used=5 * GiB,
                features=("has_journal",),
                label="a-very-long-label",
            ),
        ),
    )
    plan = plan_layout(
        machine, [vda(20 * GiB)], LayoutChoices(explicit=(LayoutRequest("/", "rest", fstype="xfs"),))
    )
    root = plan.partition_at("/")
    assert root is not None
    assert (root.fstype, root.uuid, root.features, root.label) == ("xfs", "uuid-sda1", (), "a-very-long-")


@pytest.mark.parametrize(
    ("requests", "message", "missing"),
    [
        (
            (LayoutRequest("/", "rest"), LayoutRequest("/home", "rest")),
            "two requests take the rest of /dev/vda",
            0,
        ),
        ((LayoutRequest("/"), LayoutRequest("/data")), "/data: no source filesystem is mounted there", 0),
        ((LayoutRequest("/home"),), "the explicit layout must place /", 0),
        ((LayoutRequest("/", disk=3),), "/: no target disk with index 3", 0),
        ((LayoutRequest("/", "percent", 120),), "/: percent must be 1-100, not 120", 0),
        # / holds 8 GiB with /var and /home merged: (9830.4 + 16 + 64) / 0.924375 -> 10722 MiB,
        # 9698 MiB missing.
        (
            (LayoutRequest("/", "size", 1 * GiB),),
            "/ was given 1.00 GiB but needs at least 10.5 GiB (8.00 GiB used + headroom): 9.47 GiB missing",
            9698 * MiB,
        ),
    ],
)
def test_explicit_layout_errors(requests: tuple[LayoutRequest, ...], message: str, missing: int) -> None:
    machine = Machine(disks=MANY.disks, filesystems=MANY.filesystems[:3])
    with pytest.raises(LayoutError) as err:
        plan_layout(machine, [vda(100 * GiB)], LayoutChoices(explicit=requests))
    assert str(err.value) == message
    assert err.value.missing == missing


def test_explicit_cannot_convert_btrfs_subvolumes() -> None:
    with pytest.raises(LayoutError, match="converting btrfs with subvolumes to ext4 is not supported"):
        plan_layout(
            GPT_MIXED,
            [vda(100 * GiB)],
            LayoutChoices(explicit=(LayoutRequest("/"), LayoutRequest("/var", fstype="ext4"))),
        )


@pytest.mark.parametrize(
    ("root_path", "message"),
    [
        (
            "/dev/vda",
            "root_path /dev/vda names the whole disk; the cluster kernel needs a partition such as /dev/vda1",
        ),
        ("/dev/sda1", "root_path /dev/sda1 is not a partition of the target disks (/dev/vda)"),
        ("/dev/vda4", "root_path /dev/vda4 names partition 4, but /dev/vda gets partitions 1, 2, 3"),
    ],
)
def test_cluster_root_path_errors(root_path: str, message: str) -> None:
    with pytest.raises(LayoutError) as err:
        plan_layout(BOOT_ROOT_SWAP, [vda(20 * GiB)], LayoutChoices(boot="cluster", root_path=root_path))
    assert str(err.value) == message


def test_cluster_boot_has_no_bootloader() -> None:
    plan = plan_layout(BOOT_ROOT_SWAP, [vda(20 * GiB)], LayoutChoices(boot="cluster"))
    assert plan.bootloader_disk is None
    assert plan.partition_at("/").device == "/dev/vda1"  # type: ignore[union-attr]


def test_msdos_extended_partition() -> None:
    disk = plan_layout(SIX, [vda(10 * GiB)], LayoutChoices()).disks[0]
    assert disk.extended == (5837 * MiB, (10240 - 5837) * MiB)
    assert [p.logical for p in disk.partitions] == [False, False, False, True, True, True]


ESP_MACHINE = Machine(
    disks=(
        Disk(
            "/dev/sda",
            20 * GiB,
            table="gpt",
            partitions=(part("/dev/sda1", 1, 50 * MiB), part("/dev/sda2", 2, 19 * GiB)),
        ),
    ),
    filesystems=(
        fs("/dev/sda1", "/boot/efi", "vfat", size=50 * MiB, used=10 * MiB, uuid="ABCD-1234"),
        fs("/dev/sda2", "/", size=19 * GiB, used=2 * GiB),
    ),
    firmware="efi",
)


def test_esp_recreated_for_efi_target() -> None:
    plan = plan_layout(ESP_MACHINE, [vda(20 * GiB)], LayoutChoices(firmware="efi"))
    esp = plan.disks[0].partitions[0]
    assert (esp.number, esp.role, esp.fstype, esp.uuid) == (1, "esp", "vfat", "ABCD-1234")
    assert esp.size == 100 * MiB  # the source's 50 MiB, raised to the smallest ESP
    assert plan.bootloader_disk is None
    assert MountStep("/dev/vda1", "/target/boot/efi", "vfat") in plan.mounts
    assert CopyJob("/dev/sda1", "/", "/target/boot/efi", "/boot/efi", (), 10 * MiB) in plan.copies


def test_esp_dropped_for_bios_target() -> None:
    plan = plan_layout(ESP_MACHINE, [vda(20 * GiB)], LayoutChoices(firmware="bios"))
    assert [p.role for p in plan.partitions] == ["bios_grub", "filesystem"]
    assert plan.dropped == ("/boot/efi",)
    assert "target boots by BIOS; EFI system partition /boot/efi (/dev/sda1) not recreated" in plan.notes


def test_new_esp_when_source_had_none() -> None:
    plan = plan_layout(MSDOS_ROOT_SWAP, [vda(20 * GiB)], LayoutChoices(firmware="efi", swap="drop"))
    esp = plan.disks[0].partitions[0]
    assert (esp.role, esp.size, esp.mountpoint, esp.source) == ("esp", 512 * MiB, "/boot/efi", None)
    assert not any(c.dest == "/target/boot/efi" for c in plan.copies)


def test_duplicate_uuid_is_blanked() -> None:
    machine = Machine(
        disks=TWO_DISKS.disks,
        filesystems=(
            fs("/dev/sda1", "/", size=20 * GiB, used=2 * GiB, uuid="same"),
            fs("/dev/sdb1", "/srv", size=50 * GiB, used=1 * GiB, uuid="same"),
        ),
    )
    plan = plan_layout(machine, [vda(80 * GiB)], LayoutChoices())
    assert [p.uuid for p in plan.partitions if p.role == "filesystem"] == ["same", ""]
    assert "/srv has the same UUID same as /; it gets a new one" in plan.notes


def test_unmeasured_filesystem_must_be_dropped() -> None:
    machine = Machine(
        disks=TWO_DISKS.disks,
        filesystems=(
            fs("/dev/sda1", "/", size=20 * GiB, used=2 * GiB),
            Filesystem("/dev/mapper/vg-data", "ext4", mountpoint="/data"),
        ),
    )
    with pytest.raises(LayoutError, match=r"cannot size /data \(/dev/mapper/vg-data, ext4\)"):
        plan_layout(machine, [vda(80 * GiB)], LayoutChoices())
    plan = plan_layout(machine, [vda(80 * GiB)], LayoutChoices(drop=("/data",)))
    assert plan.dropped == ("/data",)
    assert [p.mountpoint for p in plan.partitions] == [None, "/"]


def test_inodes_raised_for_many_small_files() -> None:
    # 2.4 M + 1024 inodes need one 4 KiB block each: 9379 MiB at least; the mkfs default
    # (one per 16 KiB) on the 10239 MiB partition gives 655,296.
    machine = Machine(
        disks=MSDOS_ROOT_SWAP.disks,
        filesystems=(fs("/dev/sda1", "/", size=95 * GiB, used=1 * GiB, inodes_used=2_000_000),),
    )
    root = plan_layout(machine, [vda(10 * GiB)], LayoutChoices()).partitions[0]
    assert (root.min_size, root.size, root.inodes) == (9379 * MiB, 10239 * MiB, 2_401_024)


def test_large_disk_gets_gpt_unless_msdos_was_asked() -> None:
    plan = plan_layout(MSDOS_ROOT_SWAP, [vda(3 * TiB)], LayoutChoices())
    assert plan.disks[0].table == "gpt"
    assert any("gets a gpt partition table" in n for n in plan.notes)
    with pytest.raises(LayoutError, match="larger than the 2 TiB an msdos partition table can address"):
        plan_layout(MSDOS_ROOT_SWAP, [vda(3 * TiB)], LayoutChoices(table="msdos"))


# --- the arithmetic ---------------------------------------------------------


@pytest.mark.parametrize(
    ("fstype", "used", "headroom", "inodes", "floor_mib"),
    [
        ("ext2", 1 * GiB, 0, None, 1126),  # (1024 + 16) / (1 - 0.06 - 1/64) = 1125.1
        ("ext4", 1 * GiB, 0.2, None, 1382),  # (1228.8 + 16 + 32 journal) / 0.924375 = 1381.3
        ("ext4", 10 * GiB, 0.2, None, 13380),  # (12288 + 16 + 64 journal) / 0.924375 = 13379.9
        ("ext4", 0, 0.2, None, 32),  # smallest ext4
        ("ext4", 1 * GiB, 0, 1_000_000, 3911),  # 1,001,024 inodes x 4 KiB = 3910.25 MiB
        ("xfs", 10 * GiB, 0.2, None, 12605),  # (12288 + 64 log) / 0.98 = 12604.1
        ("xfs", 100 * MiB, 0.25, None, 300),  # mkfs.xfs's smallest
        ("btrfs", 9 * GiB, 0.25, None, 12396),  # (11520 + 256) / 0.95 = 12395.8
        ("vfat", 20 * MiB, 0.2, None, 32),  # smallest vfat
        ("jfs", 1 * GiB, 0, None, 1146),  # unknown type: (1024 + 64) / 0.95 = 1145.3
    ],
)
def test_filesystem_floor(
    fstype: str, used: int, headroom: float, inodes: int | None, floor_mib: int
) -> None:
    assert filesystem_floor(fstype, used, headroom, inodes) == floor_mib * MiB


M = MiB


@pytest.mark.parametrize(
    ("floors", "weights", "available", "favourite", "sizes"),
    [
        # proportional, exact
        ([10 * M, 10 * M], [1, 3], 100 * M, 0, [25 * M, 75 * M]),
        # the small share is below its floor: it keeps the floor, the rest goes to the other
        ([40 * M, 10 * M], [1, 3], 100 * M, 0, [40 * M, 60 * M]),
        # rounding down to MiB; the spare MiBs go to the favourite
        ([1 * M, 1 * M, 1 * M], [1, 1, 1], 100 * M, 2, [33 * M, 33 * M, 34 * M]),
        # no favourite: spare MiBs stay free
        ([1 * M, 1 * M, 1 * M], [1, 1, 1], 100 * M, None, [33 * M, 33 * M, 33 * M]),
        # a weight of 0 never grows
        ([5 * M, 5 * M], [0, 1], 20 * M, 1, [5 * M, 15 * M]),
        # everything at its floor
        ([50 * M, 50 * M], [1, 1], 100 * M, 0, [50 * M, 50 * M]),
        # shrinking: 3000/100 per weight gives the third 30 < 100, so it keeps 100; the others
        # share 2900 by 95:4 -> 2782.8 and 117.2, rounded down; the spare MiB goes to the first
        ([2000 * M, 100 * M, 100 * M], [95, 4, 1], 3000 * M, 0, [2783 * M, 117 * M, 100 * M]),
        # two pinned at once
        ([2000 * M, 100 * M, 100 * M], [95, 4, 1], 2300 * M, 0, [2100 * M, 100 * M, 100 * M]),
        # pinning cascades: s = 40 pins the second (50); then s = 35 pins the third (38)
        ([10 * M, 50 * M, 38 * M], [1, 1, 1], 120 * M, None, [32 * M, 50 * M, 38 * M]),
    ],
)
def test_share_space(
    floors: list[int], weights: list[int], available: int, favourite: int | None, sizes: list[int]
) -> None:
    assert share_space(floors, weights, available, favourite) == sizes


@pytest.mark.parametrize(
    ("disk", "number", "device"),
    [
        ("/dev/vda", 2, "/dev/vda2"),
        ("/dev/sdb", 10, "/dev/sdb10"),
        ("/dev/loop7", 1, "/dev/loop7p1"),
        ("/dev/nvme0n1", 1, "/dev/nvme0n1p1"),
        ("/dev/mmcblk0", 3, "/dev/mmcblk0p3"),
        ("/dev/xvda", 1, "/dev/xvda1"),
    ],
)
def test_partition_device(disk: str, number: int, device: str) -> None:
    assert partition_device(disk, number) == device


def test_lvm_root_takes_the_table_of_its_physical_volume() -> None:
    machine = Machine(
        disks=(Disk("/dev/sda", 50 * GiB, table="msdos", partitions=(part("/dev/sda1", 1, 50 * GiB),)),),
        volume_groups=(
            VolumeGroup(
                "vg-0", 50 * GiB, ("/dev/sda1",), (LogicalVolume("vg-0", "root", 20 * GiB, "/dev/vg-0/root"),)
            ),
        ),
        filesystems=(fs("/dev/mapper/vg--0-root", "/", size=20 * GiB, used=2 * GiB),),
    )
    plan = plan_layout(machine, [vda(20 * GiB)], LayoutChoices())
    assert plan.disks[0].table == "msdos"
    assert plan.partitions[0].source == "/dev/mapper/vg--0-root"


def test_explicit_without_rest_leaves_space_free() -> None:
    machine = Machine(disks=MANY.disks, filesystems=MANY.filesystems[:1])
    plan = plan_layout(
        machine, [vda(20 * GiB)], LayoutChoices(explicit=(LayoutRequest("/", "size", 10 * GiB),))
    )
    assert rows(plan) == {"/dev/vda": [(1, 1, 1, "bios_grub", None), (2, 2, 10240, "filesystem", "/")]}
    # 20480 - 1 (start) - 1 (backup GPT) - 1 (bios_grub) - 10240 = 10237 MiB
    assert "10.0 GiB of /dev/vda are left unpartitioned" in plan.notes


def test_explicit_swap_takes_the_rest() -> None:
    machine = Machine(disks=MANY.disks, filesystems=MANY.filesystems[:1], swaps=MANY.swaps)
    plan = plan_layout(
        machine,
        [vda(20 * GiB)],
        LayoutChoices(explicit=(LayoutRequest("/", "size", 10 * GiB), LayoutRequest("swap", "rest"))),
    )
    assert rows(plan)["/dev/vda"][-1] == (3, 10242, 10237, "swap", "swap")


def test_bad_drop() -> None:
    with pytest.raises(LayoutError) as err:
        plan_layout(MSDOS_ROOT_SWAP, [vda(20 * GiB)], LayoutChoices(drop=("/",)))
    assert str(err.value) == "/ cannot be dropped: it is the system being migrated"


def test_dropping_what_the_machine_does_not_have_is_said_not_fatal() -> None:
    plan = plan_layout(MSDOS_ROOT_SWAP, [vda(20 * GiB)], LayoutChoices(drop=("/nope",)))
    assert "nothing to drop at /nope: no source filesystem or swap area has that name" in plan.notes
    assert plan.dropped == ()


def test_small_boot_keeps_its_size_when_shrinking() -> None:
    """A 256 MiB /boot holding 12 MiB is not scaled down to its floor: the
    next kernel update needs the room."""
    machine = Machine(
        disks=(
            Disk(
                "/dev/sda",
                80 * GiB,
                table="msdos",
                partitions=(
                    part("/dev/sda1", 1, 256 * MiB),
                    part("/dev/sda2", 2, 30 * GiB),
                    part("/dev/sda3", 3, 49 * GiB),
                ),
            ),
        ),
        filesystems=(
            fs("/dev/sda1", "/boot", "ext3", size=256 * MiB, used=12 * MiB),
            fs("/dev/sda2", "/", size=30 * GiB, used=40 * MiB),
            fs("/dev/sda3", "/home", size=49 * GiB, used=15 * MiB),
        ),
    )
    plan = plan_layout(machine, [vda(10 * GiB)], LayoutChoices(swap="drop"))
    sizes = {p.mountpoint: p.size for p in plan.partitions}
    assert sizes["/boot"] == 256 * MiB
    # the rest is shared by source size: / gets 30/79 of it, /home 49/79
    rest = sizes["/"] + sizes["/home"]
    assert abs(sizes["/"] - rest * 30 // 79) <= 2 * MiB
    # where even the small filesystem's source size does not fit, its floor is used
    tight = plan_layout(machine, [vda(330 * MiB)], LayoutChoices(swap="drop"))
    assert {p.mountpoint: p.size for p in tight.partitions}["/boot"] < 256 * MiB


def test_user_exclusions_keep_their_wildcards_literal_paths_are_escaped() -> None:
    machine = dataclasses.replace(
        MSDOS_ROOT_SWAP,
        swaps=(SwapArea("file", "/swap*file", 64 * MiB, on_device="/dev/sda1"),),
    )
    plan = plan_layout(machine, [vda(20 * GiB)], LayoutChoices(exclude=("/home/*/Downloads",), swap="keep"))
    (job,) = plan.copies
    assert "/home/*/Downloads" in job.excludes and job.keep_dirs == ("/home/*/Downloads",)
    assert "/swap\\*file" in job.excludes


def test_locate_finds_the_filesystem_and_the_path_from_its_top() -> None:
    btrfs = Filesystem(
        "/dev/sda2", "btrfs", "u", size=GiB, used=MiB, mountpoint="/",
        subvolumes=(Subvolume(256, "@", mountpoint="/"), Subvolume(257, "@home", mountpoint="/home")),
        default_subvolume=256,
    )  # fmt: skip
    plain = Filesystem("/dev/sda1", "ext4", "b", size=GiB, used=MiB, mountpoint="/boot")
    assert locate("/home/alice/Downloads", [btrfs, plain]) == (btrfs, "@home/alice/Downloads")
    assert locate("/var/cache", [btrfs, plain]) == (btrfs, "@/var/cache")
    assert locate("/boot/grub", [btrfs, plain]) == (plain, "grub")
    assert locate("/boot", [btrfs, plain]) == (plain, "")
    # mounted without subvol=: the default subvolume
    no_option = dataclasses.replace(btrfs, subvolumes=(Subvolume(256, "@"),))
    assert locate("/etc", [no_option]) == (no_option, "@/etc")
    assert locate("/etc", [plain]) is None
