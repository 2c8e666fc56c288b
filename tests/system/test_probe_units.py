"""Probe parts that need no root: the source tree, OS facts, the config
snapshot, disk usage, the command runner, /sys/block listing."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

from p2v_tui.model.config_paths import MAX_CONFIG_BYTES
from p2v_tui.model.parsers import parse_proc_mounts
from p2v_tui.system.du import largest_dirs, tree_size
from p2v_tui.system.probe import live_mounts as host_mounts
from p2v_tui.system.probe.config import snapshot_config
from p2v_tui.system.probe.disks import is_removable, list_disks, unreadable_disk
from p2v_tui.system.probe.lvm import probe_volume_groups
from p2v_tui.system.probe.md import probe_md_arrays
from p2v_tui.system.probe.osinfo import detect_init, detect_os
from p2v_tui.system.probe.tree import SourceTree
from p2v_tui.system.runner import (
    CommandError,
    CommandNotFoundError,
    CommandTimeoutError,
    LocalRunner,
)
from tests.lab.recorded import RecordedRunner


def write(root: Path, path: str, text: str = "", mode: int = 0o644) -> Path:
    p = root / path.lstrip("/")
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(text)
    p.chmod(mode)
    return p


def link(root: Path, path: str, target: str) -> None:
    p = root / path.lstrip("/")
    p.parent.mkdir(parents=True, exist_ok=True)
    p.symlink_to(target)


# --- SourceTree -------------------------------------------------------------------


@pytest.fixture
def split_tree(tmp_path: Path) -> tuple[SourceTree, Path, Path]:
    """A root filesystem and a separate /boot, in unrelated host directories."""
    root, boot = tmp_path / "fs-root", tmp_path / "fs-boot"
    write(root, "/etc/hostname", "oldbox\n")
    (root / "boot").mkdir(parents=True)
    write(root, "/boot/hidden-under-mount", "shadowed by the /boot filesystem")
    write(boot, "/vmlinuz-6.1.0-18-amd64", "kernel")
    write(boot, "/grub/grub.cfg", "menuentry")
    link(root, "/etc/resolv.conf", "../run/resolvconf/resolv.conf")
    link(root, "/etc/abs", "/boot/grub/grub.cfg")
    link(root, "/etc/escape", "../../../../../../etc/passwd")
    link(root, "/etc/loop1", "loop2")
    link(root, "/etc/loop2", "loop1")
    link(root, "/vmlinuz", "boot/vmlinuz-6.1.0-18-amd64")
    tree = SourceTree({"/": str(root), "/boot": str(boot)}, {"/": "/dev/sdb2", "/boot": "/dev/sdb1"})
    return tree, root, boot


def test_tree_maps_paths_to_the_right_mount(split_tree: tuple[SourceTree, Path, Path]) -> None:
    tree, root, boot = split_tree
    assert tree.host_path("/etc/hostname") == str(root / "etc/hostname")
    assert tree.host_path("/boot/grub/grub.cfg") == str(boot / "grub/grub.cfg")
    assert tree.read_text("/boot/grub/grub.cfg") == "menuentry"
    assert tree.read_text("/boot/hidden-under-mount") is None
    assert tree.device_of("/boot/grub/grub.cfg") == "/dev/sdb1"
    assert tree.device_of("/etc/hostname") == "/dev/sdb2"


def test_tree_symlinks_resolve_inside_the_source(split_tree: tuple[SourceTree, Path, Path]) -> None:
    tree = split_tree[0]
    assert tree.resolve("/etc/abs") == "/boot/grub/grub.cfg"
    assert tree.read_text("/etc/abs") == "menuentry"
    assert tree.resolve("/vmlinuz") == "/boot/vmlinuz-6.1.0-18-amd64"
    assert tree.device_of("/vmlinuz") == "/dev/sdb2"  # the link itself lives on /
    # ../../.. stops at the source's root: the live system's /etc/passwd is never read.
    assert tree.resolve("/etc/escape") is None
    assert tree.read_text("/etc/escape") is None
    # A link to the source's (empty) /run does not reach the live /run.
    assert tree.resolve("/etc/resolv.conf") is None
    assert tree.readlink("/etc/resolv.conf") == "../run/resolvconf/resolv.conf"
    assert tree.resolve("/etc/loop1") is None
    assert tree.resolve("/etc/loop1", follow_last=False) == "/etc/loop1"


def test_tree_glob(split_tree: tuple[SourceTree, Path, Path]) -> None:
    tree, root, _ = split_tree
    write(root, "/etc/default/grub.d/10-a.cfg")
    write(root, "/etc/default/grub.d/20-b.cfg")
    write(root, "/etc/default/grub.d/.hidden.cfg")
    write(root, "/etc/default/grub.d/readme")
    assert tree.glob("/etc/default/grub.d/*.cfg") == [
        "/etc/default/grub.d/10-a.cfg",
        "/etc/default/grub.d/20-b.cfg",
    ]
    assert tree.glob("/etc/nothing/*") == []
    assert tree.glob("/boot/vmlinuz-*") == ["/boot/vmlinuz-6.1.0-18-amd64"]


def test_tree_needs_a_root() -> None:
    with pytest.raises(ValueError, match="root"):
        SourceTree({"/boot": "/tmp"})


# --- OS facts ---------------------------------------------------------------------

DEBIAN_RELEASE = 'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nID=debian\nVERSION_ID="12"\n'
RHEL_RELEASE = (
    'NAME="Rocky Linux"\nID="rocky"\nID_LIKE="rhel centos fedora"\nVERSION_ID="9.3"\n'
    'PRETTY_NAME="Rocky Linux 9.3"\n'
)
UBUNTU_RELEASE = (
    'NAME="Ubuntu"\nID=ubuntu\nID_LIKE=debian\nVERSION_ID="14.04"\nPRETTY_NAME="Ubuntu 14.04.6 LTS"\n'
)


def debian12(root: Path) -> None:
    write(root, "/etc/os-release", DEBIAN_RELEASE)
    write(root, "/etc/hostname", "# set by the installer\noldbox\n")
    write(root, "/lib/systemd/systemd", "", 0o755)
    link(root, "/sbin/init", "/lib/systemd/systemd")
    write(root, "/usr/sbin/update-initramfs", "", 0o755)
    write(root, "/var/lib/dpkg/info/initramfs-tools.list")
    write(root, "/usr/sbin/grub-install", "", 0o755)
    write(root, "/usr/sbin/grub-mkconfig", "", 0o755)
    write(root, "/usr/sbin/update-grub", "", 0o755)
    write(root, "/boot/grub/grub.cfg")
    write(root, "/boot/vmlinuz-6.1.0-17-amd64")
    write(root, "/boot/vmlinuz-6.1.0-18-amd64")
    write(root, "/boot/vmlinuz-5.10.0-9-amd64")


def rocky9(root: Path) -> None:
    # merged /usr: /sbin -> usr/sbin, /lib -> usr/lib
    write(root, "/usr/lib/os-release", RHEL_RELEASE)
    link(root, "/etc/os-release", "../usr/lib/os-release")
    write(root, "/etc/hostname", "rocky.example.org\n")
    link(root, "/sbin", "usr/sbin")
    link(root, "/lib", "usr/lib")
    write(root, "/usr/lib/systemd/systemd", "", 0o755)
    link(root, "/usr/sbin/init", "../lib/systemd/systemd")
    write(root, "/usr/bin/dracut", "", 0o755)
    write(root, "/usr/sbin/grub2-install", "", 0o755)
    write(root, "/usr/sbin/grub2-mkconfig", "", 0o755)
    write(root, "/boot/grub2/grub.cfg")
    write(root, "/boot/vmlinuz-5.14.0-362.8.1.el9_3.x86_64")
    write(root, "/boot/vmlinuz-0-rescue-0123456789abcdef")


def centos6(root: Path) -> None:
    write(root, "/etc/redhat-release", "CentOS release 6.10 (Final)\n")
    write(root, "/etc/sysconfig/network", "NETWORKING=yes\nHOSTNAME=legacy.example.org\n")
    write(root, "/sbin/init", "", 0o755)
    write(root, "/sbin/initctl", "", 0o755)
    (root / "etc/init").mkdir(parents=True)
    write(root, "/etc/inittab", "id:3:initdefault:\n")
    write(root, "/sbin/dracut", "", 0o755)
    write(root, "/sbin/grub-install", "", 0o755)
    write(root, "/boot/grub/grub.conf", "title CentOS\n")
    write(root, "/boot/vmlinuz-2.6.32-754.el6.x86_64")


def debian7_sysvinit(root: Path) -> None:
    write(root, "/etc/debian_version", "7.11\n")
    write(root, "/etc/hostname", "wheezy\n")
    write(root, "/sbin/init", "", 0o755)
    write(root, "/etc/inittab", "id:2:initdefault:\n")
    write(root, "/lib/systemd/systemd", "", 0o755)  # installed, but not init
    write(root, "/usr/sbin/update-initramfs", "", 0o755)
    write(root, "/usr/sbin/grub-install", "", 0o755)
    write(root, "/usr/sbin/grub-mkconfig", "", 0o755)
    write(root, "/usr/sbin/update-grub", "", 0o755)
    write(root, "/boot/grub/grub.cfg")


def ubuntu1404(root: Path) -> None:
    write(root, "/etc/os-release", UBUNTU_RELEASE)
    write(root, "/sbin/init", "", 0o755)  # upstart
    write(root, "/sbin/initctl", "", 0o755)
    write(root, "/etc/init/tty1.conf", "exec /sbin/getty -8 38400 tty1\n")
    write(root, "/usr/sbin/update-initramfs", "", 0o755)
    write(root, "/usr/sbin/grub-install", "", 0o755)
    write(root, "/usr/sbin/grub-mkconfig", "", 0o755)
    write(root, "/boot/grub/grub.cfg")
    write(root, "/boot/vmlinuz-3.13.0-170-generic")


@pytest.mark.parametrize(
    ("builder", "expected"),
    [
        (debian12, dict(id="debian", version_id="12", hostname="oldbox", init="systemd",
                        initramfs="initramfs-tools", bootloader="grub2", grub_install="grub-install",
                        grub_mkconfig="update-grub", grub_cfg="/boot/grub/grub.cfg",
                        kernels=("5.10.0-9-amd64", "6.1.0-17-amd64", "6.1.0-18-amd64"))),
        (rocky9, dict(id="rocky", id_like=("rhel", "centos", "fedora"), version_id="9.3",
                      hostname="rocky.example.org", init="systemd", initramfs="dracut", bootloader="grub2",
                      grub_install="grub2-install", grub_mkconfig="grub2-mkconfig",
                      grub_cfg="/boot/grub2/grub.cfg",
                      kernels=("0-rescue-0123456789abcdef", "5.14.0-362.8.1.el9_3.x86_64"))),
        (centos6, dict(id="centos", version_id="6.10", hostname="legacy.example.org", init="upstart",
                       initramfs="dracut", bootloader="grub-legacy", grub_install="grub-install",
                       grub_cfg="/boot/grub/grub.conf", kernels=("2.6.32-754.el6.x86_64",))),
        (debian7_sysvinit, dict(id="debian", version_id="7", hostname="wheezy", init="sysvinit",
                                initramfs="initramfs-tools", bootloader="grub2",
                                grub_mkconfig="update-grub")),
        (ubuntu1404, dict(id="ubuntu", id_like=("debian",), init="upstart", initramfs="initramfs-tools",
                          bootloader="grub2", grub_install="grub-install", grub_mkconfig="update-grub",
                          kernels=("3.13.0-170-generic",))),
    ],
)  # fmt: skip
def test_detect_os(tmp_path: Path, builder: Callable[[Path], None], expected: dict[str, object]) -> None:
    builder(tmp_path)
    info = detect_os(SourceTree({"/": str(tmp_path)}))
    assert {k: getattr(info, k) for k in expected} == expected


def test_detect_os_of_an_empty_tree(tmp_path: Path) -> None:
    info = detect_os(SourceTree({"/": str(tmp_path)}))
    assert (info.id, info.init, info.initramfs, info.bootloader, info.kernels) == (
        "",
        "unknown",
        "none",
        "none",
        (),
    )


def test_debian_with_sysvinit_core(tmp_path: Path) -> None:
    debian12(tmp_path)
    (tmp_path / "sbin/init").unlink()
    write(tmp_path, "/sbin/init", "", 0o755)
    write(tmp_path, "/var/lib/dpkg/info/sysvinit-core.list")
    assert detect_init(SourceTree({"/": str(tmp_path)})) == "sysvinit"


def test_kernels_on_a_separate_boot(tmp_path: Path) -> None:
    root, boot = tmp_path / "r", tmp_path / "b"
    debian12(root)
    for k in (root / "boot").glob("vmlinuz-*"):
        k.unlink()
    write(boot, "/vmlinuz-6.1.0-20-amd64")
    info = detect_os(SourceTree({"/": str(root), "/boot": str(boot)}))
    assert info.kernels == ("6.1.0-20-amd64",)


# --- configuration snapshot ------------------------------------------------------------


def test_snapshot_config(tmp_path: Path) -> None:
    debian12(tmp_path)
    write(tmp_path, "/etc/fstab", "UUID=x / ext4 defaults 0 1\n")
    write(tmp_path, "/etc/network/interfaces", "auto eth0\niface eth0 inet dhcp\n")
    write(tmp_path, "/etc/network/interfaces.d/extra", "# extra\n")
    write(tmp_path, "/etc/default/grub.d/50-cloud.cfg", 'GRUB_CMDLINE_LINUX="console=ttyS0"\n')
    (tmp_path / "etc/hosts").write_bytes(b"127.0.0.1 localhost # caf\xe9 in latin-1\n")
    (tmp_path / "etc/mailname").write_bytes(b"\0binary\0")
    (tmp_path / "etc/crypttab").write_bytes(b"#" * (MAX_CONFIG_BYTES + 1))
    link(tmp_path, "/etc/resolv.conf", "../run/systemd/resolve/stub-resolv.conf")
    link(
        tmp_path,
        "/etc/systemd/system/getty.target.wants/getty@tty1.service",
        "/lib/systemd/system/getty@.service",
    )
    link(tmp_path, "/etc/udev/rules.d/70-persistent-net.rules", "/dev/null")
    snap = snapshot_config(SourceTree({"/": str(tmp_path)}))
    assert snap.get("/etc/fstab") == "UUID=x / ext4 defaults 0 1\n"
    assert snap.get("/etc/hostname") == "# set by the installer\noldbox\n"
    assert snap.get("/etc/os-release") == DEBIAN_RELEASE
    assert set(snap.files) == {
        "/etc/fstab", "/etc/hostname", "/etc/hosts", "/etc/os-release", "/etc/network/interfaces",
        "/etc/network/interfaces.d/extra", "/etc/default/grub.d/50-cloud.cfg",
    }  # fmt: skip
    # Latin-1 bytes survive a round trip.
    assert (
        snap.files["/etc/hosts"].encode("utf-8", errors="surrogateescape").endswith(b"caf\xe9 in latin-1\n")
    )
    assert snap.links == {
        "/sbin/init": "/lib/systemd/systemd",
        "/etc/resolv.conf": "../run/systemd/resolve/stub-resolv.conf",
        "/etc/systemd/system/getty.target.wants/getty@tty1.service": "/lib/systemd/system/getty@.service",
    }


def test_snapshot_follows_links_that_stay_in_the_source(tmp_path: Path) -> None:
    write(tmp_path, "/run/resolvconf/resolv.conf", "nameserver 192.0.2.53\n")
    link(tmp_path, "/etc/resolv.conf", "../run/resolvconf/resolv.conf")
    snap = snapshot_config(SourceTree({"/": str(tmp_path)}))
    assert snap.get("/etc/resolv.conf") == "nameserver 192.0.2.53\n"
    assert snap.links["/etc/resolv.conf"] == "../run/resolvconf/resolv.conf"


# --- disk usage ---------------------------------------------------------------------------


def allocated(path: Path) -> int:
    return os.lstat(path).st_blocks * 512


def test_tree_size_counts_allocation_and_hard_links_once(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    data = tmp_path / "a" / "data"
    data.write_bytes(os.urandom(300_000))
    os.link(data, tmp_path / "hardlink")
    sparse = tmp_path / "sparse"
    with open(sparse, "wb") as f:
        f.truncate(64 * 1024 * 1024)
        f.write(b"x" * 4096)
    (tmp_path / "link").symlink_to("a/data")
    expected = sum(allocated(p) for p in (tmp_path, tmp_path / "a", data, sparse, tmp_path / "link"))
    assert tree_size(str(tmp_path)) == expected
    assert tree_size(str(tmp_path)) < 2 * 1024 * 1024  # the 64 MiB sparse file counts what it occupies
    assert tree_size(str(tmp_path / "missing")) == 0


def test_largest_dirs(tmp_path: Path) -> None:
    for rel, size in (("var/lib/big", 600_000), ("var/cache/mid", 300_000), ("usr/small", 50_000)):
        p = tmp_path / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(os.urandom(size))
    (tmp_path / "huge-file").write_bytes(os.urandom(900_000))  # a file, not a directory
    dirs = largest_dirs(str(tmp_path), depth=2, top=3)
    assert [os.path.relpath(p, tmp_path) for p, _ in dirs] == ["var", "var/lib", "var/cache"]
    sizes = dict(dirs)
    assert sizes[str(tmp_path / "var")] == tree_size(str(tmp_path / "var"))
    assert sizes[str(tmp_path / "var/lib")] == tree_size(str(tmp_path / "var/lib"))


# --- runner ---------------------------------------------------------------------------------


def test_runner_captures_output() -> None:
    result = LocalRunner().run(["sh", "-c", "echo out; echo err >&2"])
    assert (result.returncode, result.stdout, result.stderr) == (0, "out\n", "err\n")


def test_runner_raises_with_a_readable_message() -> None:
    with pytest.raises(CommandError) as info:
        LocalRunner().run(["sh", "-c", "echo first >&2; echo 'disk on fire' >&2; exit 3"])
    assert info.value.returncode == 3
    command = "sh -c 'echo first >&2; echo '\"'\"'disk on fire'\"'\"' >&2; exit 3'"
    assert str(info.value) == f"{command} failed with exit status 3: first; disk on fire"


def test_runner_without_check_returns_the_status() -> None:
    assert LocalRunner().run(["false"], check=False).returncode == 1


def test_runner_missing_program() -> None:
    with pytest.raises(CommandNotFoundError, match="command not found: no-such-tool-p2v"):
        LocalRunner().run(["no-such-tool-p2v", "--help"], check=False, env={"PATH": "/usr/bin:/bin"})


def test_runner_program_that_cannot_run(tmp_path: Path) -> None:
    script = write(tmp_path, "/not-executable", "#!/bin/sh\n", 0o644)
    with pytest.raises(CommandError, match=r"cannot run .*: Permission denied") as info:
        LocalRunner().run([str(script)])
    assert info.value.returncode == 126


def test_runner_timeout() -> None:
    with pytest.raises(CommandTimeoutError, match=r"timed out after 0\.2 s"):
        LocalRunner().run(["sleep", "5"], timeout=0.2)


def test_runner_environment_and_input() -> None:
    result = LocalRunner(env={"P2V_A": "1"}).run(
        ["sh", "-c", "cat; echo $P2V_A$P2V_B $LC_ALL"], input="in\n", env={"P2V_B": "2"}
    )
    assert result.stdout == "in\n12 C.UTF-8\n"


# --- /sys/block -----------------------------------------------------------------------------


def test_list_disks_from_sysfs(tmp_path: Path) -> None:
    for name, size, removable in (
        ("sda", "83886080", "0"), ("sdb", "62521344", "1"), ("sr0", "2048", "1"), ("loop0", "1000", "0"),
        ("zram0", "8000", "0"), ("dm-0", "4000", "0"), ("md127", "4000", "0"), ("mmcblk0", "0", "1"),
        ("nvme0n1", "1000215216", "0"), ("cciss!c0d0", "1000", "0"), ("ram0", "8192", "0"),
    ):  # fmt: skip
        write(tmp_path, f"/{name}/size", size + "\n")
        write(tmp_path, f"/{name}/removable", removable + "\n")
    assert list_disks(sys_block=str(tmp_path)) == ["/dev/cciss/c0d0", "/dev/nvme0n1", "/dev/sda", "/dev/sdb"]
    assert list_disks(["/dev/loop0"], sys_block=str(tmp_path)) == ["/dev/loop0"]
    assert is_removable("/dev/sdb", sys_block=str(tmp_path))
    assert not is_removable("/dev/sda", sys_block=str(tmp_path))
    assert not is_removable("/dev/cciss/c0d0", sys_block=str(tmp_path))
    # A disk libparted cannot open is still described by its size.
    raw = unreadable_disk("/dev/sda", "Error opening /dev/sda: Input/output error", sys_block=str(tmp_path))
    assert (raw.size, raw.table, raw.partitions, raw.error) == (
        83886080 * 512, None, (), "Error opening /dev/sda: Input/output error",
    )  # fmt: skip
    assert unreadable_disk("/dev/cciss/c0d0", "gone", sys_block=str(tmp_path)).size == 1000 * 512


# --- which disks the live system itself uses ------------------------------------------------

LIVE_MOUNTS = (Path(__file__).parent.parent / "data" / "probe" / "proc-mounts-live.txt").read_text()
DEVICE_NUMBERS = {
    "/dev/sdc": 0x820,
    "/dev/sdc1": 0x821,
    "/dev/sda": 0x800,
    "/dev/sda1": 0x801,
    "/dev/sdb": 0x810,
    "/dev/sdb1": 0x811,
    "/dev/sdb2": 0x812,
    "/dev/loop0": 0x700,
}


@pytest.fixture
def fake_devices(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(host_mounts, "device_number", DEVICE_NUMBERS.get)


@pytest.mark.usefixtures("fake_devices")
def test_live_medium_and_disks_in_use() -> None:
    uses = host_mounts.host_device_uses(parse_proc_mounts(LIVE_MOUNTS), ["/dev/sdb2"])
    reason = host_mounts.exclusion_reason
    assert (
        reason(["/dev/sdc", "/dev/sdc1"], uses)
        == "holds the live system (/dev/sdc1 is mounted at /run/live/medium)"
    )
    assert (
        reason(["/dev/sdb", "/dev/sdb1", "/dev/sdb2"], uses)
        == "in use by the running system (/dev/sdb2 is used as swap)"
    )
    # sda1 is mounted only by p2v itself (below /run/p2v): still a source.
    assert reason(["/dev/sda", "/dev/sda1"], uses) is None
    assert reason(["/dev/sdd"], uses, whole_disk_type="iso9660") == "holds the live system (iso9660 image)"


@pytest.mark.usefixtures("fake_devices")
def test_own_mounts_count_when_not_ignored() -> None:
    uses = host_mounts.host_device_uses(parse_proc_mounts(LIVE_MOUNTS), ignore_under=())
    assert host_mounts.exclusion_reason(["/dev/sda", "/dev/sda1"], uses) == (
        "in use by the running system (/dev/sda1 is mounted at /run/p2v/probe/probe-k2j4l9/ro-x1)"
    )


# --- LVM and md glue, on recorded tool output -------------------------------------------------

DATA = Path(__file__).parent.parent / "data" / "probe"


LVM_FIELDS = {"pvs": "pv_name,vg_name,pv_size,pv_uuid", "vgs": "vg_name,vg_size,vg_uuid,pv_count,lv_count",
              "lvs": "lv_name,vg_name,lv_size,lv_path,lv_attr,lv_uuid"}  # fmt: skip


def lvm_runner() -> RecordedRunner:
    return RecordedRunner(
        {
            (cmd, "--readonly", "--reportformat", "json", "--units", "b", "--nosuffix", "-o", fields): (
                DATA / f"{cmd}.json"
            ).read_text()
            for cmd, fields in LVM_FIELDS.items()
        }
    )


def test_volume_groups_of_the_probed_pvs_only() -> None:
    runner = lvm_runner()
    (vg,) = probe_volume_groups(runner, ["/dev/loop0p5"])
    assert (vg.name, [lv.name for lv in vg.lvs]) == ("vgtest", ["home", "root"])
    assert all("--readonly" in argv for argv in runner.asked)
    assert probe_volume_groups(lvm_runner(), ["/dev/sdz1"]) == ()  # someone else's VG
    assert probe_volume_groups(runner, []) == ()


def test_volume_groups_without_lvm_tools() -> None:
    assert probe_volume_groups(RecordedRunner({}), ["/dev/sda5"]) == ()


def test_md_arrays_not_assembled(tmp_path: Path) -> None:
    examine = (DATA / "mdadm-examine-raid1-1.2.txt").read_text()
    runner = RecordedRunner({("mdadm", "--examine", "/dev/sda2", "/dev/sdb2"): examine})
    found = probe_md_arrays(runner, ["/dev/sda2", "/dev/sdb2"], sys_block=str(tmp_path))
    assert [(a.device, a.members) for a in found.arrays] == [("/dev/md/0", ("/dev/sda2", "/dev/sdb2"))]
    assert found.assembled == frozenset()


def test_md_arrays_assembled_by_the_live_kernel(tmp_path: Path) -> None:
    (tmp_path / "md127").mkdir()
    (tmp_path / "md5").mkdir()  # another array: its detail does not match
    examine = (DATA / "mdadm-examine-raid1-1.2.txt").read_text()
    runner = RecordedRunner(
        {
            ("mdadm", "--examine", "/dev/sda2", "/dev/sdb2"): examine,
            ("mdadm", "--detail", "/dev/md127"): (DATA / "mdadm-detail-raid1.txt").read_text(),
        }
    )
    found = probe_md_arrays(runner, ["/dev/sda2", "/dev/sdb2"], sys_block=str(tmp_path))
    assert [a.device for a in found.arrays] == ["/dev/md127"]
    assert found.assembled == {"/dev/md127"}


def test_md_without_mdadm() -> None:
    assert probe_md_arrays(RecordedRunner({}), ["/dev/sda2"]).arrays == ()
