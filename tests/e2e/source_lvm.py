"""The end-to-end lab's second source machine: a Debian database server on
LVM, as the Debian installer's "guided - use entire disk and set up LVM"
leaves it, with GRUB in a BIOS boot partition of a GPT disk.

- 3 GiB disk, GPT: 1 bios_grub (1 MiB), 2 /boot (ext4, 300 MiB), 3 an LVM
  PV holding ``vg0`` with ``root`` (xfs, /) and ``swap``, free extents left;
- /etc/fstab by ``/dev/mapper/vg0-root`` and ``/dev/mapper/vg0-swap``, /boot
  by UUID; ``RESUME=/dev/mapper/vg0-swap`` for the initramfs;
- GRUB's ``root=/dev/mapper/vg0-root`` (what update-grub writes for an LV
  root), the console on ttyS0 as well as tty0; an initramfs with lvm2, xfs,
  the NIC rule and RESUME= (made on the host in a chroot of the same
  system: under TCG update-initramfs takes many minutes);
- ifupdown with a static address on eth0, eth0 bound to the NIC's MAC by a
  70-persistent-net.rules line; sshd with root's key.

The host kernel has no device-mapper, so everything that touches LVM runs
in a QEMU guest (tests/e2e/build-lvm-source as its init, on a scratch ext4
root made from the Debian tarball): the build, then, after the disk was
booted once to a login prompt (IDE disk: /dev/sda; e1000 NIC with the
server's MAC on restricted user networking: no packet leaves QEMU) and
powered off by ACPI, the checksums of the files a migration must keep.

    python -m tests.e2e.source_lvm TARBALL OUTDIR

writes OUTDIR/disk.img, checksums.json, root_key(.pub), host_key.pub,
the guests' console logs and source.json (written last).
"""

from __future__ import annotations

import contextlib
import json
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from tests.e2e import servers
from tests.e2e.servers import persistent_net_rules
from tests.integration.debian import debian_rootfs, untar_argv
from tests.lab import qemu
from tests.lab.cache import cached_build
from tests.lab.qemu import proof_boot, tcg_argv

HERE = Path(__file__).resolve().parent
GUEST_SCRIPT = HERE / "build-lvm-source"
HOSTNAME = "dbhost"
MAC = "3c:d9:2b:0a:11:02"
ADDRESS = "10.0.2.15/24"
"""QEMU user networking's guest address: the lab can reach the server's sshd
with a host forward, as its admins did."""
GATEWAY = "10.0.2.2"
PACKAGES = ("openssh-server", "dbus", "lvm2", "xfsprogs")
"""Beyond tests/integration/debian.py's: sshd, logind's dbus (the ACPI power
button ends the proof boot), LVM and xfs tools (also in the initramfs)."""
DISK_SIZE = 3 * 1024**3
BUILDER_SIZE = "2G"
GUEST_TIMEOUT = 1500.0
LOGIN_TIMEOUT = 420.0
POWEROFF_TIMEOUT = 180.0
COMPLETE = "source.json"


@dataclass(frozen=True)
class BuiltSource:
    image: Path
    """Raw disk image in the cache: never modify it; tests copy it."""
    checksums: Path
    """JSON ``{"/etc/...": "sha256hex"}`` of every regular file under /etc,
    /home and /usr/bin, taken after the proof boot."""
    root_key: Path
    """Private ed25519 key whose .pub is in root's authorized_keys."""
    hostname: str
    mac: str
    """The MAC eth0's udev rule is bound to (give the NIC this one)."""
    build_seconds: float


def lvm_source() -> BuiltSource:
    """Built on first use (a few minutes), then taken from the cache."""
    tarball = debian_rootfs(extra=PACKAGES)
    build = [sys.executable, "-m", "tests.e2e.source_lvm", str(tarball)]
    name = f"p2v-e2e-lvm-source-{tarball.stem.removeprefix('debian-')}"
    inputs = [Path(__file__), GUEST_SCRIPT, Path(qemu.__file__), Path(servers.__file__)]
    out = cached_build(name, inputs, build, complete=COMPLETE, timeout=3600)
    facts = json.loads((out / COMPLETE).read_text())
    return BuiltSource(
        image=out / "disk.img",
        checksums=out / "checksums.json",
        root_key=out / "root_key",
        hostname=str(facts["hostname"]),
        mac=str(facts["mac"]),
        build_seconds=float((out / "build-seconds").read_text()),
    )


# --- the build (run by cached_build in a subprocess) -------------------------


