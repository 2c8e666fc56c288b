"""The built bootstrap OS tarball, unpacked: the tools p2v runs on the
target work in a chroot, no per-instance identity is baked in (host keys,
machine-id, root password), no package mirror is named, the kernel's
modules are pruned but complete, and the manifest matches the files.

Root and slow: builds the artifacts with mmdebstrap once (cached)."""

from __future__ import annotations

import contextlib
import hashlib
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.bootstrap.artifacts import Artifacts, bootstrap_artifacts

pytestmark = [pytest.mark.root, pytest.mark.slow]

# what p2v runs on the target (README) and the contract's tool list
TOOLS = [
    ["sfdisk", "--version"],
    ["fdisk", "--version"],
    ["wipefs", "--version"],
    ["partx", "--version"],
    ["blkid", "--version"],
    ["blockdev", "--version"],
    ["parted", "--version"],
    ["mkfs.ext2", "-V"],
    ["mkfs.ext3", "-V"],
    ["mkfs.ext4", "-V"],
    ["mkfs.xfs", "-V"],
    ["mkfs.btrfs", "--version"],
    ["btrfs", "--version"],
    ["mkfs.vfat", "--help"],
    ["mkswap", "--version"],
    ["lvm", "version"],
    ["mdadm", "--version"],
    ["grub-install", "--version"],
    ["grub-mkimage", "--version"],
    ["rsync", "--version"],
    ["ssh", "-V"],  # a warm pass: the target's rsync pulls from the running server
    ["tar", "--version"],
    ["zstd", "--version"],
    ["find", "--version"],
    ["chroot", "--version"],
    ["mount", "--version"],
    ["umount", "--version"],
    ["stat", "--version"],
    ["touch", "--version"],
    ["chattr", "-V", "-i", "/etc/hostname"],
    ["fallocate", "--version"],
    ["udevadm", "--version"],
    ["kmod", "--version"],
    ["ip", "-V"],
    ["findmnt", "--version"],
    ["/usr/lib/openssh/sftp-server", "-h"],
]


@pytest.fixture(scope="module")
def artifacts() -> Artifacts:
    return bootstrap_artifacts()


