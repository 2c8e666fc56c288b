"""probe_machine on real disk images: loop devices, real filesystems, real tools.

Every test checks what the probe promises besides its answer: the images
are bit for bit unchanged, nothing stays mounted, no loop device leaks.
"""

from __future__ import annotations

import os
import subprocess
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from p2v_tui.model.machine import Disk, Filesystem, Machine
from p2v_tui.model.source_mount_options import readonly_mount_options
from p2v_tui.system import probe
from p2v_tui.system.probe import probe_machine
from p2v_tui.system.probe.filesystems import NOTE_JOURNAL, NOTE_XFS_LOG
from p2v_tui.system.runner import LocalRunner
from tests.lab.disks import (
    DiskSpec,
    LoopDisk,
    MiB,
    PartSpec,
    attach_image,
    blkid_value,
    image_sha256,
    loop_disk,
    mounted,
    mounted_layout,
    require,
    run,
    volume_group,
)

pytestmark = [pytest.mark.root, pytest.mark.slow]

KERNEL = "6.1.0-18-amd64"


def write(root: Path, path: str, text: str = "", mode: int = 0o644) -> None:
    p = root / path.lstrip("/")
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(text)
    p.chmod(mode)


def write_debian(root: Path, fstab: str, hostname: str = "oldbox") -> None:
    """The files of a Debian 12 system that the probe looks at."""
    write(
        root, "/etc/os-release", 'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nID=debian\nVERSION_ID="12"\n'
    )
    write(root, "/etc/hostname", hostname + "\n")
    write(root, "/etc/fstab", fstab)
    write(root, "/etc/hosts", f"127.0.0.1 localhost\n127.0.1.1 {hostname}\n")
    write(root, "/etc/default/grub", 'GRUB_DEFAULT=0\nGRUB_CMDLINE_LINUX_DEFAULT="quiet"\n')
    write(root, "/etc/network/interfaces", "auto eth0\niface eth0 inet static\n  address 192.0.2.10/24\n")
    write(root, "/lib/systemd/systemd", "", 0o755)
    (root / "sbin").mkdir(exist_ok=True)
    (root / "sbin/init").symlink_to("/lib/systemd/systemd")
    (root / "run").mkdir(exist_ok=True)
    (root / "etc/resolv.conf").symlink_to("../run/resolvconf/resolv.conf")
    write(root, "/usr/sbin/update-initramfs", "", 0o755)
    write(root, "/var/lib/dpkg/info/initramfs-tools.list")
    for tool in ("grub-install", "grub-mkconfig", "update-grub"):
        write(root, f"/usr/sbin/{tool}", "", 0o755)
    write(root, "/boot/grub/grub.cfg", "menuentry 'Debian' {}\n")
    write(root, f"/boot/vmlinuz-{KERNEL}", "kernel")
    write(root, "/usr/share/doc/blob", "x" * 3_000_000)


@dataclass
class Lab:
    """Disks of one test, checked for changes and leaks afterwards."""

    tmp: Path
    disks: list[LoopDisk] = field(default_factory=list)
    hashes: dict[Path, str] = field(default_factory=dict)

    @property
    def work_dir(self) -> Path:
        return self.tmp / "work"

    def seal(self) -> None:
        """Remember the images' contents; from now on nothing may change them."""
        run(["sync"])
        self.hashes = {d.image: image_sha256(d.image) for d in self.disks}

    def probe(self, *disks: LoopDisk, exclude: tuple[str, ...] = ()) -> Machine:
        self.seal()
        machine = probe_machine(
            LocalRunner(),
            disks=[d.path for d in disks or tuple(self.disks)],
            work_dir=str(self.work_dir),
            exclude=exclude,
        )
        self.check_clean()
        return machine

    def check_clean(self) -> None:
        run(["sync"])
        for image, digest in self.hashes.items():
            assert image_sha256(image) == digest, f"{image} changed while probing"
        with open("/proc/self/mounts", encoding="utf-8") as f:
            mounts = f.read()
        assert str(self.work_dir) not in mounts
        assert list(self.work_dir.iterdir()) == []  # the probe's private directory is gone


