"""The disk-image builder the probe tests (and later the copy tests) use."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.lab.disks import DiskSpec, MiB, PartSpec, blkid_value, loop_disk, require, sfdisk_script


def test_msdos_with_more_than_four_partitions_uses_logical_ones() -> None:
    spec = DiskSpec(
        1024 * MiB, "msdos", (*tuple(PartSpec(64 * MiB, "ext4") for _ in range(5)), PartSpec(None))
    )
    script, numbers = sfdisk_script(spec)
    assert numbers == [1, 2, 3, 5, 6, 7]
    lines = script.splitlines()
    assert lines[0] == "label: dos"
    assert lines[4] == "type=5"  # the extended partition takes the rest of the disk
    assert len(lines) == 1 + 3 + 1 + 3


def test_gpt_types_names_and_flags() -> None:
    spec = DiskSpec(
        100 * MiB,
        "gpt",
        (
            PartSpec(1 * MiB, None, flags=("bios_grub",), name="grub"),
            PartSpec(32 * MiB, "vfat", flags=("esp",)),
            PartSpec(None, "lvm", flags=("legacy_boot",)),
        ),
    )
    script, numbers = sfdisk_script(spec)
    assert numbers == [1, 2, 3]
    assert script.splitlines()[1:] == [
        'size=2048, type=21686148-6449-6E6F-744E-656564454649, name="grub"',
        "size=65536, type=C12A7328-F81F-11D2-BA4B-00A0C93EC93B",
        'type=E6D6D379-F507-44C2-A23C-238F2A3DF928, attrs="LegacyBIOSBootable"',
    ]


def test_sizes_are_whole_mebibytes() -> None:
    with pytest.raises(ValueError, match="whole MiB"):
        sfdisk_script(DiskSpec(10 * MiB, "gpt", (PartSpec(1000, None),)))


@pytest.mark.root
def test_loop_disk_is_released_after_a_failure(tmp_path: Path) -> None:
    require("mkfs.ext4")
    image = tmp_path / "x.img"
    spec = DiskSpec(
        64 * MiB, "msdos", (PartSpec(None, "ext4", label="lab", uuid="0a0b0c0d-1111-2222-3333-444455556666"),)
    )
    with pytest.raises(RuntimeError, match="boom"), loop_disk(spec, image) as disk:
        assert blkid_value(disk.partitions[0], "LABEL") == "lab"
        assert blkid_value(disk.partitions[0], "UUID") == "0a0b0c0d-1111-2222-3333-444455556666"
        raise RuntimeError("boom")
    assert subprocess.run(["losetup", "-j", str(image)], capture_output=True, text=True).stdout == ""
    assert image.stat().st_blocks * 512 < image.stat().st_size  # sparse
