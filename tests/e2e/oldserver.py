"""The end-to-end lab's first source machine: an old physical Debian server.

Built from real Debian packages (the cached mmdebstrap tarball of
tests/integration/debian.py with sshd and dbus added) onto a 4 GiB disk laid
out as servers were installed years ago:

- msdos table: sda1 /boot (ext3), sda2 / (ext4), sda3 swap, sda4 /home (ext4);
- /etc/fstab by kernel names (/dev/sda1 ...);
- ifupdown with a static address on eth0, eth0 bound to the board's MAC by
  a 70-persistent-net.rules line;
- the console on the second serial port (IPMI serial-over-LAN style:
  ``console=ttyS1``, GRUB on unit 1), which the instance does not have;
- GRUB in the MBR (grub-install and update-grub run in a chroot on the
  loop device), root's and a user's SSH keys, some data in /home.

It is then booted once under QEMU (IDE disk: /dev/sda; e1000 NIC with the
board's MAC on restricted user networking: no packet leaves QEMU) to a login
prompt on ttyS1 and powered off by ACPI, which proves it is a working machine
and leaves it cleanly shut down, as a machine is before its live boot.

    python -m tests.e2e.oldserver TARBALL OUTDIR

writes OUTDIR/disk.img, checksums.json (sha256 of every regular file under
/etc, /home and /usr/bin, taken after the proof boot), root_key (the private
key of root's authorized key), host_key.pub (the server's ed25519 host key),
facts.json and proof-boot.log.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from tests.e2e import servers
from tests.e2e.servers import persistent_net_rules
from tests.integration.debian import debian_rootfs, untar_argv
from tests.lab import qemu
from tests.lab.cache import cached_build
from tests.lab.disks import DiskSpec, LoopDisk, PartSpec, attach_image, loop_disk, mounted, mounted_layout
from tests.lab.qemu import proof_boot, tcg_argv

MiB, GiB = 1024**2, 1024**3
HOSTNAME = "oldbox"
DOMAIN = "example.org"
MAC = "00:1e:67:12:34:56"
OLD_ADDRESS = "192.0.2.10"
USER = "admin"
PACKAGES = ("openssh-server", "dbus")
"""Beyond tests/integration/debian.py's: an SSH login, and logind (which
needs dbus) for the ACPI power button the proof boot is ended with."""
CHECKSUM_DIRS = ("/etc", "/home", "/usr/bin")
LOGIN_TIMEOUT = 420.0
POWEROFF_TIMEOUT = 180.0

SPEC = DiskSpec(
    4 * GiB,
    "msdos",
    (
        PartSpec(256 * MiB, "ext3", flags=("boot",), mountpoint="/boot"),
        PartSpec(2560 * MiB, "ext4", mountpoint="/"),
        PartSpec(512 * MiB, "swap"),
        PartSpec(None, "ext4", mountpoint="/home"),
    ),
)

FSTAB = """\
# /etc/fstab: static file system information.
#
# <file system> <mount point>   <type>  <options>       <dump>  <pass>
proc            /proc           proc    defaults        0       0
/dev/sda2       /               ext4    errors=remount-ro 0     1
/dev/sda1       /boot           ext3    defaults        0       2
/dev/sda4       /home           ext4    defaults        0       2
/dev/sda3       none            swap    sw              0       0
"""
INTERFACES = f"""\
# The loopback network interface
auto lo
iface lo inet loopback

