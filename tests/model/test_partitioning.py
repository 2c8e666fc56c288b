"""sfdisk scripts: golden text, and what real sfdisk makes of them."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from p2v_tui.model.layout import plan_layout
from p2v_tui.model.machine import Disk, Filesystem, Machine, Partition, SwapArea
from p2v_tui.model.partitioning import PartitioningError, sfdisk_script
from p2v_tui.model.plan import DiskPlan, LayoutChoices, PartitionRole, PlannedPartition
from p2v_tui.model.target import TargetDisk
from p2v_tui.model.units import GiB, MiB


def pp(
    number: int,
    start_mib: int,
    size_mib: int,
    role: PartitionRole,
    mountpoint: str | None = None,
    *,
    logical: bool = False,
) -> PlannedPartition:
    return PlannedPartition(
        disk_index=0,
        number=number,
        start=start_mib * MiB,
        size=size_mib * MiB,
        role=role,
        device=f"/dev/vda{number}",
        mountpoint=mountpoint,
        logical=logical,
    )


VDA = TargetDisk(0, "/dev/vda", 10 * GiB)

GPT = DiskPlan(
    VDA,
    "gpt",
    (
        pp(1, 1, 1, "bios_grub"),
        pp(2, 2, 8192, "filesystem", "/"),
        pp(3, 8194, 1024, "swap"),
    ),
)

GPT_GOLDEN = """\
label: gpt
unit: sectors

start=2048, size=2048, type=21686148-6449-6E6F-744E-656564454649
start=4096, size=16777216, type=0FC63DAF-8483-4772-8E79-3D69D8477DE4
start=16781312, size=2097152, type=0657FD6D-A4AB-43C4-84E5-0933C84B4F4F
"""

# Partitions 1-3 primary, 4 extended from 5837 MiB to the end (10240 MiB), logicals 5-7 each
# 1 MiB after the previous one ends; /boot is bootable.
MSDOS = DiskPlan(
    VDA,
    "msdos",
    (
        pp(1, 1, 1948, "filesystem", "/"),
        pp(2, 1949, 1944, "filesystem", "/boot"),
        pp(3, 3893, 1944, "filesystem", "/home"),
        pp(5, 5838, 1944, "filesystem", "/srv", logical=True),
        pp(6, 7783, 1944, "filesystem", "/var", logical=True),
        pp(7, 9728, 512, "swap", logical=True),
    ),
    extended=(5837 * MiB, 4403 * MiB),
)

MSDOS_GOLDEN = """\
label: dos
unit: sectors

