"""``initramfs-virtio``: the initramfs can find the instance's disk
(boot: own).

A source's initramfs carries the drivers of its own hardware (often only
those: Debian's ``MODULES=dep``, dracut's host-only mode). The instance needs
its virtual disk and NIC drivers before the root filesystem is mounted:
virtio for KVM (and for unknown hypervisors: Ganeti's default), the Xen
front-ends for Xen.

- initramfs-tools: missing modules appended to /etc/initramfs-tools/modules,
  then ``update-initramfs -u -k all``;
- dracut: /etc/dracut.conf.d/90-p2v-virtio.conf with ``add_drivers+=``, then
  a rebuild of every installed kernel's image: by name on the RHEL family
  (``dracut -f /boot/initramfs-VER.img VER`` works back to RHEL 6's dracut,
  which has no ``--regenerate-all``, and in a chroot ``uname -r`` is the
  helper system's kernel), ``dracut -f --regenerate-all`` elsewhere.

With boot: cluster the instance runs the cluster's kernel and initrd: only a
note that the cluster kernel's modules must be available to the instance.

The rebuild is left out only where that is proven safe on the target, after
the copy (:func:`kept_because`): every installed kernel's initramfs-tools
image already holds the instance's disk drivers and the root filesystem's
module (``lsinitramfs`` inside the migrated system, or the kernel has them
built in), the source had no LVM, md or encrypted volume (their setup is in
the image and would not match the new disks), and no fixup changed a file
an image embeds. Debian's default ``MODULES=most`` images pass; host-only
ones (``MODULES=dep`` on a physical machine, ``MODULES=list``) do not. Under
emulation a rebuild is most of a migration's time (~7.5 min in a 256 MiB
bootstrap under TCG).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

from ..edits import ImagesHold
from ._context import Context
from ._text import MARK, lines_of
from ._workspace import Scope

FIXUP = "initramfs-virtio"
MODULES = "/etc/initramfs-tools/modules"
DRACUT_CONF = "/etc/dracut.conf.d/90-p2v-virtio.conf"

VIRTIO = ("virtio_pci", "virtio_blk", "virtio_scsi", "virtio_net")
XEN = ("xen_blkfront", "xen_netfront")


BOOT_DRIVERS = ("virtio_pci", "virtio_blk", "virtio_scsi")
XEN_BOOT_DRIVERS = ("xen_blkfront",)
ROOT_MODULES = {"ext2": "ext4", "ext3": "ext4", "ext4": "ext4", "xfs": "xfs", "btrfs": "btrfs"}
EMBEDDED = ("/etc/initramfs-tools/", "/etc/crypttab", "/etc/mdadm/", "/etc/lvm/", "/etc/modprobe.d/")
"""What initramfs-tools copies into an image: a change there needs a rebuild."""
_MODULE = re.compile(r"(?:^|/)([^/\s]+)\.ko(?:\.(?:xz|zst|gz))?$")


def drivers_for(hypervisor: str) -> tuple[str, ...]:
    return XEN if hypervisor in ("xen-pvm", "xen-hvm") else VIRTIO


def _norm(module: str) -> str:
    return module.replace("-", "_")


def modules_with(text: str | None, drivers: tuple[str, ...]) -> str:
    """/etc/initramfs-tools/modules listing ``drivers`` (missing ones added)."""
    lines = lines_of(text or "")
    listed = {_norm(ln.split()[0]) for ln in lines if ln.strip() and not ln.lstrip().startswith("#")}
    missing = [d for d in drivers if _norm(d) not in listed]
    if not missing:
        return text or ""
    if lines and not lines[-1].endswith("\n"):
        lines[-1] += "\n"
    return "".join(
        [
            *lines,
            f"{MARK}drivers of the instance's virtual disk and network card\n",
            *(f"{d}\n" for d in missing),
        ]
    )


def module_names(text: str) -> set[str]:
    """Kernel modules named in an ``lsinitramfs`` listing or ``modules.builtin``."""
    names = set()
    for line in text.splitlines():
        m = _MODULE.search(line.strip())
        if m:
            names.add(_norm(m.group(1)))
    return names


def kept_because(
    hold: ImagesHold,
    listings: Mapping[str, str | None],
    builtins: Mapping[str, str],
    edited: Iterable[str],
) -> str | None:
    """Why the initramfs images need no rebuild, or None when they do.

    ``listings``: image path -> its ``lsinitramfs`` output (None: it could
    not be listed); ``builtins``: kernel version -> its modules.builtin;
    ``edited``: the paths the fixups changed."""
    touched = [p for p in edited if p != MODULES and any(p == e or p.startswith(e) for e in EMBEDDED)]
    if touched or not hold.images:
        return None
    for version, image in hold.images:
        listing = listings.get(image)
        if listing is None:
            return None
        have = module_names(listing) | module_names(builtins.get(version, ""))
        if any(_norm(m) not in have for m in hold.modules):
            return None
    versions = ", ".join(v for v, _ in hold.images)
    return (
        f"the initramfs of {versions} already holds {', '.join(hold.modules)} and no change touches "
        "what it embeds: not rebuilt"
    )


def _images_hold(ctx: Context, drivers: tuple[str, ...]) -> ImagesHold | None:
    """What the images must hold to be kept; None where keeping them is never safe."""
    m = ctx.machine
    root = next((p for p in ctx.plan.partitions if p.mountpoint == "/"), None)
    crypt = m.config.get("/etc/crypttab") or ""
    if m.volume_groups or m.md_arrays or root is None or root.fstype not in ROOT_MODULES:
        return None
    if any(ln.strip() and not ln.lstrip().startswith("#") for ln in crypt.splitlines()) or not m.os.kernels:
        return None
    boot = XEN_BOOT_DRIVERS if drivers == XEN else BOOT_DRIVERS
    images = tuple((v, f"/boot/initrd.img-{v}") for v in m.os.kernels)
    return ImagesHold(images, (*boot, ROOT_MODULES[root.fstype]))


def dracut_conf(drivers: tuple[str, ...]) -> str:
    return (
        f"{MARK}drivers of the instance's virtual disk and network card\n"
        f'add_drivers+=" {" ".join(drivers)} "\n'
    )


def fix_initramfs(ctx: Context, scope: Scope) -> None:
    tool = ctx.machine.os.initramfs
    if ctx.facts.hypervisor == "lxc":
        return
    if not ctx.boot_own:
        scope.note(
            "initramfs: the instance boots the cluster's kernel and initrd; the modules of that "
            "kernel must be available to the instance (the source's initramfs is not changed)"
        )
        return
    drivers = drivers_for(ctx.facts.hypervisor)
    reason = "drivers of the instance's disk and network card in the initramfs"
    if tool == "initramfs-tools":
        scope.write(MODULES, modules_with(scope.read(MODULES), drivers), reason)
        scope.command(
            [
                "update-initramfs",
                "-u",  # update existing images
                "-k",
                "all",  # of every installed kernel, not the helper system's
            ],
            "rebuild the initramfs with the instance's drivers",
            unless=_images_hold(ctx, drivers),
        )
    elif tool == "dracut":
        scope.write(DRACUT_CONF, dracut_conf(drivers), reason)
        if ctx.family == "rhel" and ctx.machine.os.kernels:
            for version in ctx.machine.os.kernels:
                scope.command(
                    [
                        "dracut",
                        "-f",  # replace the existing image
                        f"/boot/initramfs-{version}.img",  # RHEL's image name
                        version,  # not uname -r (the helper's)
                    ],
                    f"rebuild the initramfs of {version} with the instance's drivers",
                )
        else:
            scope.command(
                [
                    "dracut",
                    "-f",  # replace existing images
                    "--regenerate-all",  # of every installed kernel
                ],
                "rebuild the initramfs with the instance's drivers",
            )
    else:
        scope.note(
            "initramfs: the source boots without an initramfs; its kernel must have the "
            f"{', '.join(drivers)} drivers built in"
        )