@pytest.fixture
def lab(tmp_path: Path) -> Iterator[Lab]:
    require("mkfs.ext4", "mkfs.xfs", "mkfs.btrfs", "mkswap", "dumpe2fs", "xfs_info", "btrfs")
    lab = Lab(tmp_path)
    yield lab
    for d in lab.disks:
        leaked = subprocess.run(["losetup", "-j", str(d.image)], capture_output=True, text=True).stdout
        assert leaked == "", f"loop device leaked: {leaked}"


def df_used(device: str, fstype: str) -> int:
    with mounted(
        device, fstype, readonly_mount_options(fstype, subvolid=5 if fstype == "btrfs" else None)
    ) as m:
        out = run(["df", "-B1", "--output=used", str(m)])
    return int(out.split()[-1])


def assert_used_like_df(fs: Filesystem, df: int) -> None:
    assert fs.used is not None
    assert abs(fs.used - df) <= max(256 * 1024, df // 100), (fs.device, fs.used, df)


def fs_of(machine: Machine, device: str) -> Filesystem:
    return next(fs for fs in machine.filesystems if fs.device == device)


def disk_of(machine: Machine, path: str) -> Disk:
    return next(d for d in machine.disks if d.path == path)


# --- (a) msdos: root by kernel name, swap partition, logical partitions -----------------


def test_msdos_root_by_kernel_name_and_logical_partitions(lab: Lab) -> None:
    spec = DiskSpec(
        400 * MiB,
        "msdos",
        (
            PartSpec(150 * MiB, "ext4", label="root", mountpoint="/", flags=("boot",)),
            PartSpec(32 * MiB, "swap", label="swap0"),
            PartSpec(16 * MiB, None),
            PartSpec(64 * MiB, "ext3", mountpoint="/srv"),
            PartSpec(None, "ext2", label="scratch"),
        ),
    )
    fstab = (
        "# <file system> <mount point> <type> <options> <dump> <pass>\n"
        "/dev/sda1 / ext4 errors=remount-ro 0 1\n"
        "/dev/sda5 /srv ext3 defaults 0 2\n"
        "/dev/sda2 none swap sw 0 0\n"
        "proc /proc proc defaults 0 0\n"
    )
    with loop_disk(spec, lab.tmp / "a.img") as disk:
        lab.disks.append(disk)
        with mounted_layout(disk) as root:
            write_debian(root, fstab)
            write(root, "/srv/www/index.html", "<p>hello</p>\n" * 1000)
        dfs = {
            dev: df_used(dev, p.fstype or "")
            for p, dev in zip(spec.parts, disk.partitions, strict=True)
            if p.fstype in ("ext4", "ext3", "ext2")
        }
        machine = lab.probe(disk)

        (d,) = machine.disks
        assert (d.path, d.table, d.size, d.excluded) == (disk.path, "msdos", 400 * MiB, None)
        p = {x.number: x for x in d.partitions}
        assert sorted(p) == [1, 2, 3, 4, 5, 6]
        assert (p[1].type_id, p[2].type_id, p[3].type_id, p[4].type_id, p[5].type_id) == (
            "83",
            "82",
            "83",
            "05",
            "83",
        )
        assert "boot" in p[1].flags and "swap" in p[2].flags
        assert (p[1].start, p[1].size) == (1 * MiB, 150 * MiB)
        disk_id = blkid_value(disk.path, "PTUUID")
        assert p[1].part_uuid == f"{disk_id}-01"
        assert p[5].path == disk.partitions[3]

        root_dev, srv_dev, scratch_dev = disk.partitions[0], disk.partitions[3], disk.partitions[4]
        assert [fs.device for fs in machine.filesystems] == [root_dev, srv_dev, scratch_dev]
        assert [fs.fstype for fs in machine.filesystems] == ["ext4", "ext3", "ext2"]
        assert fs_of(machine, root_dev).uuid == blkid_value(root_dev, "UUID")
        assert fs_of(machine, root_dev).label == "root"
        assert {fs.device: fs.mountpoint for fs in machine.filesystems} == {
            root_dev: "/", srv_dev: "/srv", scratch_dev: None,
        }  # fmt: skip
        assert all(fs.notes == () for fs in machine.filesystems)
        for dev, df in dfs.items():
            assert_used_like_df(fs_of(machine, dev), df)
        root_fs = fs_of(machine, root_dev)
        assert root_fs.size == 150 * MiB
        assert "has_journal" in root_fs.features and "extent" in root_fs.features
        assert root_fs.inodes_used is not None and root_fs.inodes_used > 20

        (swap,) = machine.swaps
        assert (swap.kind, swap.path, swap.size, swap.label) == (
            "partition",
            disk.partitions[1],
            32 * MiB,
            "swap0",
        )
        assert swap.uuid == blkid_value(disk.partitions[1], "UUID")
        assert [e.file for e in machine.fstab] == ["/", "/srv", "none", "/proc"]

        assert machine.os.id == "debian" and machine.os.version_id == "12"
        assert (machine.os.hostname, machine.os.init, machine.os.initramfs) == (
            "oldbox",
            "systemd",
            "initramfs-tools",
        )
        assert (machine.os.bootloader, machine.os.grub_install, machine.os.grub_mkconfig) == (
            "grub2", "grub-install", "update-grub",
        )  # fmt: skip
        assert machine.os.kernels == (KERNEL,)
        assert machine.firmware == "bios"
        assert machine.config.get("/etc/fstab") == fstab
        assert machine.config.get("/etc/hostname") == "oldbox\n"
        assert machine.config.get("/etc/resolv.conf") is None  # points into the source's empty /run
        assert machine.config.links["/etc/resolv.conf"] == "../run/resolvconf/resolv.conf"
        assert machine.config.links["/sbin/init"] == "/lib/systemd/systemd"


# --- (b) gpt: bios_grub, ext4 /boot and /, xfs /home, btrfs /var with subvolumes -------


def test_gpt_mixed_filesystems_and_btrfs_subvolumes(lab: Lab) -> None:
    root_uuid, var_uuid = str(uuid.uuid4()), str(uuid.uuid4())
    spec = DiskSpec(
        1100 * MiB,
        "gpt",
        (
            PartSpec(1 * MiB, None, flags=("bios_grub",), name="bios"),
            PartSpec(100 * MiB, "ext4", label="boot", mountpoint="/boot", name="boot"),
            PartSpec(300 * MiB, "ext4", uuid=root_uuid, mountpoint="/"),
            PartSpec(320 * MiB, "xfs", label="home", mountpoint="/home"),
            PartSpec(None, "btrfs", uuid=var_uuid, label="var", mountpoint="/var",
                     subvolumes=("@var", "@log", "@var/cache")),
        ),
    )  # fmt: skip
    fstab = (
        f"UUID={root_uuid} / ext4 errors=remount-ro 0 1\n"
        "LABEL=boot /boot ext4 defaults 0 2\n"
        "/dev/sda4 /home xfs defaults 0 2\n"
        f"UUID={var_uuid} /var btrfs defaults,subvol=@var 0 0\n"
        f"UUID={var_uuid} /var/log btrfs subvol=/@log,compress=zstd 0 0\n"
    )
    with loop_disk(spec, lab.tmp / "b.img") as disk:
        lab.disks.append(disk)
        with mounted_layout(disk, subvolume={"/var": "@var", "/var/log": "@log"}) as root:
            write_debian(root, fstab)
            write(root, "/home/alice/notes.txt", "n" * 5_000_000)
            write(root, "/var/log/syslog", "line\n" * 200_000)
        boot_dev, root_dev, home_dev, var_dev = disk.partitions[1:]
        with mounted(var_dev, "btrfs") as top:
            run(["btrfs", "-q", "subvolume", "snapshot", "-r", str(top / "@var"), str(top / "@var-snap")])
        dfs = {dev: df_used(dev, fstype) for dev, fstype in
               ((boot_dev, "ext4"), (root_dev, "ext4"), (home_dev, "xfs"), (var_dev, "btrfs"))}  # fmt: skip
        machine = lab.probe(disk)

        (d,) = machine.disks
        assert d.table == "gpt"
        bios, boot, rootp, home, _var = d.partitions
        assert bios.flags == frozenset({"bios_grub"})
        assert bios.type_id == "21686148-6449-6E6F-744E-656564454649"
        assert (bios.name, boot.name) == ("bios", "boot")
        assert home.type_id == "0FC63DAF-8483-4772-8E79-3D69E4D8B7B6"
        assert rootp.part_uuid == blkid_value(root_dev, "PART_ENTRY_UUID")

        mounts = {fs.device: (fs.fstype, fs.mountpoint) for fs in machine.filesystems}
        assert mounts == {
            boot_dev: ("ext4", "/boot"), root_dev: ("ext4", "/"), home_dev: ("xfs", "/home"),
            var_dev: ("btrfs", "/var"),
        }  # fmt: skip
        assert fs_of(machine, root_dev).uuid == root_uuid
        assert fs_of(machine, home_dev).label == "home"
        for dev, df in dfs.items():
            assert_used_like_df(fs_of(machine, dev), df)
        assert fs_of(machine, home_dev).used >= 5_000_000  # type: ignore[operator]

        xfs = fs_of(machine, home_dev)
        assert "crc=1" in xfs.features and any(f.startswith("reflink=") for f in xfs.features)
        assert xfs.size == 320 * MiB  # mkfs.xfs took the whole partition
        assert fs_of(machine, root_dev).size == 300 * MiB

        btrfs = fs_of(machine, var_dev)
        assert btrfs.inodes_used is None  # btrfs reports no inode counts
        subvols = {sv.path: sv for sv in btrfs.subvolumes}
        assert set(subvols) == {"@var", "@log", "@var/cache", "@var-snap"}
        assert subvols["@var"].mountpoint == "/var" and subvols["@log"].mountpoint == "/var/log"
        assert subvols["@var/cache"].mountpoint is None
        assert subvols["@var-snap"].readonly and not subvols["@var"].readonly
        assert btrfs.default_subvolume == 5
        assert machine.config.get("/etc/fstab") == fstab
        assert machine.os.kernels == (KERNEL,)  # /boot is its own filesystem
        assert machine.os.grub_cfg == "/boot/grub/grub.cfg"


# --- (c) swap file, no swap partition ---------------------------------------------------


def test_swap_file(lab: Lab) -> None:
    spec = DiskSpec(200 * MiB, "msdos", (PartSpec(None, "ext4", mountpoint="/"),))
    with loop_disk(spec, lab.tmp / "c.img") as disk:
        lab.disks.append(disk)
        (root_dev,) = disk.partitions
        fs_uuid = blkid_value(root_dev, "UUID")
        with mounted_layout(disk) as root:
            write_debian(root, f"UUID={fs_uuid} / ext4 defaults 0 1\n/swapfile none swap sw 0 0\n")
            run(["dd", "if=/dev/zero", f"of={root / 'swapfile'}", "bs=1M", "count=16", "status=none"])
            os.chmod(root / "swapfile", 0o600)
            run(["mkswap", "-q", "-L", "fileswap", str(root / "swapfile")])
        machine = lab.probe(disk)
        (swap,) = machine.swaps
        assert (swap.kind, swap.path, swap.size, swap.on_device, swap.label) == (
            "file", "/swapfile", 16 * MiB, root_dev, "fileswap",
        )  # fmt: skip
        assert swap.uuid != ""
        assert machine.root() is not None and machine.root().device == root_dev  # type: ignore[union-attr]


# --- (d) a disk without a partition table --------------------------------------------------


def test_disk_without_partition_table(lab: Lab) -> None:
    spec = DiskSpec(160 * MiB, None, (PartSpec(None, "ext4", label="bare", mountpoint="/"),))
    with loop_disk(spec, lab.tmp / "d.img") as disk:
        lab.disks.append(disk)
        with mounted_layout(disk) as root:
            write_debian(root, "LABEL=bare / ext4 defaults 0 1\n", hostname="bare")
        machine = lab.probe(disk)
        (d,) = machine.disks
        assert (d.table, d.partitions, d.size) == (None, (), 160 * MiB)
        (fs,) = machine.filesystems
        assert (fs.device, fs.fstype, fs.label, fs.mountpoint, fs.size) == (
            disk.path,
            "ext4",
            "bare",
            "/",
            160 * MiB,
        )
        assert machine.os.hostname == "bare"


# --- (e) an LVM physical volume -------------------------------------------------------------


def test_lvm_physical_volume_is_described(lab: Lab) -> None:
    require("pvcreate", "vgcreate", "vgcfgbackup", "vgcfgrestore", "pvs")

    vg_name = f"p2vprobe{uuid.uuid4().hex[:8]}"
    spec = DiskSpec(
        400 * MiB,
        "gpt",
        (
            PartSpec(1 * MiB, None, flags=("bios_grub",)),
            PartSpec(200 * MiB, "ext4", label="lvroot", mountpoint="/"),
            PartSpec(None, "lvm"),
        ),
    )
    fstab = (
        "LABEL=lvroot / ext4 defaults 0 1\n"
        f"/dev/mapper/{vg_name}-home /home ext4 defaults 0 2\n"
        f"/dev/{vg_name}/swap none swap sw 0 0\n"
    )
    with loop_disk(spec, lab.tmp / "e.img") as disk:
        lab.disks.append(disk)
        pv = disk.partitions[2]
        with volume_group(vg_name, [pv], {"home": 64 * MiB, "swap": 32 * MiB}):
            with mounted_layout(disk) as root:
                write_debian(root, fstab)
            machine = lab.probe(disk)
            (vg,) = machine.volume_groups
            assert (vg.name, vg.pvs) == (vg_name, (pv,))
            assert vg.size > 150 * MiB
            assert [(lv.name, lv.size, lv.path) for lv in vg.lvs] == [
                ("home", 64 * MiB, f"/dev/{vg_name}/home"),
                ("swap", 32 * MiB, f"/dev/{vg_name}/swap"),
            ]
            (d,) = machine.disks
            assert "lvm" in d.partitions[2].flags
            assert d.partitions[2].type_id == "E6D6D379-F507-44C2-A23C-238F2A3DF928"
            assert [fs.device for fs in machine.filesystems] == [disk.partitions[1]]  # never the PV
            swap = next(s for s in machine.swaps if s.path == f"/dev/{vg_name}/swap")
            assert swap.size == 32 * MiB
            if not os.path.exists(f"/dev/{vg_name}/home"):  # no device-mapper here
                root_fs = machine.root()
                assert root_fs is not None
                assert root_fs.notes == (f"/home is on /dev/{vg_name}/home, not active here: not probed",)


# --- exclusion: disks in use, disks and partitions the user leaves out ------------------------


def test_disks_in_use_or_excluded_are_not_probed(lab: Lab) -> None:
    spec = DiskSpec(200 * MiB, "gpt", (PartSpec(100 * MiB, "ext4", mountpoint="/"), PartSpec(None, "ext4")))
    with loop_disk(spec, lab.tmp / "src.img") as src, loop_disk(spec, lab.tmp / "busy.img") as busy:
        lab.disks += [src, busy]
        with mounted_layout(src) as root:
            write_debian(root, "LABEL=nothing / ext4 defaults 0 1\n")
        with mounted(busy.partitions[1], "ext4", "ro") as where:
            machine = lab.probe(exclude=(src.partitions[1],))
        reason = disk_of(machine, busy.path).excluded
        assert reason == f"in use by the running system ({busy.partitions[1]} is mounted at {where})"
        assert disk_of(machine, src.path).excluded is None
        # Neither the busy disk nor the partition the user excluded is looked into.
        assert [fs.device for fs in machine.filesystems] == [src.partitions[0]]
        # fstab's root entry matches nothing, yet the filesystem holding it is /.
        root_fs = machine.root()
        assert root_fs is not None and root_fs.device == src.partitions[0]

        machine = lab.probe(src, exclude=(src.path,))
        assert disk_of(machine, src.path).excluded == "excluded by the user"
        assert machine.filesystems == ()


# --- unclean filesystems: the journal is not replayed, the image is not touched ---------------


@pytest.mark.parametrize("fstype", ["ext4", "xfs"])
def test_filesystem_not_cleanly_unmounted(lab: Lab, fstype: str) -> None:
    spec = DiskSpec(320 * MiB, None, (PartSpec(None, fstype, mountpoint="/"),))
    dirty = lab.tmp / "dirty.img"
    with loop_disk(spec, lab.tmp / "clean.img") as disk, mounted(disk.path, fstype) as root:
        write_debian(root, f"/dev/sda / {fstype} defaults 0 1\n")
        # Freezing writes everything out and empties the journal/log ...
        run(["fsfreeze", "--freeze", str(root)])
        run(["fsfreeze", "--unfreeze", str(root)])
        # ... so only this lands in it; then the disk is copied as after a power cut.
        write(root, "/var/lib/last-words", "written just before the crash\n")
        run(["sync", "-f", str(root / "var/lib/last-words")])
        run(["cp", "--sparse=always", str(disk.image), str(dirty)])
    with attach_image(dirty) as crashed:
        lab.disks.append(crashed)
        machine = lab.probe(crashed)
        (fs,) = machine.filesystems
        assert (fs.fstype, fs.mountpoint) == (fstype, "/")
        assert fs.used is not None and fs.used > 3_000_000
        assert machine.os.hostname == "oldbox"
        if fstype == "ext4":
            assert fs.notes == (NOTE_JOURNAL,)
            assert "needs_recovery" not in fs.features  # a state, not a feature to recreate
        else:
            assert fs.notes == (NOTE_XFS_LOG,)


# --- a failure half-way leaves nothing behind ----------------------------------------------


def test_failure_after_mounting_unmounts_everything(lab: Lab, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(tree: object) -> None:
        raise RuntimeError("disk pulled")

    monkeypatch.setattr(probe, "detect_os", broken)
    spec = DiskSpec(500 * MiB, "gpt", (PartSpec(100 * MiB, "ext4", mountpoint="/"), PartSpec(None, "xfs")))
    with loop_disk(spec, lab.tmp / "f.img") as disk:
        lab.disks.append(disk)
        with mounted_layout(disk) as root:
            write_debian(root, "/dev/sda1 / ext4 defaults 0 1\n")
        lab.seal()
        with pytest.raises(RuntimeError, match="disk pulled"):
            probe.probe_machine(LocalRunner(), disks=[disk.path], work_dir=str(lab.work_dir))
        lab.check_clean()


# --- one btrfs on two partitions ------------------------------------------------------------


def test_btrfs_on_two_devices_is_one_filesystem(lab: Lab) -> None:
    spec = DiskSpec(600 * MiB, "gpt", (PartSpec(300 * MiB, None), PartSpec(None, None)))
    with loop_disk(spec, lab.tmp / "multi.img") as disk:
        lab.disks.append(disk)
        first, second = disk.partitions
        run(["mkfs.btrfs", "-q", "-f", "-L", "multi", "-d", "single", "-m", "dup", first, second])
        with mounted(first, "btrfs") as root:
            write_debian(root, "LABEL=multi / btrfs defaults 0 0\n")
        machine = lab.probe(disk)
        (fs,) = machine.filesystems
        assert (fs.device, fs.fstype, fs.label, fs.mountpoint) == (first, "btrfs", "multi", "/")
        assert fs.notes == (f"btrfs spanning several devices; {second} is one of them",)
        assert fs.size > 550 * MiB  # both devices
        assert machine.os.hostname == "oldbox"
