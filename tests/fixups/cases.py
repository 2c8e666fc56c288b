"""The golden cases: what the probe saw, what the planner decided, what the
instance is and what the user chose. The files are in golden/<name>/in."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from p2v_tui.model.edits import FixupChoices, StaticAddress
from p2v_tui.model.machine import (
    ConfigSnapshot,
    Disk,
    Filesystem,
    Firmware,
    Machine,
    OsInfo,
    SwapArea,
    VolumeGroup,
)
from p2v_tui.model.plan import Plan
from p2v_tui.model.target import InstanceFacts
from p2v_tui.model.units import GiB as GIB
from p2v_tui.model.units import MiB as MIB

from .builders import disk, facts, fs, plan, planned, swap, vg


@dataclass(frozen=True)
class Case:
    name: str
    os: OsInfo
    plan: Plan
    facts: InstanceFacts
    choices: FixupChoices = field(default_factory=FixupChoices)
    disks: tuple[Disk, ...] = ()
    filesystems: tuple[Filesystem, ...] = ()
    swaps: tuple[SwapArea, ...] = ()
    volume_groups: tuple[VolumeGroup, ...] = ()
    firmware: Firmware = "bios"

    def machine(self, config: ConfigSnapshot) -> Machine:
        return Machine(
            disks=self.disks,
            filesystems=self.filesystems,
            swaps=self.swaps,
            volume_groups=self.volume_groups,
            os=self.os,
            config=config,
            firmware=self.firmware,
        )


DEBIAN_GRUB = OsInfo(
    bootloader="grub2",
    grub_install="grub-install",
    grub_mkconfig="update-grub",
    grub_cfg="/boot/grub/grub.cfg",
)
RHEL_GRUB = OsInfo(
    bootloader="grub2",
    grub_install="grub2-install",
    grub_mkconfig="grub2-mkconfig",
    grub_cfg="/boot/grub2/grub.cfg",
)

CASES: tuple[Case, ...] = (
    # Debian 7 installed as Debian 4 and upgraded: device names in fstab,
    # sysvinit, two onboard NICs in persistent-net rules, a static address,
    # serial console on ttyS1 (IPMI SOL). /home is merged into /, ext3 -> ext4.
    Case(
        name="debian7-sysvinit",
        os=replace(
            DEBIAN_GRUB,
            id="debian",
            version_id="7",
            hostname="oldbox",
            init="sysvinit",
            initramfs="initramfs-tools",
            kernels=("3.2.0-4-amd64",),
        ),
        disks=(disk("/dev/sda", (1, "0004a1b2-01", ""), (5, "0004a1b2-05", ""), (6, "0004a1b2-06", "")),),
        filesystems=(
            fs("/dev/sda1", "ext3", "/", "c1a7e6de-4a1f-4f0e-9d57-8f0b1e2d3c4a"),
            fs("/dev/sda6", "ext3", "/home", "d2b8f7ef-5b20-4a1f-8e68-9a1c2f3e4d5b"),
        ),
        swaps=(swap("/dev/sda5", "e3c9a8f0-6c31-4b2a-9f79-ab2d3e4f5a6c"),),
        plan=plan(
            planned(1, "filesystem", "ext4", "/", "/dev/sda1", uuid="7a1f3c5e-2b4d-4e6f-8a0b-1c2d3e4f5a6b"),
            planned(2, "swap", "swap", None, "/dev/sda5", uuid="8b2e4d6f-3c5e-4f70-9b1c-2d3e4f5a6b7c"),
            merged={"/home": "/"},
        ),
        facts=facts("web1.example.org", "aa:00:00:4e:2a:01"),
        choices=FixupChoices(static=StaticAddress("192.0.2.10/24", "192.0.2.1", ("192.0.2.53",))),
    ),
    # Debian 12 as its installer leaves it: UUIDs, systemd, ifupdown DHCP on
    # a predictable name, resume by UUID. The root filesystem keeps its UUID,
    # the swap gets a new one.
    Case(
        name="debian12-systemd",
        os=replace(
            DEBIAN_GRUB,
            id="debian",
            version_id="12",
            hostname="deb12",
            init="systemd",
            initramfs="initramfs-tools",
            kernels=("6.1.0-13-amd64",),
        ),
        disks=(disk("/dev/sda", (1, "9f3e2d1c-01", ""), (5, "9f3e2d1c-05", "")),),
        filesystems=(fs("/dev/sda1", "ext4", "/", "3c9d0b59-7d4f-4c37-8a8a-2f3f0f6c1e21"),),
        swaps=(swap("/dev/sda5", "a7b2c4d6-1e3f-4a5b-9c8d-7e6f5a4b3c2d"),),
        plan=plan(
            planned(1, "filesystem", "ext4", "/", "/dev/sda1", uuid="3c9d0b59-7d4f-4c37-8a8a-2f3f0f6c1e21"),
            planned(5, "swap", "swap", None, "/dev/sda5", uuid="0e4f2a6c-8b1d-4c3e-a5f7-9d0b2c4e6f81"),
        ),
        facts=facts("deb12-vm.example.net", "aa:00:00:11:22:33"),
    ),
    # Ubuntu 22.04 cloud image on EFI: labels in fstab, a swap file, netplan
    # from cloud-init matching the MAC, grub.d settings, a static address.
    Case(
        name="ubuntu2204-cloud-efi",
        os=replace(
            DEBIAN_GRUB,
            id="ubuntu",
            id_like=("debian",),
            version_id="22.04",
            hostname="app-old",
            init="systemd",
            initramfs="initramfs-tools",
            kernels=("5.15.0-88-generic",),
        ),
        disks=(
            disk(
                "/dev/sda",
                (1, "b3c1d2e4-11f0-4a5b-8c6d-7e8f9a0b1c2d", ""),
                (14, "c4d2e3f5-22a1-4b6c-9d7e-8f9a0b1c2d3e", ""),
                (15, "d5e3f4a6-33b2-4c7d-ae8f-9a0b1c2d3e4f", ""),
                table="gpt",
            ),
        ),
        filesystems=(
            fs("/dev/sda1", "ext4", "/", "0f8e7d6c-5b4a-4392-8170-6f5e4d3c2b1a", "cloudimg-rootfs"),
            fs("/dev/sda15", "vfat", "/boot/efi", "A1B2-C3D4", "UEFI"),
        ),
        swaps=(swap("/swap.img", kind="file"),),
        firmware="efi",
        plan=plan(
            planned(1, "esp", "vfat", "/boot/efi", "/dev/sda15", uuid="5A1B-2C3D", label="UEFI"),
            planned(
                2,
                "filesystem",
                "ext4",
                "/",
                "/dev/sda1",
                uuid="2d4c6e8a-0b1f-4e3d-9c5b-7a6f8e0d2c4b",
                label="cloudimg-rootfs",
            ),
            table="gpt",
            firmware="efi",
            swapfiles=("/swap.img",),
        ),
        facts=facts("app1.example.com", "aa:00:00:7f:00:01"),
        choices=FixupChoices(
            static=StaticAddress("203.0.113.20/24", "203.0.113.1", ("203.0.113.53", "203.0.113.54"))
        ),
    ),
    # Rocky 9 as anaconda installs it on LVM, moved to plain partitions: BLS
    # entries, /etc/kernel/cmdline, NetworkManager keyfile bound to a MAC.
    # The instance keeps the host name. /home's UUID is not known yet.
    Case(
        name="rocky9-lvm-nm",
        os=replace(
            RHEL_GRUB,
            id="rocky",
            id_like=("rhel", "centos", "fedora"),
            version_id="9.3",
            hostname="db01.example.com",
            init="systemd",
            initramfs="dracut",
            kernels=("5.14.0-362.8.1.el9_3.x86_64",),
        ),
        disks=(disk("/dev/sda", (1, "5e6f7a8b-01", ""), (2, "5e6f7a8b-02", "")),),
        volume_groups=(vg("rl", "root", "home", "swap"),),
        filesystems=(
            fs("/dev/mapper/rl-root", "xfs", "/", "4b5c6d7e-8f90-4a1b-b2c3-d4e5f6a7b8c9"),
            fs("/dev/sda1", "xfs", "/boot", "0c7a0c55-3d5c-4e36-b0b4-0d1f77f2b6a1"),
            fs("/dev/mapper/rl-home", "xfs", "/home", "5c6d7e8f-90a1-4b2c-83d4-e5f6a7b8c9d0"),
        ),
        swaps=(swap("/dev/mapper/rl-swap", "6d7e8f90-a1b2-4c3d-94e5-f6a7b8c9d0e1"),),
        plan=plan(
            planned(
                1,
                "filesystem",
                "xfs",
                "/boot",
                "/dev/sda1",
                uuid="0c7a0c55-3d5c-4e36-b0b4-0d1f77f2b6a1",
                size=GIB,
            ),
            planned(
                2,
                "filesystem",
                "xfs",
                "/",
                "/dev/mapper/rl-root",
                uuid="9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d",
            ),
            planned(3, "filesystem", "xfs", "/home", "/dev/rl/home"),
            planned(4, "swap", "swap", None, "/dev/rl/swap", uuid="1f2e3d4c-5b6a-4798-8a6b-5c4d3e2f1a0b"),
        ),
        facts=facts("db01.example.com", "aa:00:00:5e:00:53"),
    ),
    # Rocky 8 cloud-style on EFI: ifcfg with HWADDR, net.ifnames=0 (eth0
    # stays eth0), a serial console already configured, static IPv6.
    Case(
        name="rocky8-ifcfg-efi",
        os=OsInfo(
            id="rocky",
            id_like=("rhel", "centos", "fedora"),
            version_id="8.9",
            hostname="web-old.example.com",
            init="systemd",
            initramfs="dracut",
            kernels=("4.18.0-513.5.1.el8_9.x86_64",),
            bootloader="grub2",
            grub_install="grub2-install",
            grub_mkconfig="grub2-mkconfig",
            grub_cfg="/boot/efi/EFI/rocky/grub.cfg",
        ),
        disks=(
            disk(
                "/dev/vda",
                (1, "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d", "EFI System Partition"),
                (2, "1b2c3d4e-5f6a-4b7c-9d8e-0f1a2b3c4d5e", ""),
                table="gpt",
            ),
        ),
        filesystems=(
            fs("/dev/vda2", "xfs", "/", "5f0a6f6e-1d0e-4b8e-8f3a-2c1b0a9d8e7f"),
            fs("/dev/vda1", "vfat", "/boot/efi", "4E1F-9A0B"),
        ),
        firmware="efi",
        plan=plan(
            planned(1, "esp", "vfat", "/boot/efi", "/dev/vda1", uuid="7B3A-1C2D", size=GIB // 4),
            planned(2, "filesystem", "xfs", "/", "/dev/vda2", uuid="8c9d0e1f-2a3b-4c5d-9e6f-7a8b9c0d1e2f"),
            table="gpt",
            firmware="efi",
        ),
        facts=facts("web-new.example.com", "aa:00:00:2c:4e:6a"),
        choices=FixupChoices(
            static=StaticAddress("2001:db8:10::20/64", "2001:db8:10::1", ("2001:db8:10::53",))
        ),
    ),
    # CentOS 6 (upstart, GRUB legacy) on Xen PV with the cluster's kernel:
    # LVM names, /boot merged into /, an NFS mount, ifcfg + persistent-net.
    Case(
        name="centos6-xen-cluster",
        os=OsInfo(
            id="centos",
            id_like=("rhel", "fedora"),
            version_id="6",
            hostname="legacy.example.com",
            init="upstart",
            initramfs="dracut",
            bootloader="grub-legacy",
            kernels=("2.6.32-358.el6.x86_64",),
        ),
        disks=(disk("/dev/sda", (1, "000c2f3e-01", ""), (2, "000c2f3e-02", "")),),
        volume_groups=(vg("VolGroup", "lv_root", "lv_home", "lv_swap"),),
        filesystems=(
            fs("/dev/mapper/VolGroup-lv_root", "ext4", "/", "2a3b4c5d-6e7f-4081-9203-a4b5c6d7e8f9"),
            fs("/dev/sda1", "ext4", "/boot", "9e7b6f4a-2c1d-4e3f-8a5b-6c7d8e9f0a1b"),
            fs("/dev/mapper/VolGroup-lv_home", "ext4", "/home", "3b4c5d6e-7f80-4192-a314-b5c6d7e8f9a0"),
        ),
        swaps=(swap("/dev/mapper/VolGroup-lv_swap", "4c5d6e7f-8091-4a23-b425-c6d7e8f9a0b1"),),
        plan=plan(
            planned(
                1,
                "filesystem",
                "ext4",
                "/",
                "/dev/VolGroup/lv_root",
                uuid="2a3b4c5d-6e7f-4081-9203-a4b5c6d7e8f9",
                disk="/dev/xvda",
            ),
            planned(
                2,
                "filesystem",
                "ext4",
                "/home",
                "/dev/mapper/VolGroup-lv_home",
                uuid="c0d1e2f3-a4b5-4c6d-8e7f-90a1b2c3d4e5",
                disk="/dev/xvda",
            ),
            planned(
                3,
                "swap",
                "swap",
                None,
                "/dev/mapper/VolGroup-lv_swap",
                uuid="d1e2f3a4-b5c6-4d7e-9f80-a1b2c3d4e5f6",
                disk="/dev/xvda",
            ),
            disk="/dev/xvda",
            boot="cluster",
            merged={"/boot": "/"},
        ),
        facts=facts(
            "legacy6.example.com",
            "aa:00:00:60:00:06",
            hypervisor="xen-pvm",
            kernel_path="/boot/vmlinuz-3-xenU",
        ),
    ),
    # Debian 11 on GPT: PARTUUIDs, /var merged into /, /srv dropped, random-key
    # swap by a by-id name, a LUKS data volume, networkd, root UUID not known
    # before mkfs, a static address.
    Case(
        name="debian11-gpt-merged",
        os=replace(
            DEBIAN_GRUB,
            id="debian",
            version_id="11",
            hostname="storage",
            init="systemd",
            initramfs="initramfs-tools",
            kernels=("5.10.0-26-amd64",),
        ),
        disks=(
            disk(
                "/dev/sda",
                (1, "aa11bb22-cc33-4d44-8e55-ff6600771188", "bios"),
                (2, "6e3f1a52-8d4b-4c1e-9f7a-0b2c3d4e5f61", "root"),
                (3, "1d2c3b4a-5f6e-4a7b-8c9d-0e1f2a3b4c5d", "var"),
                (4, "7c8d9e0f-1a2b-4c3d-8e4f-5a6b7c8d9e0f", "swap"),
                (5, "8d9e0f1a-2b3c-4d4e-9f50-6b7c8d9e0f1a", "srv"),
                (6, "9e0f1a2b-3c4d-4e5f-a061-7c8d9e0f1a2b", "data"),
                table="gpt",
            ),
        ),
        filesystems=(
            fs("/dev/sda2", "ext4", "/", "11111111-2222-4333-8444-555555555555"),
            fs("/dev/sda3", "ext4", "/var", "22222222-3333-4444-8555-666666666666"),
            fs("/dev/sda5", "xfs", "/srv", "f1e2d3c4-b5a6-4978-8695-a4b3c2d1e0f9"),
        ),
        plan=plan(
            planned(1, "bios_grub", None, None, None, size=MIB),
            planned(2, "filesystem", "ext4", "/", "/dev/sda2"),
            planned(3, "swap", "swap", None, "/dev/sda4", uuid="33333333-4444-4555-8666-777777777777"),
            table="gpt",
            merged={"/var": "/"},
            dropped=("/srv",),
        ),
        facts=facts("storage2.corp.example", "aa:00:00:d1:5c:07"),
        choices=FixupChoices(static=StaticAddress("198.51.100.7/24", "198.51.100.1", ("198.51.100.53",))),
    ),
    # Debian 10 on Xen PV with the cluster's kernel: hvc0, eth0 with
    # net.ifnames=0, no GRUB or initramfs changes.
    Case(
        name="debian10-xen-pvm",
        os=replace(
            DEBIAN_GRUB,
            id="debian",
            version_id="10",
            hostname="buster",
            init="systemd",
            initramfs="initramfs-tools",
            kernels=("4.19.0-25-amd64",),
        ),
        disks=(disk("/dev/sda", (1, "", ""), (2, "", "")),),
        filesystems=(fs("/dev/sda1", "ext4", "/", "6a7b8c9d-0e1f-4a2b-8c3d-4e5f6a7b8c9d"),),
        swaps=(swap("/dev/sda2", "3e5d7c9b-1a2f-4e6d-8c0b-9a8f7e6d5c4b"),),
        plan=plan(
            planned(
                1,
                "filesystem",
                "ext4",
                "/",
                "/dev/sda1",
                uuid="6a7b8c9d-0e1f-4a2b-8c3d-4e5f6a7b8c9d",
                disk="/dev/xvda",
            ),
            planned(
                2,
                "swap",
                "swap",
                None,
                "/dev/sda2",
                uuid="7b8c9d0e-1f2a-4b3c-9d4e-5f6a7b8c9d0e",
                disk="/dev/xvda",
            ),
            disk="/dev/xvda",
            boot="cluster",
        ),
        facts=facts(
            "buster.example.com",
            "aa:00:00:10:0a:0b",
            hypervisor="xen-pvm",
            kernel_path="/boot/vmlinuz-4.19-xen",
        ),
    ),
)