@pytest.fixture(scope="module")
def tree(artifacts: Artifacts, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    root = tmp_path_factory.mktemp("bootstrap-root")
    untar = ["tar", "-C", str(root), "--xattrs", "--xattrs-include=*", "--acls", "--numeric-owner",
             "--zstd", "-xpf", str(artifacts.rootfs)]  # fmt: skip
    subprocess.run(untar, check=True)
    yield root
    shutil.rmtree(root)


@contextlib.contextmanager
def api_filesystems(root: Path) -> Iterator[None]:
    mounted: list[Path] = []
    try:
        for name, argv in (("proc", ["-t", "proc", "proc"]), ("dev", ["--bind", "/dev"])):
            target = root / name
            subprocess.run(["mount", *argv, str(target)], check=True)
            mounted.append(target)
        yield
    finally:
        for target in reversed(mounted):
            subprocess.run(["umount", str(target)], check=True)


def test_manifest_lists_the_files_with_their_sha256(artifacts: Artifacts) -> None:
    text = artifacts.manifest.read_text()
    sums = dict(
        (name, digest) for digest, name in re.findall(r"^sha256: ([0-9a-f]{64})  (\S+)$", text, re.MULTILINE)
    )
    assert set(sums) == {artifacts.rootfs.name, artifacts.vmlinuz.name, artifacts.initrd.name}
    for path in (artifacts.rootfs, artifacts.vmlinuz, artifacts.initrd):
        assert hashlib.sha256(path.read_bytes()).hexdigest() == sums[path.name], path.name
        assert f"size: {path.stat().st_size} {path.name}" in text
    assert re.search(r"^kernel: \d+\.\d+\.\d+-\d+-amd64$", text, re.MULTILINE), text


@pytest.mark.parametrize("argv", TOOLS, ids=lambda a: a[0].rsplit("/", 1)[-1])
def test_tool_runs_in_a_chroot_of_the_image(tree: Path, argv: list[str]) -> None:
    with api_filesystems(tree):
        proc = subprocess.run(["chroot", str(tree), *argv], capture_output=True, text=True,
                              env={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LC_ALL": "C"})  # fmt: skip
    assert proc.returncode in ((0, 1) if argv[-1] in ("-h", "--help") else (0,)), proc.stderr
    assert "not found" not in proc.stderr and "error while loading shared libraries" not in proc.stderr


def test_sshd_accepts_its_configuration_with_a_host_key(tree: Path, tmp_path: Path) -> None:
    # the image has no host key: `create` writes one per instance
    copy = tmp_path / "root"
    subprocess.run(["cp", "-a", str(tree), str(copy)], check=True)
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f",
                    str(copy / "etc/ssh/ssh_host_ed25519_key")], check=True)  # fmt: skip
    (copy / "run/sshd").mkdir(parents=True, exist_ok=True)
    with api_filesystems(copy):
        proc = subprocess.run(["chroot", str(copy), "/usr/sbin/sshd", "-t"], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    sftp = subprocess.run(["chroot", str(copy), "/usr/sbin/sshd", "-T"], capture_output=True, text=True)
    assert "subsystem sftp /usr/lib/openssh/sftp-server" in sftp.stdout


def test_no_identity_is_baked_in(tree: Path) -> None:
    assert sorted(p.name for p in (tree / "etc/ssh").glob("ssh_host_*")) == []
    assert (tree / "etc/machine-id").read_text() == ""
    shadow = dict(line.split(":", 2)[:2] for line in (tree / "etc/shadow").read_text().splitlines())
    assert shadow["root"].startswith("!"), "root is not locked"
    assert not (tree / "root/.ssh/authorized_keys").exists()


def test_apt_sources_name_no_mirror(tree: Path) -> None:
    sources = [tree / "etc/apt/sources.list", *sorted((tree / "etc/apt/sources.list.d").glob("*"))]
    for path in sources:
        for line in path.read_text().splitlines():
            assert line.startswith("#") or not line.strip(), f"{path}: {line}"
    # nor anywhere else apt reads configuration from
    found = subprocess.run(
        ["grep", "-rlE", "^(deb|URIs:)", str(tree / "etc/apt")], capture_output=True, text=True
    )
    assert found.stdout == ""


def test_no_docs_manuals_or_kernel_in_boot(tree: Path) -> None:
    assert sorted(p.name for p in (tree / "boot").iterdir()) == []
    for directory in ("usr/share/man", "usr/share/locale", "usr/share/info", "usr/share/doc"):
        files = [p for p in (tree / directory).rglob("*") if p.is_file() and p.name != "copyright"]
        assert files == [], directory


def test_modules_are_pruned_but_everything_needed_loads(tree: Path) -> None:
    (kver_dir,) = (tree / "usr/lib/modules").iterdir()
    size = sum(p.stat().st_size for p in kver_dir.rglob("*") if p.is_file())
    assert size < 16 * 1024 * 1024, f"{size} bytes of modules kept"
    wanted = ["virtio_blk", "virtio_net", "virtio_scsi", "ext4", "xfs", "btrfs", "vfat", "nls_cp437",
              "nls_ascii", "nls_utf8", "dm_mod", "dm_snapshot", "dm_thin_pool", "dm_mirror", "md_mod",
              "raid0", "raid1", "raid10", "raid456", "loop", "zram"]  # fmt: skip
    for module in wanted:
        argv = ["chroot", str(tree), "modprobe", "--show-depends", "-S", kver_dir.name, module]
        proc = subprocess.run(argv, capture_output=True, text=True)
        assert proc.returncode == 0, f"{module}: {proc.stderr}"
        # every file the load needs is in the image
        for path in re.findall(r"^insmod (\S+)", proc.stdout, re.MULTILINE):
            assert (tree / path.lstrip("/")).exists(), f"{module} needs {path}"
    assert not list(kver_dir.rglob("bochs*")) and not list(kver_dir.rglob("snd*"))


def test_systemd_networkd_on_and_noisy_units_masked(tree: Path) -> None:
    wants = tree / "etc/systemd/system/multi-user.target.wants"
    assert (wants / "systemd-networkd.service").exists()
    for unit in ("apt-daily.timer", "e2scrub_all.timer", "lvm2-monitor.service", "mdmonitor.service"):
        assert (tree / "etc/systemd/system" / unit).resolve() == Path("/dev/null"), unit
    # the instance's disks stay untouched until p2v acts: no LVM/md autostart
    assert "AUTO -all" in (tree / "etc/mdadm/mdadm.conf").read_text()
    assert (tree / "etc/udev/rules.d/69-lvm.rules").read_text().startswith("#")
