"""Facts about the installed system: distribution, init, initramfs, GRUB.

Read from the mounted source tree only (no chroot, nothing executed), so
that the fixups and the bootloader step know which tools the source has.
"""

from __future__ import annotations

import logging
import re
from typing import Literal, NamedTuple

from ...model.machine import OsInfo
from ...model.parsers import parse_shell_assignments
from .tree import SourceTree

log = logging.getLogger(__name__)

InitSystem = Literal["systemd", "sysvinit", "upstart", "unknown"]

_SYSTEMD = ("/lib/systemd/systemd", "/usr/lib/systemd/systemd")
_BIN_DIRS = ("/usr/sbin", "/sbin", "/usr/bin", "/bin")


def _tool(tree: SourceTree, name: str) -> bool:
    return any(tree.is_file(f"{d}/{name}") for d in _BIN_DIRS)


def _release(tree: SourceTree) -> dict[str, str]:
    for path in ("/etc/os-release", "/usr/lib/os-release"):
        text = tree.read_text(path)
        if text is not None:
            return parse_shell_assignments(text)
    text = tree.read_text("/etc/redhat-release") or tree.read_text("/etc/centos-release")
    if text:
        m = re.match(r"\s*(.*?)\s+(?:Linux )?release\s+([\d.]+)", text)
        name = m.group(1).lower() if m else ""
        os_id = "centos" if "centos" in name else "rhel" if "red hat" in name else name.split(" ")[0]
        return {
            "ID": os_id,
            "ID_LIKE": "rhel fedora",
            "VERSION_ID": m.group(2) if m else "",
            "PRETTY_NAME": text.strip().splitlines()[0],
        }
    version = tree.read_text("/etc/debian_version")
    if version:
        version = version.strip()
        return {"ID": "debian", "VERSION_ID": version.split(".")[0], "PRETTY_NAME": f"Debian {version}"}
    return {}


def _hostname(tree: SourceTree) -> str:
    text = tree.read_text("/etc/hostname")
    if text:
        for line in text.splitlines():
            if line.strip() and not line.strip().startswith("#"):
                return line.strip()
    network = tree.read_text("/etc/sysconfig/network")
    if network:
        return parse_shell_assignments(network).get("HOSTNAME", "")
    return ""


def detect_init(tree: SourceTree) -> InitSystem:
    """systemd, sysvinit or upstart, from what /sbin/init is and what is installed."""
    has_systemd = any(tree.is_file(p) for p in _SYSTEMD)
    link = tree.readlink("/sbin/init")
    if link is not None and link.rstrip("/").endswith("systemd"):
        return "systemd"  # systemd-sysv, or /sbin/init -> ../lib/systemd/systemd
    if link is not None and "upstart" in link:
        return "upstart"
    if tree.exists("/var/lib/dpkg/info/sysvinit-core.list"):
        return "sysvinit"  # Debian with sysvinit-core chosen over systemd-sysv
    if tree.is_file("/sbin/init"):
        if tree.is_file("/sbin/initctl") and tree.is_dir("/etc/init"):
            return "upstart"  # Ubuntu 14.04, RHEL 6 (which also has an inittab)
        if tree.is_file("/etc/inittab"):
            return "sysvinit"  # a real init binary, systemd perhaps installed but not init
    if has_systemd:
        return "systemd"
    return "unknown"


def detect_initramfs(tree: SourceTree) -> Literal["initramfs-tools", "dracut", "none"]:
    if _tool(tree, "update-initramfs") and tree.exists("/var/lib/dpkg/info/initramfs-tools.list"):
        return "initramfs-tools"
    if _tool(tree, "dracut"):
        return "dracut"
    if _tool(tree, "update-initramfs"):
        return "initramfs-tools"
    return "none"


def _debian_family(release: dict[str, str]) -> bool:
    ids = {release.get("ID", ""), *release.get("ID_LIKE", "").split()}
    return bool(ids & {"debian", "ubuntu"})


def _rhel_family(release: dict[str, str]) -> bool:
    ids = {release.get("ID", ""), *release.get("ID_LIKE", "").split()}
    return bool(ids & {"rhel", "fedora", "centos"})


class _Grub(NamedTuple):
    bootloader: Literal["grub2", "grub-legacy", "none"]
    install: str = ""
    mkconfig: str = ""
    cfg: str = ""


def _grub(tree: SourceTree, release: dict[str, str]) -> _Grub:
    install = next((n for n in ("grub2-install", "grub-install") if _tool(tree, n)), "")
    cfg = next((p for p in ("/boot/grub/grub.cfg", "/boot/grub2/grub.cfg") if tree.is_file(p)), "")
    legacy = next((p for p in ("/boot/grub/menu.lst", "/boot/grub/grub.conf") if tree.is_file(p)), "")
    grub2 = install and (cfg or _tool(tree, "grub-mkconfig") or _tool(tree, "grub2-mkconfig"))
    if grub2:
        if _debian_family(release) or (_tool(tree, "update-grub") and not _rhel_family(release)):
            mkconfig = "update-grub"
        elif _rhel_family(release) or _tool(tree, "grub2-mkconfig"):
            mkconfig = "grub2-mkconfig"
        else:
            mkconfig = "grub-mkconfig"
        default_cfg = "/boot/grub2/grub.cfg" if install == "grub2-install" else "/boot/grub/grub.cfg"
        return _Grub("grub2", install, mkconfig, cfg or default_cfg)
    if legacy:
        return _Grub("grub-legacy", install or "grub-install", "", legacy)
    return _Grub("none")


def _version_key(version: str) -> list[tuple[int, str]]:
    return [(int(p), "") if p.isdigit() else (-1, p) for p in re.split(r"[.\-+~_]", version)]


def kernel_versions(tree: SourceTree) -> tuple[str, ...]:
    versions = [n.removeprefix("vmlinuz-") for n in tree.listdir("/boot") if n.startswith("vmlinuz-")]
    versions = [v for v in versions if tree.is_file(f"/boot/vmlinuz-{v}")]
    return tuple(sorted(versions, key=_version_key))


def detect_os(tree: SourceTree) -> OsInfo:
    release = _release(tree)
    grub = _grub(tree, release)
    return OsInfo(
        id=release.get("ID", ""),
        id_like=tuple(release.get("ID_LIKE", "").split()),
        version_id=release.get("VERSION_ID", ""),
        pretty_name=release.get("PRETTY_NAME", ""),
        hostname=_hostname(tree),
        init=detect_init(tree),
        initramfs=detect_initramfs(tree),
        bootloader=grub.bootloader,
        grub_install=grub.install,
        grub_mkconfig=grub.mkconfig,
        grub_cfg=grub.cfg,
        kernels=kernel_versions(tree),
    )
