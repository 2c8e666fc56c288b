"""The bootstrap OS booted the way Ganeti's KVM hypervisor boots it: an
instance disk written by the real ``osdef/p2v-target/create``, QEMU (TCG)
with ``-kernel p2v-bootstrap-vmlinuz -initrd p2v-bootstrap-initrd.img
-append "root=/dev/vda1 ro console=ttyS0,38400"``, a virtio disk and NIC.

At 256 MiB: the console shows the host key fingerprint, root logs in over
SSH with the instance key and the pinned host key (any other key is
refused), ``/`` is a tmpfs, /dev/vda is free to be repartitioned and
formatted, files a create hook put on the disk are identical in RAM, and the
commands p2v runs work. Smaller memory sizes either boot or stop with the
ramboot message, never half-booted. Figures are printed and written to
``measurements.json`` beside the cached artifacts.

Root and slow; QEMU user networking forwards only 127.0.0.1:PORT to the
guest's port 22."""

from __future__ import annotations

import contextlib
import json
import re
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from p2v_tui.model.units import MiB
from tests.bootstrap.artifacts import Artifacts, bootstrap_artifacts
from tests.lab.cache import REPO
from tests.lab.compare import compare_trees
from tests.lab.disks import attach_image, mounted, require
from tests.lab.netns import stop_popen
from tests.lab.qemu import tcg_argv

pytestmark = [pytest.mark.root, pytest.mark.slow]

CREATE = REPO / "osdef" / "p2v-target" / "create"
MAC = "52:54:00:9a:7b:01"
INSTANCE = "p2vboot.example.org"
# Ganeti's KVM command line for kernel_path boots: root=<root_path>
# <kernel_args> console=ttyS0,<serial_speed> with the default hv params
APPEND = "root=/dev/vda1 ro console=ttyS0,38400"
# put on the disk by a create hook, compared in the RAM root
HOOK = r"""#!/bin/sh
set -eu
d="$TARGET/srv/p2v-check"
mkdir -p "$d/sub" "$d/.hidden-dir"
echo secret > "$d/.dotfile"
echo data > "$d/sub/owned"
chown 1234:5678 "$d/sub/owned"
chmod 0640 "$d/sub/owned"
printf '\177ELF' > "$d/setuid"
chmod 4755 "$d/setuid"
ln "$d/sub/owned" "$d/hardlink"
ln -s sub/owned "$d/symlink"
mknod "$d/null" c 1 3
mkfifo "$d/fifo"
setfattr -n trusted.p2v -v kept "$d/sub/owned"
setfattr -n security.capability -v 0sAQAAAgAgAAAAAAAAAAAAAAAAAAA= "$d/setuid"
setfacl -m u:1234:rwx "$d/sub"
setfacl -d -m g:5678:r-x "$d/sub"
touch -d '2001-02-03 04:05:06.123456789' "$d/.dotfile"
"""
# the commands p2v runs on the target (README), each must start here
ENGINE_COMMANDS = (
    "sfdisk --version && wipefs --version && partx --version && blkid --version && blockdev --version"
    " && mkfs.ext2 -V && mkfs.ext3 -V && mkfs.ext4 -V && mkfs.xfs -V && mkfs.btrfs --version"
    " && mkfs.vfat --help >/dev/null && mkswap --version && btrfs --version && rsync --version"
    " && tar --version && find --version && chroot --version && mount --version && umount --version"
    " && stat --version && touch --version && fallocate --version && udevadm --version"
    " && lvm version && mdadm --version && grub-install --version && parted --version"
    " && command -v chattr && ssh -V"
)
REPARTITION = (
    "set -e; printf 'label: dos\\nstart=1MiB, size=300MiB\\nstart=, type=83\\n' | sfdisk --quiet /dev/vda"
    " && udevadm settle && mkfs.ext4 -q -F /dev/vda2 && mkfs.xfs -q -f /dev/vda1"
    " && mount /dev/vda2 /mnt && touch /mnt/written"
    " && LC_ALL=C chattr +i /mnt/written && chattr -i /mnt/written && umount /mnt"
    " && mount /dev/vda1 /mnt && umount /mnt && sfdisk --dump /dev/vda"
)


