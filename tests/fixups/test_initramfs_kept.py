"""When the initramfs rebuild is left out (fixups/initramfs.kept_because):
only where the images already hold the instance's disk drivers and the
root filesystem's module, and nothing they embed changed."""

from __future__ import annotations

import pytest

from p2v_tui.model.edits import ImagesHold
from p2v_tui.model.fixups.initramfs import MODULES, kept_because, module_names

V = "6.1.0-28-amd64"
IMAGE = f"/boot/initrd.img-{V}"
HOLD = ImagesHold(((V, IMAGE),), ("virtio_pci", "virtio_blk", "virtio_scsi", "ext4"))
# lsinitramfs of a Debian 12 MODULES=most image (excerpt)
MOST = f"""\
{IMAGE}
usr/lib/modules/{V}/kernel/drivers/block/virtio_blk.ko
usr/lib/modules/{V}/kernel/drivers/scsi/virtio_scsi.ko
usr/lib/modules/{V}/kernel/drivers/virtio/virtio_pci.ko
usr/lib/modules/{V}/kernel/drivers/virtio/virtio_pci_modern_dev.ko
usr/lib/modules/{V}/kernel/fs/ext4/ext4.ko
usr/lib/modules/{V}/kernel/fs/xfs/xfs.ko.xz
usr/lib/modules/{V}/kernel/drivers/net/virtio_net.ko
"""
# a host-only image (MODULES=dep on a physical server): its own SATA disk only
HOST_ONLY = f"""\
usr/lib/modules/{V}/kernel/drivers/ata/ahci.ko
usr/lib/modules/{V}/kernel/fs/ext4/ext4.ko
"""


def test_a_generic_image_is_kept_and_says_why() -> None:
    why = kept_because(HOLD, {IMAGE: MOST}, {}, ["/etc/fstab", MODULES, "/etc/hostname"])
    assert why is not None and V in why and "virtio_blk" in why and "not rebuilt" in why


@pytest.mark.parametrize(
    ("listings", "builtins", "edited"),
    [
        ({IMAGE: HOST_ONLY}, {}, []),  # no virtio in the image
        ({IMAGE: None}, {}, []),  # lsinitramfs failed
        ({}, {}, []),  # not listed at all
        ({IMAGE: MOST}, {}, ["/etc/initramfs-tools/conf.d/resume"]),  # resume device changed
        ({IMAGE: MOST}, {}, ["/etc/crypttab"]),
        ({IMAGE: MOST}, {}, ["/etc/mdadm/mdadm.conf"]),
        ({IMAGE: MOST.replace("ext4.ko", "ext3.ko")}, {}, []),  # no module for the root
    ],
)
def test_anything_less_is_rebuilt(
    listings: dict[str, str | None], builtins: dict[str, str], edited: list[str]
) -> None:
    assert kept_because(HOLD, listings, builtins, edited) is None


def test_modules_built_into_the_kernel_count() -> None:
    builtin = "kernel/drivers/virtio/virtio_pci.ko\nkernel/drivers/block/virtio_blk.ko\n"
    image = HOST_ONLY + f"usr/lib/modules/{V}/kernel/drivers/scsi/virtio_scsi.ko.zst\n"
    assert kept_because(HOLD, {IMAGE: image}, {V: builtin}, []) is not None


def test_every_kernel_must_hold_them() -> None:
    old = "5.10.0-30-amd64"
    hold = ImagesHold(((old, f"/boot/initrd.img-{old}"), (V, IMAGE)), HOLD.modules)
    assert kept_because(hold, {IMAGE: MOST, f"/boot/initrd.img-{old}": HOST_ONLY}, {}, []) is None


def test_module_names_read_listings_and_builtin_lines() -> None:
    assert module_names(
        "a/b/virtio-blk.ko.xz\nkernel/fs/ext4/ext4.ko\nnot a module\netc/modprobe.d/x.conf"
    ) == {
        "virtio_blk",
        "ext4",
    }
