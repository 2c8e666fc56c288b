"""The ramboot initrd's local-bottom script (initrd/scripts/local-bottom/
p2v-ramboot), its functions run directly: the tmpfs size from the content,
the kernel command line switches, and the copy itself from a read-only ext4
on a loop device into a tmpfs, compared attribute by attribute."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from p2v_tui.model.units import MiB
from tests.lab.compare import compare_trees
from tests.lab.disks import DiskSpec, PartSpec, loop_disk, mounted, require

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "initrd" / "scripts" / "local-bottom" / "p2v-ramboot"
# dash (/bin/sh) as on the build host, busybox sh as in the initramfs
SHELLS = [s for s in (["sh"], ["busybox", "sh"]) if shutil.which(s[0])]


def call(shell: list[str], snippet: str, **env: str) -> str:
    proc = subprocess.run(
        [*shell, "-c", f'. "$0"; {snippet}', str(SCRIPT)],
        capture_output=True,
        text=True,
        env={"PATH": os.environ["PATH"], "P2V_RAMBOOT_LIB": "1", **env},
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.strip()


@pytest.mark.parametrize("shell", SHELLS, ids=" ".join)
@pytest.mark.parametrize(
    ("used_kib", "margin_mib", "size_kib"),
    [
        (190_000, "", 190_000 + 65_536),  # small roots get at least 64 MiB of room
        (1_000_000, "", 1_250_000),  # larger ones a quarter of their content
        (190_000, "16", 190_000 + 16_384),  # p2v_ramboot_margin=16
        (0, "", 65_536),
    ],
)
def test_tmpfs_size_is_content_plus_margin(
    shell: list[str], used_kib: int, margin_mib: str, size_kib: int
) -> None:
    assert call(shell, f'ramboot_tmpfs_kib {used_kib} "{margin_mib}"') == str(size_kib)


@pytest.mark.parametrize("shell", SHELLS, ids=" ".join)
@pytest.mark.parametrize(
    ("cmdline", "disabled"),
    [
        ("root=/dev/vda1 ro console=ttyS0,38400", False),
        ("root=/dev/vda1 ro p2v_ramboot=0 console=ttyS0,38400", True),
        ("root=/dev/vda1 p2v_ramboot=off", True),
        ("root=/dev/vda1 p2v_ramboot=1", False),
        ("root=/dev/vda1 xp2v_ramboot=0", False),
    ],
)
def test_kernel_command_line_turns_the_copy_off(shell: list[str], cmdline: str, disabled: bool) -> None:
    answer = call(shell, f'if ramboot_disabled "{cmdline}"; then echo off; else echo on; fi')
    assert answer == ("off" if disabled else "on")


def test_parameters_and_available_memory_are_read(tmp_path: Path) -> None:
    # recorded in the bootstrap OS at -m 256, in the initramfs
    meminfo = tmp_path / "meminfo"
    meminfo.write_text(
        "MemTotal:         208472 kB\nMemFree:          150912 kB\nMemAvailable:     139708 kB\n"
        "Buffers:               0 kB\n"
    )
    shell = SHELLS[0]
    assert call(shell, f"ramboot_available_kib {meminfo}") == "139708"
    assert call(shell, "ramboot_param p2v_ramboot_margin 'ro p2v_ramboot_margin=32 quiet'") == "32"
    assert call(shell, "ramboot_param p2v_ramboot_margin 'ro quiet'") == ""


def populate(root: Path) -> None:
    """Everything a root filesystem holds that a careless copy loses."""
    (root / "etc/ssh").mkdir(parents=True)
    (root / "etc/ssh/ssh_host_ed25519_key").write_text("-----BEGIN OPENSSH PRIVATE KEY-----\n")
    os.chmod(root / "etc/ssh/ssh_host_ed25519_key", 0o600)
    (root / "root/.ssh").mkdir(parents=True)
    os.chmod(root / "root", 0o700)
    (root / "root/.ssh/authorized_keys").write_text("ssh-ed25519 AAAA test\n")
    (root / ".dotfile-at-top").write_text("hidden\n")
    (root / "home/user").mkdir(parents=True)
    (root / "home/user/.profile").write_text("PS1='$ '\n")
    os.chown(root / "home/user", 1234, 5678)
    os.chown(root / "home/user/.profile", 1234, 5678)
    (root / "usr/bin").mkdir(parents=True)
    (root / "usr/bin/su").write_bytes(b"\x7fELF setuid")
    os.chmod(root / "usr/bin/su", 0o4755)
    (root / "usr/bin/ping").write_bytes(b"\x7fELF caps")
    # file capability: the security namespace, which tmpfs keeps
    subprocess.run(["setfattr", "-n", "security.capability", "-v",
                    "0sAQAAAgAgAAAAAAAAAAAAAAAAAAA=", str(root / "usr/bin/ping")], check=True)  # fmt: skip
    subprocess.run(["setfattr", "-n", "trusted.p2v", "-v", "kept", str(root / "usr/bin/ping")], check=True)
    (root / "tmp").mkdir()
    os.chmod(root / "tmp", 0o1777)
    (root / "srv/shared").mkdir(parents=True)
    subprocess.run(["setfacl", "-m", "u:1234:rwx,g:5678:r-x", str(root / "srv/shared")], check=True)
    subprocess.run(["setfacl", "-d", "-m", "u:1234:rwx", str(root / "srv/shared")], check=True)
    (root / "usr/bin/vi").write_bytes(b"\x7fELF editor")
    os.link(root / "usr/bin/vi", root / "usr/bin/ex")
    os.link(root / "usr/bin/vi", root / "usr/bin/view")
    os.symlink("vi", root / "usr/bin/vim")
    os.symlink("/nowhere/at/all", root / "usr/bin/dangling")
    (root / "dev").mkdir()
    os.mknod(root / "dev/null", 0o20666, os.makedev(1, 3))
    os.mknod(root / "dev/vda", 0o60660, os.makedev(254, 0))
    os.mkfifo(root / "dev/initctl")
    with open(root / "var-sparse.img", "wb") as f:
        f.seek(8 * MiB)
        f.write(b"end")
    os.utime(root / "usr/bin/vi", ns=(1_600_000_000_123_456_789, 1_500_000_000_987_654_321))


@pytest.mark.root
def test_copy_keeps_every_attribute_from_a_read_only_ext4(tmp_path: Path) -> None:
    require("mkfs.ext4", "setfacl", "setfattr", "cp", "du")
    spec = DiskSpec(96 * MiB, None, (PartSpec(None, "ext4", mountpoint="/"),))
    with loop_disk(spec, tmp_path / "root.img") as disk:
        with mounted(disk.partitions[0], "ext4") as root:
            populate(root)
        # the initramfs mounts the root read-only (kernel command line ro)
        with mounted(disk.partitions[0], "ext4", "ro") as root:
            shell = SHELLS[0]
            used = int(call(shell, f"ramboot_used_kib {root}"))
            # what du -skx says the tree occupies: the sparse file counts
            # only its allocated block
            assert 0 < used < 1024, used
            size = int(call(shell, f"ramboot_tmpfs_kib {used}"))
            ram = tmp_path / "ram"
            ram.mkdir()
            subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}k,mode=0755", "p2v-test", str(ram)],
                           check=True)  # fmt: skip
            try:
                call(shell, f"ramboot_copy {root} {ram}", P2V_RAMBOOT_CP=shutil.which("cp") or "cp")
                differences = compare_trees(root, ram, symlink_mtime=True)
                assert differences == []
                # the sparse file stays sparse in RAM
                assert os.stat(ram / "var-sparse.img").st_blocks * 512 < 1 * MiB
                assert sorted(p.name for p in ram.iterdir() if p.name.startswith(".")) == [".dotfile-at-top"]
            finally:
                subprocess.run(["umount", str(ram)], check=True)
