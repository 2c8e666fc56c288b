"""``bootloader``: GRUB on the instance's disk (boot: own).

BIOS: ``grub-install --target=i386-pc`` on ``plan.bootloader_disk``. EFI:
``grub-install --target=x86_64-efi`` into the ESP under the distribution's
id, and once more with ``--removable`` to the fallback path
``EFI/BOOT/BOOTX64.EFI``: the instance has no NVRAM boot entry
(``--no-nvram``; the helper system cannot write the instance's variables),
so firmware finds GRUB only there. On the RHEL family with EFI the copied
ESP already holds the signed shim and GRUB (also at the fallback path) and
grub2-install is not used there; only the configuration is regenerated.

Then the configuration is regenerated (``update-grub`` or ``grub-mkconfig
-o``), after the initramfs rebuild so that it lists the new images.
No bootloader on the source, or GRUB legacy: a note, nothing run.
"""

from __future__ import annotations

from ..machine import OsInfo
from ..plan import BootMode, Plan
from ._context import Context
from ._workspace import Scope

FIXUP = "bootloader"


def grub_install_bios(tool: str, disk: str) -> list[str]:
    return [
        tool,
        "--target=i386-pc",  # BIOS boot code in the MBR / bios_grub partition
        "--recheck",  # forget the source's device map
        disk,
    ]


def grub_install_efi(tool: str, bootloader_id: str, esp: str = "/boot/efi") -> list[str]:
    return [
        tool,
        "--target=x86_64-efi",
        f"--efi-directory={esp}",  # where the instance mounts its ESP
        f"--bootloader-id={bootloader_id}",  # EFI/<id>/ as the distribution does
        "--no-nvram",
    ]  # the instance's NVRAM is not reachable from here


def grub_install_removable(tool: str, esp: str = "/boot/efi") -> list[str]:
    return [
        tool,
        "--target=x86_64-efi",
        f"--efi-directory={esp}",
        "--removable",
    ]  # EFI/BOOT/BOOTX64.EFI: found without an NVRAM entry


def grub_mkconfig(tool: str, cfg: str) -> list[str]:
    if tool == "update-grub":
        return [tool]
    return [tool, "-o", cfg]  # write the configuration GRUB reads


def grub_problem(os: OsInfo) -> str | None:
    """Why the migrated system has no GRUB 2 to boot its own disk with;
    None when it has one."""
    if os.bootloader == "none":
        return (
            "the source has no GRUB 2 (no grub-install in the migrated system): the instance will not "
            "boot by itself; choose boot: cluster (the cluster's kernel), or install GRUB 2 on the source"
        )
    if os.bootloader == "grub-legacy":
        return (
            "GRUB legacy is not supported (the source has it): the instance will not boot by itself; "
            "choose boot: cluster (the cluster's kernel), or install GRUB 2 on the source"
        )
    return None


def possible_boot(os: OsInfo, boot: BootMode) -> BootMode:
    """The boot mode the wizard starts from: ``boot`` unless it is ``own``
    and the source has no GRUB 2 to install (then only the cluster's kernel
    can start the instance)."""
    return "cluster" if boot == "own" and grub_problem(os) else boot


def own_boot_problem(os: OsInfo, plan: Plan) -> str | None:
    """Why the migrated system cannot boot from its own disk (boot: own);
    None when GRUB can be installed there. A run refuses such a plan
    before anything is written: it would end with an instance that cannot
    start."""
    problem = grub_problem(os)
    if problem:
        return problem
    if plan.firmware == "bios" and not plan.bootloader_disk:
        return "the plan names no disk for GRUB: the instance will not boot by itself; choose boot: cluster"
    return None


def fix_bootloader(ctx: Context, scope: Scope) -> None:
    if not ctx.boot_own:
        if ctx.machine.os.bootloader != "grub2":
            scope.note("bootloader: none installed: the source has no GRUB 2; the cluster's kernel starts it")
        return
    os = ctx.machine.os
    problem = own_boot_problem(os, ctx.plan)
    if problem:
        scope.note(f"bootloader: {problem}")
        return
    install = os.grub_install or ("grub2-install" if ctx.family == "rhel" else "grub-install")
    mkconfig = os.grub_mkconfig or ("grub2-mkconfig" if ctx.family == "rhel" else "update-grub")
    cfg = os.grub_cfg or ("/boot/grub2/grub.cfg" if "grub2" in mkconfig else "/boot/grub/grub.cfg")
    if ctx.plan.firmware == "efi":
        if ctx.family == "rhel":
            scope.note(
                "bootloader: EFI on the RHEL family: the signed shim and GRUB copied with /boot/efi "
                "are used as they are"
            )
        else:
            esp = next(
                (p.mountpoint for p in ctx.plan.partitions if p.role == "esp" and p.mountpoint), "/boot/efi"
            )
            scope.command(grub_install_efi(install, os.id or "grub", esp), "GRUB in the instance's ESP")
            scope.command(grub_install_removable(install, esp), "GRUB at the ESP's fallback path")
    elif ctx.plan.bootloader_disk:
        scope.command(
            grub_install_bios(install, ctx.plan.bootloader_disk), f"GRUB on {ctx.plan.bootloader_disk}"
        )
    scope.command(grub_mkconfig(mkconfig, cfg), "GRUB's menu for the instance")
