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
"""

from __future__ import annotations

from ._context import Context
from ._text import MARK, lines_of
from ._workspace import Scope

FIXUP = "initramfs-virtio"
MODULES = "/etc/initramfs-tools/modules"
DRACUT_CONF = "/etc/dracut.conf.d/90-p2v-virtio.conf"

VIRTIO = ("virtio_pci", "virtio_blk", "virtio_scsi", "virtio_net")
XEN = ("xen_blkfront", "xen_netfront")


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
