"""Boot files for lab instances: a real Debian kernel and a tiny busybox initrd.

The kernel and its virtio modules come from the Debian system the integration
tests already build and cache (tests/integration/debian.py); they are
extracted once into the same cache, keyed on that tarball's name. The initrd
is built per test in a few milliseconds: busybox, the modules, and an /init
that prints markers on ttyS0, configures eth0 statically and answers on a TCP
port with a token, so a test knows it reached *this* guest.
"""

from __future__ import annotations

import gzip
import os
import re
import shlex
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from tests.integration.debian import debian_rootfs
from tests.lab.cache import CACHE

VIRTIO_MODULES = (
    "virtio_ring",
    "virtio",
    "virtio_pci_modern_dev",
    "virtio_pci_legacy_dev",
    "virtio_pci",
    "failover",
    "net_failover",
    "virtio_net",
    "virtio_blk",
)
"""Debian builds virtio as modules; insmod needs them in dependency order."""
BUSYBOX = Path("/bin/busybox")
TOKEN_PORT = 7000


@dataclass(frozen=True)
class GuestKernel:
    version: str
    vmlinuz: Path
    modules: Path
    """Directory holding ``<name>.ko`` for each of :data:`VIRTIO_MODULES`."""


def _member_pattern() -> re.Pattern[str]:
    names = "|".join(VIRTIO_MODULES)
    return re.compile(rf"\./(boot/vmlinuz-.+|(usr/)?lib/modules/[^/]+/kernel/.*/({names})\.ko)")


def guest_kernel() -> GuestKernel:
    """The cached Debian kernel and virtio modules (built on first use)."""
    tarball = debian_rootfs()
    out = CACHE / f"ganeti-lab-kernel-{tarball.stem}"
    if not out.exists():
        members = [
            m
            for m in subprocess.run(
                ["tar", "-tf", str(tarball)], capture_output=True, text=True, check=True
            ).stdout.splitlines()
            if _member_pattern().fullmatch(m)
        ]
        partial = out.with_name(out.name + ".partial")
        shutil.rmtree(partial, ignore_errors=True)
        (partial / "x").mkdir(parents=True)
        subprocess.run(["tar", "-xf", str(tarball), "-C", str(partial / "x"), *members], check=True)
        (partial / "modules").mkdir()
        for path in (partial / "x").rglob("*.ko"):
            shutil.copy2(path, partial / "modules" / path.name)
        (vmlinuz,) = (partial / "x" / "boot").glob("vmlinuz-*")
        shutil.copy2(vmlinuz, partial / "vmlinuz")
        (partial / "version").write_text(vmlinuz.name.removeprefix("vmlinuz-") + "\n", encoding="ascii")
        shutil.rmtree(partial / "x")
        partial.rename(out)
    missing = [m for m in VIRTIO_MODULES if not (out / "modules" / f"{m}.ko").exists()]
    if missing:
        raise RuntimeError(f"{out}: modules missing: {missing}")
    version = (out / "version").read_text(encoding="ascii").strip()
    return GuestKernel(version=version, vmlinuz=out / "vmlinuz", modules=out / "modules")


def init_script(address_cidr: str, token: str) -> str:
    q = shlex.quote
    mods = " ".join(VIRTIO_MODULES)
    return f"""#!/bin/sh
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
echo "GUEST-BOOT {token} kernel $(uname -r)"
for m in {mods}; do insmod /lib/modules/$m.ko || echo "GUEST-INSMOD-FAILED $m"; done
i=0
while [ ! -e /sys/class/net/eth0 ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i+1)); done
ip link set lo up
ip addr add {q(address_cidr)} dev eth0
ip link set eth0 up
echo "GUEST-NET-UP mac=$(cat /sys/class/net/eth0/address) address={address_cidr}"
nc -ll -p {TOKEN_PORT} -e /bin/say-token &
echo "GUEST-READY {token}"
while :; do sleep 3600; done
"""


def busybox_initrd(out: Path, kernel: GuestKernel, *, address_cidr: str, token: str) -> Path:
    """A gzip'd newc initramfs at ``out``; /init never exits (it is PID 1)."""
    root = out.with_name(out.name + ".root")
    shutil.rmtree(root, ignore_errors=True)
    for d in ("bin", "lib/modules", "proc", "sys", "dev", "tmp"):
        (root / d).mkdir(parents=True)
    shutil.copy2(BUSYBOX, root / "bin" / "busybox")
    applets = subprocess.run([str(BUSYBOX), "--list"], capture_output=True, text=True, check=True).stdout
    for applet in applets.split():
        if applet != "busybox":
            os.symlink("busybox", root / "bin" / applet)
    for m in VIRTIO_MODULES:
        shutil.copy2(kernel.modules / f"{m}.ko", root / "lib" / "modules" / f"{m}.ko")
    (root / "init").write_text(init_script(address_cidr, token), encoding="ascii")
    (root / "bin" / "say-token").write_text(f"#!/bin/sh\necho GUEST-TOKEN {token}\n", encoding="ascii")
    os.chmod(root / "init", 0o755)
    os.chmod(root / "bin" / "say-token", 0o755)
    names = sorted(str(p.relative_to(root)) for p in root.rglob("*"))
    archive = _cpio(root, names)
    out.write_bytes(gzip.compress(archive, compresslevel=1))
    shutil.rmtree(root)
    return out


def _cpio(root: Path, names: list[str]) -> bytes:
    proc = subprocess.run(
        ["cpio", "--create", "--format=newc", "--quiet"],
        input=("\n".join([".", *names]) + "\n").encode(),
        capture_output=True,
        cwd=root,
        check=True,
    )
    return proc.stdout