start=2048, size=3989504, type=83
start=3991552, size=3981312, type=83, bootable
start=7972864, size=3981312, type=83
start=11954176, size=9017344, type=5
start=11956224, size=3981312, type=83
start=15939584, size=3981312, type=83
start=19922944, size=1048576, type=82
"""


def test_gpt_golden() -> None:
    assert sfdisk_script(GPT) == GPT_GOLDEN


def test_msdos_golden_with_extended_and_logical() -> None:
    assert sfdisk_script(MSDOS) == MSDOS_GOLDEN


def test_cluster_boot_sets_no_bootable_flag() -> None:
    assert "bootable" not in sfdisk_script(MSDOS, boot="cluster")


def test_root_is_bootable_without_boot_partition() -> None:
    plan = DiskPlan(VDA, "msdos", (pp(1, 1, 9000, "filesystem", "/"), pp(2, 9001, 1024, "swap")))
    assert sfdisk_script(plan).splitlines()[3:] == [
        "start=2048, size=18432000, type=83, bootable",
        "start=18434048, size=2097152, type=82",
    ]


def test_esp_types() -> None:
    esp = (pp(1, 1, 512, "esp", "/boot/efi"),)
    assert sfdisk_script(DiskPlan(VDA, "gpt", esp)).endswith("type=C12A7328-F81F-11D2-BA4B-00A0C93EC93B\n")
    assert sfdisk_script(DiskPlan(VDA, "msdos", esp)).endswith("type=ef\n")


def test_bios_grub_cannot_go_on_msdos() -> None:
    with pytest.raises(PartitioningError, match="bios_grub partition cannot go in an msdos table"):
        sfdisk_script(DiskPlan(VDA, "msdos", (pp(1, 1, 1, "bios_grub"),)))


# --- real sfdisk on a loop device ------------------------------------------


def _small_machine(table: str, mountpoints: tuple[str, ...]) -> Machine:
    devices = [f"/dev/sda{n}" for n in range(1, len(mountpoints) + 2)]
    return Machine(
        disks=(
            Disk(
                "/dev/sda",
                1 * GiB,
                table=table,  # type: ignore[arg-type]
                partitions=tuple(Partition(d, i + 1, 0, 100 * MiB) for i, d in enumerate(devices)),
            ),
        ),
        filesystems=tuple(
            Filesystem(d, "ext4", size=100 * MiB, used=1 * MiB, mountpoint=mp)
            for d, mp in zip(devices, mountpoints, strict=False)
        ),
        swaps=(SwapArea("partition", devices[-1], 64 * MiB),),
    )


@pytest.fixture
def loop_device(tmp_path: Path) -> Iterator[str]:
    if os.geteuid() != 0:
        pytest.skip("needs root: attaches a loop device")
    for tool in ("sfdisk", "losetup"):
        if shutil.which(tool) is None:
            pytest.skip(f"needs {tool}")
    image = tmp_path / "disk.img"
    with image.open("wb") as f:
        f.truncate(700 * MiB + 12345 * 512)  # not a whole number of MiB, as real disks often are
    dev = subprocess.run(
        ["losetup", "-f", "--show", str(image)], check=True, capture_output=True, text=True
    ).stdout.strip()
    try:
        yield dev
    finally:
        subprocess.run(["losetup", "-d", dev], check=False)


@pytest.mark.root
@pytest.mark.parametrize(
    ("table", "mountpoints"),
    [
        ("gpt", ("/", "/boot", "/home")),
        ("msdos", ("/", "/boot", "/home", "/srv", "/var")),
    ],
)
def test_sfdisk_writes_the_planned_table(loop_device: str, table: str, mountpoints: tuple[str, ...]) -> None:
    size = int(
        subprocess.run(
            ["blockdev", "--getsize64", loop_device], check=True, capture_output=True, text=True
        ).stdout
    )
    plan = plan_layout(
        _small_machine(table, mountpoints),
        [TargetDisk(0, loop_device, size)],
        LayoutChoices(table=table),  # type: ignore[arg-type]
    )
    (disk,) = plan.disks
    assert (disk.extended is not None) == (table == "msdos")
    script = sfdisk_script(disk)
    subprocess.run(
        ["sfdisk", "--no-reread", "--no-tell-kernel", "--quiet", loop_device],
        input=script,
        check=True,
        capture_output=True,
        text=True,
    )
    dump = json.loads(
        subprocess.run(["sfdisk", "--json", loop_device], check=True, capture_output=True, text=True).stdout
    )["partitiontable"]

    assert dump["label"] == {"gpt": "gpt", "msdos": "dos"}[table]
    got = {
        p["node"]: (p["start"] * 512, p["size"] * 512, p["type"].upper(), p.get("bootable", False))
        for p in dump["partitions"]
    }
    types = {
        "gpt": {
            "bios_grub": "21686148-6449-6E6F-744E-656564454649",
            "filesystem": "0FC63DAF-8483-4772-8E79-3D69D8477DE4",
            "swap": "0657FD6D-A4AB-43C4-84E5-0933C84B4F4F",
        },
        "msdos": {"filesystem": "83", "swap": "82"},
    }[table]
    want = {
        p.device: (p.start, p.size, types[p.role], table == "msdos" and p.mountpoint == "/boot")
        for p in disk.partitions
    }
    if disk.extended is not None:
        want[f"{loop_device}p4"] = (*disk.extended, "5", False)
    assert got == want
    if table == "gpt":  # the last partition ends right before the backup GPT sfdisk reserves
        end = max(p.start + p.size for p in disk.partitions) // 512
        assert end - 1 <= dump["lastlba"] < end + 2048