def run(argv: list[str]) -> str:
    proc = subprocess.run(argv, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise RuntimeError(
            f"{' '.join(argv)} failed ({proc.returncode}):\n{proc.stdout[-2000:]}{proc.stderr[-3000:]}"
        )
    return proc.stdout


def builder_argv(work: Path, step: str, disk: Path, *, tarball: Path | None) -> list[str]:
    """The builder guest: the Debian kernel with root on the scratch disk and
    build-lvm-source as init; the source disk is /dev/vdb (read-only unless
    building), the tarball /dev/vdc."""
    cmdline = " ".join(
        [
            "root=/dev/vda",
            "rw",
            "init=/usr/local/sbin/build-lvm-source",
            "console=ttyS0,115200n8",
            "panic=-1",  # a panic ends QEMU (-no-reboot) instead of hanging
            f"p2v.step={step}",
            f"p2v.hostname={HOSTNAME}",
            f"p2v.address={ADDRESS}",
            f"p2v.gateway={GATEWAY}",
        ]
    )
    readonly = "" if step == "build" else ",readonly=on"
    argv = [
        *tcg_argv(1024),
        "-kernel", str(work / "vmlinuz"),
        "-initrd", str(work / "initrd.img"),
        "-append", cmdline,
        "-drive", f"file={work / 'builder.img'},format=raw,if=virtio",  # /dev/vda: the builder's root
        "-drive", f"file={disk},format=raw,if=virtio{readonly}",  # /dev/vdb: the source disk
        "-nic", "none",  # no network at all
        "-serial", f"file:{work / f'{step}.log'}",
    ]  # fmt: skip
    if tarball is not None:
        argv += ["-drive", f"file={tarball},format=raw,if=virtio,readonly=on"]  # /dev/vdc: tar reads it
    return argv


def proof_argv(disk: Path, serial_log: Path, monitor: Path) -> list[str]:
    return [
        *tcg_argv(1024),
        "-drive", f"file={disk},format=raw,if=ide",  # a SATA-style disk: /dev/sda
        "-nic", f"user,restrict=on,model=e1000,mac={MAC}",  # the server's NIC; nothing leaves QEMU
        "-serial", f"file:{serial_log}",  # ttyS0: its serial console
        "-monitor", f"unix:{monitor},server=on,wait=off",  # for the ACPI power button
    ]  # fmt: skip


GPT = """\
label: gpt
size=1MiB, type=21686148-6449-6E6F-744E-656564454649, name="bios_grub"
size=300MiB, type=0FC63DAF-8483-4772-8E79-3D69D8477DE4, name="boot"
type=E6D6D379-F507-44C2-A23C-238F2A3DF928, name="lvm"
"""
"""BIOS boot partition for GRUB's core image, /boot, and one LVM PV for the rest."""


def partition(disk: Path) -> None:
    """The GPT, written into the image file (no loop device needed)."""
    proc = subprocess.run(["sfdisk", "--quiet", str(disk)], input=GPT, capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"sfdisk failed: {proc.stderr}")


PERSISTENT_NET = persistent_net_rules(MAC)
OVERLAY = {
    "etc/udev/rules.d/70-persistent-net.rules": PERSISTENT_NET,
    "etc/initramfs-tools/conf.d/resume": "RESUME=/dev/mapper/vg0-swap\n",
}
"""What goes into the server's initramfs besides the packages: its NIC name
rule (without it udev in the initramfs names the NIC ens3 before the root's
rule can say eth0) and the resume device."""


@contextlib.contextmanager
def chroot_mounts(root: Path) -> Iterator[None]:
    done: list[Path] = []
    try:
        for name, argv in (
            ("dev", ["mount", "--bind", "/dev", str(root / "dev")]),
            ("proc", ["mount", "-t", "proc", "proc", str(root / "proc")]),
            ("sys", ["mount", "-t", "sysfs", "sysfs", str(root / "sys")]),
        ):
            run(argv)
            done.append(root / name)
        yield
    finally:
        for path in reversed(done):
            subprocess.run(["umount", str(path)], check=False)


def server_initramfs(root: Path, overlay: Path) -> None:
    """The server's initramfs, made here at native speed in the unpacked
    system with the server's files; the build guest copies it over."""
    for name, text in OVERLAY.items():
        for base in (root, overlay):
            (base / name).parent.mkdir(parents=True, exist_ok=True)
            (base / name).write_text(text)
    with chroot_mounts(root):
        run(["chroot", str(root), "update-initramfs", "-u", "-k", "all"])
    (initrd,) = (root / "boot").glob("initrd.img-*")
    (overlay / "boot").mkdir()
    shutil.copy(initrd, overlay / "boot" / initrd.name)
    listing = run(["lsinitramfs", str(initrd)]).splitlines()
    for needed in (
        "usr/sbin/lvm",
        "usr/lib/udev/rules.d/69-lvm.rules",
        "usr/lib/udev/rules.d/70-persistent-net.rules",
    ):
        if needed not in listing:
            raise RuntimeError(f"the server's initramfs has no {needed}")
    if not any(line.endswith("/xfs.ko") for line in listing):
        raise RuntimeError("the server's initramfs has no xfs module")


def builder_disk(tarball: Path, work: Path) -> None:
    """The builder's root: the same Debian with the guest script as init,
    root's public key and the overlay beside it; also the kernel and initrd
    to boot it."""
    root = work / "root"
    root.mkdir()
    run(untar_argv(tarball, root))
    (root / "p2v-build").mkdir()
    server_initramfs(root, root / "p2v-build/overlay")
    for pattern, name in (("vmlinuz-*", "vmlinuz"), ("initrd.img-*", "initrd.img")):
        (found,) = (root / "boot").glob(pattern)
        shutil.copy(found, work / name)
    shutil.copy(GUEST_SCRIPT, root / "usr/local/sbin/build-lvm-source")
    (root / "usr/local/sbin/build-lvm-source").chmod(0o755)
    shutil.copy(work / "root_key.pub", root / "p2v-build/authorized_keys")
    run(["mkfs.ext4", "-q", "-L", "p2v-builder", "-d", str(root), str(work / "builder.img"), BUILDER_SIZE])
    shutil.rmtree(root)


def guest_file(work: Path, name: str) -> str:
    """A result file from the builder's disk, read without mounting it."""
    return run(["debugfs", "-R", f"cat /p2v-build/out/{name}", str(work / "builder.img")])


def run_builder(work: Path, step: str, disk: Path, *, tarball: Path | None = None) -> float:
    started = time.monotonic()
    proc = subprocess.run(
        builder_argv(work, step, disk, tarball=tarball), capture_output=True, text=True, timeout=GUEST_TIMEOUT
    )
    seconds = time.monotonic() - started
    status = guest_file(work, "status").strip()
    if proc.returncode != 0 or status != "ok":
        console = (work / f"{step}.log").read_text(errors="replace")
        raise RuntimeError(
            f"builder step {step}: QEMU {proc.returncode}, status {status!r}:\n{console[-6000:]}"
        )
    return seconds


def parse_sha256sum(text: str, prefix: str = "/") -> dict[str, str]:
    """``sha256sum`` lines (run in the root, relative names) as absolute paths."""
    sums = {}
    for line in text.splitlines():
        if line.startswith("\\"):
            raise ValueError(f"a file name sha256sum had to escape: {line!r}")
        digest, name = line.split("  ", 1)
        sums[prefix + name.removeprefix("./")] = digest
    return sums


def main(tarball: Path, out: Path) -> None:
    out.mkdir(parents=True)
    timings: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix="p2v-lvm-source-", dir="/var/tmp") as tmp:
        work = Path(tmp)
        run(
            [
                "ssh-keygen",
                "-q",
                "-t",
                "ed25519",
                "-N",
                "",
                "-C",
                f"root@{HOSTNAME}",
                "-f",
                str(work / "root_key"),
            ]
        )
        started = time.monotonic()
        builder_disk(tarball, work)
        timings["builder_disk"] = round(time.monotonic() - started, 1)
        disk = out / "disk.img"
        with open(disk, "wb") as f:
            f.truncate(DISK_SIZE)
        partition(disk)
        try:
            timings["build_guest"] = round(run_builder(work, "build", disk, tarball=tarball), 1)
            (out / "host_key.pub").write_text(guest_file(work, "host_key.pub"))
            log, monitor = out / "proof-boot.log", work / "monitor.sock"
            # on ttyS0, then off by the ACPI power button (the xfs log is left
            # clean: the checksum step mounts it without norecovery)
            proof = proof_boot(proof_argv(disk, log, monitor), log, monitor, f"{HOSTNAME} login:",
                               login_timeout=LOGIN_TIMEOUT, poweroff_timeout=POWEROFF_TIMEOUT)  # fmt: skip
            timings.update({f"proof_{k}": v for k, v in proof.items()})
            timings["checksum_guest"] = round(run_builder(work, "checksum", disk), 1)
            sums = parse_sha256sum(guest_file(work, "checksums.txt"))
        finally:
            for step in ("build", "checksum"):
                if (work / f"{step}.log").exists():
                    shutil.copy(work / f"{step}.log", out / f"{step}-guest.log")
        if not any(p.startswith("/home/dba/") for p in sums) or "/etc/fstab" not in sums:
            raise RuntimeError(f"the checksums miss the server's files: {sorted(sums)[:20]}")
        (out / "checksums.json").write_text(json.dumps(sums, indent=1, sort_keys=True) + "\n")
        for name in ("root_key", "root_key.pub"):
            shutil.copy2(work / name, out / name)
    facts = {
        "hostname": HOSTNAME,
        "mac": MAC,
        "address": ADDRESS,
        "gateway": GATEWAY,
        "volume_group": "vg0",
        "seconds": timings,
    }
    (out / COMPLETE).write_text(json.dumps(facts, indent=1) + "\n")


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]))