# The primary network interface
allow-hotplug eth0
iface eth0 inet static
\taddress {OLD_ADDRESS}
\tnetmask 255.255.255.0
\tgateway 192.0.2.1
\tdns-nameservers 192.0.2.53
"""
PERSISTENT_NET = persistent_net_rules(MAC)
GRUB_DEFAULT = """\
GRUB_DEFAULT=0
GRUB_TIMEOUT=1
GRUB_DISTRIBUTOR=`lsb_release -i -s 2> /dev/null || echo Debian`
GRUB_CMDLINE_LINUX_DEFAULT="quiet"
GRUB_CMDLINE_LINUX="console=tty0 console=ttyS1,115200n8"
GRUB_TERMINAL="console serial"
GRUB_SERIAL_COMMAND="serial --unit=1 --speed=115200"
"""


def run(argv: list[str], **kwargs: object) -> str:
    proc = subprocess.run(argv, capture_output=True, text=True, check=False, **kwargs)  # type: ignore[call-overload]
    if proc.returncode != 0:
        raise RuntimeError(
            f"{' '.join(argv)} failed ({proc.returncode}):\n{proc.stdout[-2000:]}{proc.stderr[-3000:]}"
        )
    return str(proc.stdout)


@contextlib.contextmanager
def chroot_mounts(root: Path, disk: LoopDisk) -> Iterator[None]:
    """/proc, /sys and a private /dev inside ``root`` holding the disk's
    loop devices and the by-uuid links udev would make (update-grub writes
    ``root=UUID=`` only when it finds them)."""
    done: list[Path] = []
    try:
        run(["mount", "-t", "tmpfs", "-o", "mode=0755", "p2v-dev", str(root / "dev")])
        done.append(root / "dev")
        for argv in (["mount", "-t", "proc", "proc", str(root / "proc")],
                     ["mount", "-t", "sysfs", "sysfs", str(root / "sys")]):  # fmt: skip
            run(argv)
            done.append(Path(argv[-1]))
        devices = [disk.path, *(p for p in disk.partitions)]
        run(
            ["cp", "-a", *devices, "/dev/null", "/dev/zero", "/dev/urandom", "/dev/random", str(root / "dev")]
        )
        by_uuid = root / "dev/disk/by-uuid"
        by_uuid.mkdir(parents=True)
        for device in disk.partitions:
            uuid = run(["blkid", "-p", "-o", "value", "-s", "UUID", device]).strip()
            if uuid:
                (by_uuid / uuid).symlink_to(f"../../{Path(device).name}")
        yield
    finally:
        for path in reversed(done):
            subprocess.run(["umount", "-l", str(path)], check=False)


def configure(root: Path, disk: LoopDisk, out: Path) -> None:
    """What the server's admin set up over the years."""
    etc = root / "etc"
    (etc / "fstab").write_text(FSTAB)
    (etc / "hostname").write_text(HOSTNAME + "\n")
    (etc / "hosts").write_text(
        f"127.0.0.1\tlocalhost\n{OLD_ADDRESS}\t{HOSTNAME}.{DOMAIN}\t{HOSTNAME}\n\n"
        "::1\tlocalhost ip6-localhost ip6-loopback\nff02::1\tip6-allnodes\nff02::2\tip6-allrouters\n"
    )
    (etc / "network/interfaces").write_text(INTERFACES)
    (etc / "udev/rules.d").mkdir(parents=True, exist_ok=True)
    (etc / "udev/rules.d/70-persistent-net.rules").write_text(PERSISTENT_NET)
    (etc / "default/grub").write_text(GRUB_DEFAULT)
    (etc / "motd").write_text(f"{HOSTNAME}: production web server. Authorised use only.\n")
    # root's key: the "source machine's own credentials" the lab logs in with
    key = out / "root_key"
    run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", f"admin@{HOSTNAME}", "-f", str(key)])
    ssh_dir = root / "root/.ssh"
    ssh_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    shutil.copy(key.with_suffix(".pub"), ssh_dir / "authorized_keys")
    os.chmod(ssh_dir / "authorized_keys", 0o600)
    with chroot_mounts(root, disk):
        run(["chroot", str(root), "useradd", "--create-home", "--shell", "/bin/bash", USER])
        home = root / "home" / USER
        (home / ".ssh").mkdir(mode=0o700)
        shutil.copy(key.with_suffix(".pub"), home / ".ssh/authorized_keys")
        (home / "notes.txt").write_text("backup rotation: weekly\n" * 200)
        with open(home / "site-backup.tar", "wb") as f:  # a large file for the transfer's tar pass
            f.write(hashlib.sha256(b"site").digest() * (48 * MiB // 32))
        run(["chroot", str(root), "chown", "-R", f"{USER}:{USER}", f"/home/{USER}"])
        run(["chroot", str(root), "grub-install", "--target=i386-pc", disk.path])
        run(["chroot", str(root), "update-grub"])
    shutil.copy(etc / "ssh/ssh_host_ed25519_key.pub", out / "host_key.pub")
    # the same kernel as an admin would put on the nodes for kernel_path (the
    # cluster-kernel variant): the server's own, with its generic initramfs
    (out / "cluster-kernel").mkdir()
    for pattern in ("vmlinuz-*", "initrd.img-*"):
        (found,) = (root / "boot").glob(pattern)
        shutil.copy(found, out / "cluster-kernel" / pattern.split("-")[0])


def build_disk(tarball: Path, out: Path) -> None:
    with loop_disk(SPEC, out / "disk.img") as disk, mounted_layout(disk) as root:
        run(untar_argv(tarball, root))
        configure(root, disk, out)


def qemu_argv(image: Path, serial_log: Path, monitor: Path) -> list[str]:
    return [
        *tcg_argv(1024),
        "-drive", f"file={image},format=raw,if=ide",  # a SATA-style disk: /dev/sda
        "-nic", f"user,restrict=on,model=e1000,mac={MAC}",  # the board's NIC; nothing leaves QEMU
        "-serial", "null",  # ttyS0: nothing there on this server
        "-serial", f"file:{serial_log}",  # ttyS1: its serial-over-LAN console
        "-monitor", f"unix:{monitor},server=on,wait=off",
    ]  # fmt: skip


@contextlib.contextmanager
def source_tree(image: Path) -> Iterator[tuple[Path, Path]]:
    """/ and /home of the server's disk image, mounted read-only without
    journal replay (the image is not written)."""
    # sda1 /boot, sda2 /, sda3 swap, sda4 /home
    with (
        attach_image(image) as disk,
        mounted(f"{disk.path}p2", "ext4", "ro,noload") as root,
        mounted(f"{disk.path}p4", "ext4", "ro,noload") as home,
    ):
        yield root, home


def checksums(image: Path) -> dict[str, str]:
    """sha256 of the regular files under CHECKSUM_DIRS, as the system sees them."""
    sums: dict[str, str] = {}
    with source_tree(image) as (root, home):
        for top in CHECKSUM_DIRS:
            base = home if top == "/home" else root / top.lstrip("/")
            for dirpath, _dirs, files in os.walk(base):
                for name in files:
                    path = Path(dirpath) / name
                    if path.is_file() and not path.is_symlink():
                        inside = top + "/" + str(path.relative_to(base))
                        sums[inside] = hashlib.sha256(path.read_bytes()).hexdigest()
    return dict(sorted(sums.items()))


def main(tarball: Path, out: Path) -> None:
    out.mkdir(parents=True)
    t0 = time.monotonic()
    build_disk(tarball, out)
    built = time.monotonic() - t0
    log, monitor = out / "proof-boot.log", out / "monitor.sock"
    # on ttyS1, then off by the ACPI power button
    boot = proof_boot(qemu_argv(out / "disk.img", log, monitor), log, monitor, f"{HOSTNAME} login:",
                      login_timeout=LOGIN_TIMEOUT, poweroff_timeout=POWEROFF_TIMEOUT)  # fmt: skip
    facts = {"hostname": HOSTNAME, "mac": MAC, "user": USER, "disk_bytes": SPEC.size,
             "seconds_build": round(built, 1), **boot}  # fmt: skip
    (out / "facts.json").write_text(json.dumps(facts, indent=2) + "\n")
    (out / "checksums.json").write_text(json.dumps(checksums(out / "disk.img"), indent=1) + "\n")


@dataclass(frozen=True)
class OldServer:
    """The cached, proof-booted server (never modify ``image``: copy it)."""

    directory: Path

    @property
    def image(self) -> Path:
        return self.directory / "disk.img"

    @property
    def root_key(self) -> Path:
        return self.directory / "root_key"

    @property
    def host_key(self) -> str:
        return (self.directory / "host_key.pub").read_text().split()[1]

    def checksums(self) -> dict[str, str]:
        return dict(json.loads((self.directory / "checksums.json").read_text()))

    def facts(self) -> dict[str, object]:
        return dict(json.loads((self.directory / "facts.json").read_text()))


def old_server() -> OldServer:
    """Built on first use (a few minutes), then taken from the cache."""
    tarball = debian_rootfs(extra=PACKAGES)
    build = [sys.executable, "-m", "tests.e2e.oldserver", str(tarball)]
    name = f"p2v-e2e-oldserver-{tarball.stem.removeprefix('debian-')}"
    inputs = [Path(__file__), Path(qemu.__file__), Path(servers.__file__)]
    return OldServer(cached_build(name, inputs, build, complete="checksums.json", timeout=1800))


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]))
