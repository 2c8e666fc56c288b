"""Resuming an earlier run: whether the target already holds the plan's
partitions and filesystems (resume, or prepare the disks afresh, and why),
and what that run left mounted on the target, in the order it is
unmounted (read from a real bootstrap's /proc/self/mounts as a run whose
link was lost leaves it, the chroot's API filesystems mounted too)."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

import pytest

from p2v_tui.model.parsers import parse_proc_mounts
from p2v_tui.model.plan import DiskPlan, Plan, PlannedPartition
from p2v_tui.model.resume import leftover_mounts, on_disk, resumable
from p2v_tui.model.target import TargetDisk
from p2v_tui.model.units import GiB, MiB

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


# -- resumable(): the target holds this plan, or the disks are prepared afresh

ROOT_UUID = "5d2e8b71-43c9-4f0a-b1e6-9a7c3d5e8f02"
SRV_UUID = "a93f1c20-6e4b-4d7a-8c15-2f9e7b3a6d03"
SWAP_FOUND = "e1b7d4c9-8a2f-4c3e-b5d6-1f0a9e8c7b04"


def _part(disk: int, number: int, start_mib: int, size_mib: int, **kw: Any) -> PlannedPartition:
    path = ("/dev/vda", "/dev/vdb")[disk]
    return PlannedPartition(disk, number, start_mib * MiB, size_mib * MiB, device=f"{path}{number}", **kw)


# /dev/vda, gpt: BIOS boot, / (ext4, the source's UUID), swap (mkswap
# chooses its UUID); /dev/vdb, msdos: /srv (xfs) on a logical partition.
SRV = _part(1, 5, 2, 4093, role="filesystem", fstype="xfs", mountpoint="/srv", uuid=SRV_UUID, logical=True)
PLAN = Plan(
    disks=(
        DiskPlan(
            TargetDisk(0, "/dev/vda", 10 * GiB),
            "gpt",
            (
                _part(0, 1, 1, 1, role="bios_grub"),
                _part(0, 2, 2, 8190, role="filesystem", fstype="ext4", mountpoint="/", uuid=ROOT_UUID),
                _part(0, 3, 8192, 2047, role="swap", fstype="swap"),
            ),
        ),
        DiskPlan(
            TargetDisk(1, "/dev/vdb", 4 * GiB),
            "msdos",
            (SRV,),
            extended=(1 * MiB, 4094 * MiB),
        ),
    ),
    mounts=(),
    copies=(),
)


def _table(label: str, partitions: list[tuple[str, int, int]]) -> str:
    """``sfdisk --json`` output: (node, start MiB, size MiB) in 512-byte sectors."""
    entries = [{"node": node, "start": start * 2048, "size": size * 2048} for node, start, size in partitions]
    return json.dumps({"partitiontable": {"label": label, "sectorsize": 512, "partitions": entries}})


VDA = [("/dev/vda1", 1, 1), ("/dev/vda2", 2, 8190), ("/dev/vda3", 8192, 2047)]
VDB = [("/dev/vdb4", 1, 4094), ("/dev/vdb5", 2, 4093)]  # with the extended partition sfdisk lists
TABLES = {"/dev/vda": _table("gpt", VDA), "/dev/vdb": _table("dos", VDB)}
SIGNATURES = {
    "/dev/vda2": f"UUID={ROOT_UUID}\nBLOCK_SIZE=4096\nTYPE=ext4\n",
    "/dev/vda3": f"UUID={SWAP_FOUND}\nTYPE=swap\n",
    "/dev/vdb5": f"UUID={SRV_UUID}\nBLOCK_SIZE=512\nTYPE=xfs\n",
}


@pytest.mark.parametrize(
    ("tables", "signatures", "why"),
    [
        pytest.param({}, {}, "", id="as-planned"),
        # -- the partition tables
        pytest.param({"/dev/vda": ""}, {}, "/dev/vda has no table, not gpt", id="no-table"),
        pytest.param({"/dev/vda": _table("dos", VDA)}, {}, "/dev/vda has a msdos table, not gpt",
                     id="other-table-type"),
        pytest.param({"/dev/vdb": ""}, {}, "/dev/vdb has no table, not msdos", id="second-disk-no-table"),
        pytest.param({"/dev/vda": _table("gpt", [VDA[0], ("/dev/vda2", 3, 8189), VDA[2]])}, {},
                     "/dev/vda2 is not where the plan puts it", id="partition-moved"),
        pytest.param({"/dev/vda": _table("gpt", [VDA[0], ("/dev/vda2", 2, 4096), VDA[2]])}, {},
                     "/dev/vda2 is not where the plan puts it", id="partition-smaller"),
        pytest.param({"/dev/vda": _table("gpt", VDA[:2])}, {}, "/dev/vda3 is not where the plan puts it",
                     id="partition-missing"),
        pytest.param({"/dev/vda": _table("gpt", [("/dev/vda1", 1, 1), ("/dev/vda2", 2, 10238)])}, {},
                     "/dev/vda2 is not where the plan puts it", id="another-layout"),
        pytest.param({"/dev/vdb": _table("dos", VDB[1:])}, {}, "",
                     id="extended-partition-not-listed"),  # only the planned ones count
        pytest.param({"/dev/vda": "{"}, {},
                     "sfdisk --json /dev/vda answered malformed output: not JSON (Expecting property name "
                     "enclosed in double quotes: line 1 column 2 (char 1))", id="table-malformed"),
        # -- the filesystems
        pytest.param({}, {"/dev/vda2": ""}, "/dev/vda2 holds no filesystem, not ext4", id="no-filesystem"),
        pytest.param({}, {"/dev/vda2": f"UUID={ROOT_UUID}\nTYPE=xfs\n"}, "/dev/vda2 holds xfs, not ext4",
                     id="other-filesystem"),
        pytest.param({}, {"/dev/vda3": "PTTYPE=dos\n"}, "/dev/vda3 holds no filesystem, not swap",
                     id="swap-not-made"),
        pytest.param({}, {"/dev/vda2": f"UUID={SRV_UUID}\nTYPE=ext4\n"},
                     f"/dev/vda2 has UUID {SRV_UUID}, not {ROOT_UUID}", id="other-uuid"),
        pytest.param({}, {"/dev/vda2": "TYPE=ext4\n"}, f"/dev/vda2 has UUID none, not {ROOT_UUID}",
                     id="no-uuid"),
        pytest.param({}, {"/dev/vda2": f"UUID={ROOT_UUID.upper()}\nTYPE=ext4\n"}, "", id="uuid-in-capitals"),
        pytest.param({}, {"/dev/vda3": "TYPE=swap\nUUID=0c4a7f3e-2b1d-4e8a-9d61-7b3c5e2f1a01\n"}, "",
                     id="unplanned-uuid-any"),  # mkswap chose it
        pytest.param({}, {"/dev/vda1": "garbage"}, "", id="bios-boot-not-looked-at"),
        pytest.param({}, {"/dev/vdb5": f"UUID={SRV_UUID}\nTYPE=ext4\n"}, "/dev/vdb5 holds ext4, not xfs",
                     id="second-disk-other-filesystem"),
        pytest.param({}, {"/dev/vda2": "garbage"},
                     "blkid -p -o export /dev/vda2 answered malformed output: "
                     "expected KEY=value lines, got 'garbage'", id="signature-malformed"),
    ],
)  # fmt: skip
def test_resumable_decides_resume_or_fresh_with_the_reason(
    tables: dict[str, str], signatures: dict[str, str], why: str
) -> None:
    resumed, reason = resumable(PLAN, {**TABLES, **tables}, {**SIGNATURES, **signatures})
    assert reason == why
    assert (resumed is not None) is (why == "")


def test_a_resumed_plan_carries_the_uuids_found_where_the_plan_left_them_to_mkfs() -> None:
    found = {**SIGNATURES, "/dev/vda2": f"UUID={ROOT_UUID.upper()}\nTYPE=ext4\n"}
    resumed, _ = resumable(PLAN, TABLES, found)
    assert resumed is not None
    assert {p.device: p.uuid for p in resumed.partitions} == {
        "/dev/vda1": "",
        "/dev/vda2": ROOT_UUID,  # as planned, whatever case blkid prints
        "/dev/vda3": SWAP_FOUND,  # what mkswap chose in the earlier run
        "/dev/vdb5": SRV_UUID,
    }
    assert replace(resumed.disks[0], partitions=PLAN.disks[0].partitions) == PLAN.disks[0]
    assert resumed.disks[1] == PLAN.disks[1]