@dataclass(frozen=True)
class Instance:
    image: Path
    key: Path
    known_hosts_line: str
    fingerprint: str


@dataclass
class Guest:
    port: int
    log: Path
    known_hosts: Path
    key: Path
    started: float

    def ssh(
        self, command: str, *, key: Path | None = None, timeout: float = 120
    ) -> subprocess.CompletedProcess[str]:
        argv = [
            "ssh",
            "-p", str(self.port),
            "-i", str(key or self.key),
            "-o", "BatchMode=yes",
            "-o", "IdentitiesOnly=yes",
            "-o", "StrictHostKeyChecking=yes",  # the pinned host key, nothing else
            "-o", f"UserKnownHostsFile={self.known_hosts}",
            "-o", "ConnectTimeout=10",
            "root@127.0.0.1",
            command,
        ]  # fmt: skip
        return subprocess.run(argv, capture_output=True, text=True, timeout=timeout)

    def console(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def artifacts() -> Artifacts:
    return bootstrap_artifacts()


@pytest.fixture(scope="module")
def instance(artifacts: Artifacts, tmp_path_factory: pytest.TempPathFactory) -> Instance:
    """A 1 GiB instance disk (file template) written by the real create."""
    if not CREATE.exists():
        pytest.skip("osdef/p2v-target/create does not exist yet")
    require("qemu-system-x86_64", "ssh", "setfattr", "setfacl")
    work = tmp_path_factory.mktemp("instance")
    image = work / "disk0.img"
    with open(image, "wb") as f:
        f.truncate(1024 * MiB)
    key = work / "id_ed25519"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True)
    confdir = work / "conf"
    (confdir / "hooks").mkdir(parents=True)
    hook = confdir / "hooks" / "50-p2v-check"
    hook.write_text(HOOK)
    hook.chmod(0o755)
    config = work / "ganeti-instance-p2v-target"
    config.write_text(f"ROOTFS_IMAGE={artifacts.rootfs}\n")
    env = {
        "PATH": "/usr/sbin:/usr/bin:/sbin:/bin",
        "P2V_TARGET_CONFIG": str(config),
        "P2V_TARGET_CONFDIR": str(confdir),
        "INSTANCE_NAME": INSTANCE,
        "DISK_COUNT": "1",
        "DISK_0_PATH": str(image),
        "DISK_0_SIZE": "1024",
        "NIC_COUNT": "1",
        "NIC_0_MAC": MAC,
        "OSP_SSH_KEY": (work / "id_ed25519.pub").read_text().strip(),
        "HYPERVISOR": "kvm",
        "INSTANCE_HV_serial_console": "True",
        "INSTANCE_HV_disk_type": "paravirtual",
        "INSTANCE_HV_root_path": "/dev/vda1",
        "OS_VARIANT": "default",
        "OS_API_VERSION": "20",
    }
    proc = subprocess.run([str(CREATE)], env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    line = next(x for x in proc.stdout.splitlines() if x.startswith("p2v-target host key: "))
    fingerprint = line.removeprefix("p2v-target host key: ").strip()
    with attach_image(image) as disk, mounted(f"{disk.path}p1", "ext4", "ro") as root:
        host_key = (root / "etc/ssh/ssh_host_ed25519_key.pub").read_text().split()
    return Instance(image, key, f"{host_key[0]} {host_key[1]}", fingerprint)


@contextlib.contextmanager
def booted(instance: Instance, work: Path, memory_mib: int, append: str = APPEND) -> Iterator[Guest]:
    """QEMU running the instance disk (as a snapshot: the disk file is
    unchanged for the next boot); stopped by its PID on exit."""
    artifacts = bootstrap_artifacts()
    port = free_port()
    log = work / f"serial-{memory_mib}.log"
    known_hosts = work / "known_hosts"
    known_hosts.write_text(f"[127.0.0.1]:{port} {instance.known_hosts_line}\n")
    argv = [
        *tcg_argv(memory_mib),
        "-kernel", str(artifacts.vmlinuz),
        "-initrd", str(artifacts.initrd),
        "-append", append,
        "-drive", f"file={instance.image},format=raw,if=virtio,snapshot=on",
        "-nic", f"user,model=virtio-net-pci,mac={MAC},hostfwd=tcp:127.0.0.1:{port}-:22",  # loopback only
        "-serial", f"file:{log}",
        "-monitor", "none",
    ]  # fmt: skip
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        yield Guest(port, log, known_hosts, instance.key, time.monotonic())
    finally:
        stop_popen(proc, grace=20)


STOPPED = ("p2v-ramboot: FAILED", "Kernel panic", "(initramfs)")


def wait_for_ssh(guest: Guest, timeout: float = 300) -> float | None:
    """Seconds from start until root's SSH login works; None when the boot
    stopped (console) or the time ran out."""
    deadline = guest.started + timeout
    while time.monotonic() < deadline:
        if any(marker in guest.console() for marker in STOPPED):
            return None
        try:
            if guest.ssh("true", timeout=30).returncode == 0:
                return time.monotonic() - guest.started
        except subprocess.TimeoutExpired:
            pass
        time.sleep(2)
    return None


def record(name: str, values: dict[str, object]) -> None:
    path = bootstrap_artifacts().directory / "measurements.json"
    data = json.loads(path.read_text()) if path.exists() else {}
    data[name] = values
    path.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")
    print(f"\n{name}: {json.dumps(values, sort_keys=True)}")


def meminfo(guest: Guest) -> dict[str, int]:
    text = guest.ssh("cat /proc/meminfo").stdout
    return {line.split(":")[0]: int(line.split()[1]) for line in text.splitlines()}


def test_boots_from_ram_at_256_mib_and_frees_the_disk(instance: Instance, tmp_path: Path) -> None:
    with booted(instance, tmp_path, 256) as guest:
        seconds = wait_for_ssh(guest)
        console = guest.console()
        assert seconds is not None, console[-4000:]
        # the fingerprint create printed is on the console (/etc/issue)
        assert f"p2v-target host key: {instance.fingerprint}" in console, console[-3000:]
        assert "p2v-ramboot: / is a tmpfs" in console

        # only the instance key gets in
        other = tmp_path / "other_key"
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(other)], check=True)
        refused = guest.ssh("true", key=other)
        assert refused.returncode == 255 and "Permission denied" in refused.stderr

        root = guest.ssh("findmnt -n -o FSTYPE,SOURCE /").stdout.split()
        assert root[0] == "tmpfs", root
        assert guest.ssh("findmnt --source /dev/vda1").returncode == 1
        assert "vda" not in guest.ssh("cat /proc/mounts").stdout
        assert guest.ssh("hostname").stdout.strip() == INSTANCE  # /etc/hostname from create

        mem = meminfo(guest)
        df = guest.ssh("df -k --output=size,used /").stdout.split()
        zram = guest.ssh("cat /sys/block/zram0/mm_stat").stdout.split()

        # files from the create hook: same owners, modes, times, xattrs,
        # ACLs, hard links, device nodes, dotfiles after the copy into RAM
        back = tmp_path / "from-ram"
        back.mkdir()
        with subprocess.Popen(
            ["ssh", "-p", str(guest.port), "-i", str(guest.key), "-o", "BatchMode=yes",
             "-o", f"UserKnownHostsFile={guest.known_hosts}", "-o", "StrictHostKeyChecking=yes",
             "root@127.0.0.1",
             "tar -C /srv/p2v-check --format=posix --xattrs --xattrs-include='*' --acls --numeric-owner"
             " -cf - ."],
            stdout=subprocess.PIPE,
        ) as sender:  # fmt: skip
            subprocess.run(["tar", "-C", str(back), "--xattrs", "--xattrs-include=*", "--acls",
                            "--numeric-owner", "-xpf", "-"], stdin=sender.stdout, check=True)  # fmt: skip
        assert sender.returncode == 0
        with attach_image(instance.image) as disk, mounted(f"{disk.path}p1", "ext4", "ro") as disk_root:
            differences = compare_trees(disk_root / "srv/p2v-check", back, symlink_mtime=True)
        assert differences == []

        engine = guest.ssh(ENGINE_COMMANDS)
        assert engine.returncode == 0, engine.stderr[-2000:]
        sftp = subprocess.run(
            ["sftp", "-P", str(guest.port), "-i", str(guest.key), "-o", "BatchMode=yes",
             "-o", f"UserKnownHostsFile={guest.known_hosts}", "-o", "StrictHostKeyChecking=yes",
             "-b", "-", "root@127.0.0.1"],
            input="ls /etc/p2v-target\n", capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        assert sftp.returncode == 0 and "instance.json" in sftp.stdout, sftp.stderr

        # the disk is free: a new table, new filesystems, mounted and gone
        repartitioned = guest.ssh(REPARTITION)
        assert repartitioned.returncode == 0, repartitioned.stderr[-2000:]
        assert re.search(r"^/dev/vda2 : start=\s*616448,", repartitioned.stdout, re.MULTILINE), (
            repartitioned.stdout
        )
        record(
            "boot-256MiB",
            {
                "seconds_to_ssh": round(seconds, 1),
                "MemTotal_kib": mem["MemTotal"],
                "MemAvailable_kib": mem["MemAvailable"],
                "SwapFree_kib": mem["SwapFree"],
                "Shmem_kib": mem["Shmem"],
                "tmpfs_size_kib": int(df[2]),
                "tmpfs_used_kib": int(df[3]),
                "zram_orig_bytes": int(zram[0]),
                "zram_compressed_bytes": int(zram[1]),
                "zram_mem_used_bytes": int(zram[2]),
                "rootfs_tar_zst_bytes": bootstrap_artifacts().rootfs.stat().st_size,
                "initrd_bytes": bootstrap_artifacts().initrd.stat().st_size,
                "vmlinuz_bytes": bootstrap_artifacts().vmlinuz.stat().st_size,
            },
        )


def test_smaller_memory_boots_or_stops_with_the_ramboot_message(instance: Instance, tmp_path: Path) -> None:
    results: dict[str, object] = {}
    for memory in (192, 160, 128):
        with booted(instance, tmp_path, memory) as guest:
            seconds = wait_for_ssh(guest)
            console = guest.console()
            if seconds is None:
                # never half a root: the boot stops with the reason
                assert "p2v-ramboot: FAILED" in console, console[-4000:]
                assert "login:" not in console
                results[f"{memory}MiB"] = (
                    "stopped: " + console.split("p2v-ramboot: FAILED: ")[1].split(".")[0]
                )
                continue
            assert guest.ssh("findmnt -n -o FSTYPE /").stdout.strip() == "tmpfs"
            mem = meminfo(guest)
            results[f"{memory}MiB"] = {
                "seconds_to_ssh": round(seconds, 1),
                "MemTotal_kib": mem["MemTotal"],
                "MemAvailable_kib": mem["MemAvailable"],
                "mkfs_ext4_runs": guest.ssh("mkfs.ext4 -q -F /dev/vda1").returncode == 0,
            }
    record("smaller-memory", results)


def test_p2v_ramboot_0_boots_from_the_disk(instance: Instance, tmp_path: Path) -> None:
    with booted(instance, tmp_path, 256, APPEND + " p2v_ramboot=0") as guest:
        assert wait_for_ssh(guest) is not None, guest.console()[-4000:]
        assert guest.ssh("findmnt -n -o SOURCE /").stdout.strip() == "/dev/vda1"
        assert "p2v-ramboot: p2v_ramboot=0" in guest.console()
