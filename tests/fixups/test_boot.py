"""console, grub, resume, crypttab, initramfs and bootloader fixups."""

from __future__ import annotations

from dataclasses import replace

import pytest

from p2v_tui.model.edits import FixupChoices
from p2v_tui.model.fixups._context import console_device
from p2v_tui.model.fixups.console import inittab_with_getty
from p2v_tui.model.fixups.initramfs import modules_with
from p2v_tui.model.machine import OsInfo

from .builders import DEBIAN12, edit_for, facts, fs, plan, planned, run, swap, text_after

GETTY = "/etc/systemd/system/getty.target.wants/serial-getty@ttyS0.service"
ROOT = planned(1, "filesystem", "ext4", "/", "/dev/sda1", uuid="1111")


@pytest.mark.parametrize(
    ("hypervisor", "serial", "choice", "expected"),
    [
        ("kvm", True, "auto", "ttyS0"),
        ("kvm", False, "auto", None),
        ("xen-pvm", False, "auto", "hvc0"),
        ("xen-hvm", True, "auto", None),
        ("lxc", True, "auto", None),
        ("kvm", True, "none", None),
        ("lxc", False, "ttyS0", "ttyS0"),
        ("kvm", True, "hvc0", "hvc0"),
    ],
)
def test_console_device(hypervisor: str, serial: bool, choice: str, expected: str | None) -> None:
    f = facts("h", hypervisor=hypervisor, serial_console=serial)  # type: ignore[arg-type]
    assert console_device(f, FixupChoices(console=choice)) == expected  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("os", "links", "target"),
    [
        (
            DEBIAN12,
            {
                "/etc/systemd/system/getty.target.wants/getty@tty1.service": "/lib/systemd/system/getty@.service",  # noqa: E501
                "/lib": "usr/lib",
            },
            "/lib/systemd/system/serial-getty@.service",
        ),
        (DEBIAN12, {"/lib": "usr/lib"}, "/usr/lib/systemd/system/serial-getty@.service"),
        (DEBIAN12, {}, "/lib/systemd/system/serial-getty@.service"),
        (
            OsInfo(id="almalinux", id_like=("rhel",), init="systemd"),
            {},
            "/usr/lib/systemd/system/serial-getty@.service",
        ),
    ],
)
def test_serial_getty_link(os: OsInfo, links: dict[str, str], target: str) -> None:
    edit = edit_for(run({}, links=links, os=os), GETTY)
    assert edit is not None and edit.kind == "symlink" and edit.new == target and edit.optional
    assert edit.diff().startswith(f"# symlink {GETTY}\n")


def test_serial_getty_already_enabled() -> None:
    links = {GETTY: "/lib/systemd/system/serial-getty@.service"}
    assert edit_for(run({}, links=links), GETTY) is None


def test_inittab_hvc0_appended_with_its_own_id() -> None:
    text = "id:2:initdefault:\n1:2345:respawn:/sbin/getty 38400 tty1\n"
    assert inittab_with_getty(text, "hvc0") == (
        text + "\n# p2v: a login prompt on the instance's console\nh0:2345:respawn:/sbin/getty 38400 hvc0\n"
    )


def test_inittab_with_a_getty_there_already() -> None:
    text = "id:2:initdefault:\nS0:2345:respawn:/sbin/agetty -L 9600 ttyS0 vt102\n"
    assert inittab_with_getty(text, "ttyS0") == text


def test_inittab_id_in_use_and_rhel_agetty() -> None:
    text = "T0:2345:respawn:/sbin/mingetty tty9\n"
    new = inittab_with_getty(text, "ttyS0", rhel=True)
    assert new.endswith("S0:23:respawn:/sbin/agetty -L 115200 ttyS0 vt100\n")


def test_inittab_on_sysvinit_machine_and_securetty() -> None:
    os = replace(DEBIAN12, init="sysvinit")
    inittab = "id:2:initdefault:\n"
    result = run({"/etc/inittab": inittab, "/etc/securetty": "console\ntty1\n"}, os=os)
    assert "T0:23:respawn:/sbin/getty -L ttyS0 115200 vt100" in (text_after(result, "/etc/inittab") or "")
    assert text_after(result, "/etc/securetty") == "console\ntty1\n# p2v: the instance's console\nttyS0\n"
    assert edit_for(result, GETTY) is None


def test_upstart_is_left_with_a_note() -> None:
    result = run({"/etc/inittab": "id:3:initdefault:\n"}, os=replace(DEBIAN12, init="upstart"))
    assert edit_for(result, "/etc/inittab") is None
    assert any("/etc/init/ttyS0.conf" in n for n in result.notes)


def test_console_none_changes_nothing_for_the_console() -> None:
    grub = 'GRUB_CMDLINE_LINUX="console=ttyS1 root=/dev/sda1"\n'
    result = run({"/etc/default/grub": grub}, the_plan=plan(ROOT), choices=FixupChoices(console="none"))
    assert edit_for(result, GETTY) is None
    assert text_after(result, "/etc/default/grub") == (
        '# p2v: was: GRUB_CMDLINE_LINUX="console=ttyS1 root=/dev/sda1"\nGRUB_CMDLINE_LINUX="console=ttyS1"\n'
    )
    assert "console" not in result.optional_ids


def test_console_turned_off() -> None:
    grub = 'GRUB_CMDLINE_LINUX="root=/dev/sda1"\n'
    on = run({"/etc/default/grub": grub}, the_plan=plan(ROOT))
    off = run(
        {"/etc/default/grub": grub},
        the_plan=plan(ROOT),
        choices=FixupChoices(disabled=frozenset({"console"})),
    )
    assert "console" in on.optional_ids and "console" in off.optional_ids
    edit_on, edit_off = edit_for(on, "/etc/default/grub"), edit_for(off, "/etc/default/grub")
    assert edit_on is not None and edit_on.fixup == "grub+console" and not edit_on.optional
    assert edit_off is not None and edit_off.fixup == "grub"
    assert edit_off.new is not None and 'GRUB_CMDLINE_LINUX=""' in edit_off.new
    assert edit_for(off, GETTY) is None
    assert any(n.startswith("console: turned off") for n in off.notes)


def test_grub_d_assignment_that_wins_gets_the_console() -> None:
    files = {
        "/etc/default/grub": 'GRUB_CMDLINE_LINUX="quiet console=ttyS1"\n',
        "/etc/default/grub.d/60-local.cfg": 'GRUB_CMDLINE_LINUX="$GRUB_CMDLINE_LINUX splash"\n',
    }
    result = run(files)
    assert 'GRUB_CMDLINE_LINUX="quiet"\n' in (text_after(result, "/etc/default/grub") or "")
    assert (text_after(result, "/etc/default/grub.d/60-local.cfg") or "").endswith(
        'GRUB_CMDLINE_LINUX="$GRUB_CMDLINE_LINUX splash console=tty0 console=ttyS0,115200n8"\n'
    )


def test_grub_without_cmdline_or_terminal_gets_them() -> None:
    grub = 'GRUB_TIMEOUT=5\nGRUB_SERIAL_COMMAND="serial --unit=0 --speed=9600"\n'
    result = run({"/etc/default/grub": grub})
    assert text_after(result, "/etc/default/grub") == (
        'GRUB_TIMEOUT=5\nGRUB_SERIAL_COMMAND="serial --unit=0 --speed=9600"\n'
        '# p2v: the instance\'s console\nGRUB_CMDLINE_LINUX="console=tty0 console=ttyS0,115200n8"\n'
        '# p2v: GRUB on the serial console too\nGRUB_TERMINAL="console serial"\n'
    )


def test_hvc0_console_sets_no_grub_terminal() -> None:
    result = run({"/etc/default/grub": 'GRUB_CMDLINE_LINUX=""\n'}, the_facts=facts("h", hypervisor="xen-pvm"))
    assert text_after(result, "/etc/default/grub") == (
        '# p2v: was: GRUB_CMDLINE_LINUX=""\nGRUB_CMDLINE_LINUX="console=hvc0"\n'
    )


def test_boot_cluster_leaves_grub_alone() -> None:
    grub = 'GRUB_CMDLINE_LINUX="root=/dev/sda1 resume=/dev/sda2"\nGRUB_DISABLE_LINUX_UUID=true\n'
    result = run({"/etc/default/grub": grub}, the_plan=plan(ROOT, boot="cluster"))
    assert edit_for(result, "/etc/default/grub") is None
    assert result.commands == ()
    assert edit_for(result, GETTY) is not None


def test_grub_legacy_is_not_supported() -> None:
    os = OsInfo(id="centos", id_like=("rhel",), init="upstart", initramfs="dracut", bootloader="grub-legacy")
    result = run({"/etc/default/grub": 'GRUB_CMDLINE_LINUX="root=/dev/sda1"\n'}, os=os, the_plan=plan(ROOT))
    assert edit_for(result, "/etc/default/grub") is None
    assert [c.argv[0] for c in result.commands] == ["dracut"]
    assert any("GRUB legacy is not supported" in n for n in result.notes)


def test_grub_disable_linux_uuid_false_stays() -> None:
    result = run(
        {"/etc/default/grub": "GRUB_DISABLE_LINUX_UUID=false\n"}, choices=FixupChoices(console="none")
    )
    assert edit_for(result, "/etc/default/grub") is None


# ---------------------------------------------------------------- resume

SWAPS = (swap("/dev/sda2", "aaaa"), swap("/dev/sda3", "bbbb"))
SMALL = planned(2, "swap", "swap", None, "/dev/sda2", uuid="cccc", size=1 << 30)
LARGE = planned(3, "swap", "swap", None, "/dev/sda3", uuid="dddd", size=4 << 30)


@pytest.mark.parametrize(
    ("before", "parts", "after"),
    [
        ("RESUME=UUID=aaaa\n", (SMALL, LARGE), "# p2v: was: RESUME=UUID=aaaa\nRESUME=UUID=cccc\n"),
        ("RESUME=/dev/sdz9\n", (SMALL, LARGE), "# p2v: was: RESUME=/dev/sdz9\nRESUME=UUID=dddd\n"),
        ("RESUME=UUID=aaaa\n", (LARGE,), "# p2v: was: RESUME=UUID=aaaa\nRESUME=UUID=dddd\n"),
        ("RESUME=UUID=aaaa\n", (), "# p2v: was: RESUME=UUID=aaaa\nRESUME=none\n"),
        ("RESUME=none\n", (SMALL,), "RESUME=none\n"),
        ("RESUME=UUID=cccc\n", (SMALL,), "RESUME=UUID=cccc\n"),
    ],
)
def test_resume_conf(before: str, parts: tuple[object, ...], after: str) -> None:
    path = "/etc/initramfs-tools/conf.d/resume"
    result = run({path: before}, swaps=SWAPS, the_plan=plan(ROOT, *parts))  # type: ignore[arg-type]
    assert text_after(result, path, before) == after


def test_resume_on_the_kernel_command_line() -> None:
    grub = 'GRUB_CMDLINE_LINUX_DEFAULT="quiet resume=/dev/sda2 resume_offset=4096"\n'
    result = run(
        {"/etc/default/grub": grub},
        swaps=SWAPS,
        the_plan=plan(ROOT, SMALL),
        choices=FixupChoices(console="none"),
    )
    assert text_after(result, "/etc/default/grub") == (
        f'# p2v: was: {grub}GRUB_CMDLINE_LINUX_DEFAULT="quiet"\n'
    )


# ---------------------------------------------------------------- crypttab

CRYPT = "/etc/crypttab"


def test_random_swap_follows_its_partition_and_luks_goes() -> None:
    crypttab = (
        "# <target name> <source device> <key file> <options>\n"
        "cswap /dev/sda2 /dev/urandom swap,cipher=aes-xts-plain64,size=256\n"
        "ctmp /dev/sda4 /dev/urandom tmp\n"
        "home UUID=9999 none luks\n"
    )
    result = run({CRYPT: crypttab}, the_plan=plan(ROOT, planned(2, "swap", "swap", None, "/dev/sda2")))
    assert text_after(result, CRYPT) == (
        "# <target name> <source device> <key file> <options>\n"
        "# p2v: was: cswap /dev/sda2 /dev/urandom swap,cipher=aes-xts-plain64,size=256\n"
        "cswap /dev/vda2 /dev/urandom swap,cipher=aes-xts-plain64,size=256\n"
        "# p2v: random-key volume not migrated: ctmp /dev/sda4 /dev/urandom tmp\n"
        "# p2v: encrypted container not migrated (p2v copies files, not containers): "
        "home UUID=9999 none luks\n"
    )
    assert any("cswap now uses /dev/vda2" in n for n in result.notes)


def test_unlocked_container_whose_files_were_copied() -> None:
    crypttab = "data UUID=9999 none luks\n"
    fstab = "/dev/mapper/data /data ext4 defaults 0 2\n"
    result = run(
        {CRYPT: crypttab, "/etc/fstab": fstab},
        filesystems=(fs("/dev/mapper/data", "ext4", "/data", "eeee"),),
        the_plan=plan(ROOT, planned(2, "filesystem", "ext4", "/data", "/dev/mapper/data", uuid="ffff")),
    )
    assert text_after(result, "/etc/fstab") == f"# p2v: was: {fstab}UUID=ffff /data ext4 defaults 0 2\n"
    assert any("from the encrypted volume data to the unencrypted /dev/vda2" in n for n in result.notes)


# ---------------------------------------------------------------- initramfs and bootloader


def test_modules_already_listed_are_not_added_twice() -> None:
    text = "virtio-pci\nvirtio_blk\n# virtio_scsi\n"
    assert modules_with(text, ("virtio_pci", "virtio_blk", "virtio_scsi")) == (
        text + "# p2v: drivers of the instance's virtual disk and network card\nvirtio_scsi\n"
    )
    assert modules_with("virtio_pci\n", ("virtio_pci",)) == "virtio_pci\n"


def test_modules_file_created_when_missing_and_xen_drivers() -> None:
    result = run({}, the_facts=facts("h", hypervisor="xen-hvm"))
    edit = edit_for(result, "/etc/initramfs-tools/modules")
    assert edit is not None and edit.old is None
    assert edit.new is not None and edit.new.endswith("xen_blkfront\nxen_netfront\n")
    assert edit.diff().startswith("--- /dev/null\n+++ b/etc/initramfs-tools/modules\n")


def _argvs(os: OsInfo, **plan_args: object) -> list[list[str]]:
    result = run({}, os=os, the_plan=plan(ROOT, **plan_args))  # type: ignore[arg-type]
    return [list(c.argv) for c in result.commands]


def test_commands_bios_debian() -> None:
    assert _argvs(DEBIAN12) == [
        ["update-initramfs", "-u", "-k", "all"],
        ["grub-install", "--target=i386-pc", "--recheck", "/dev/vda"],
        ["update-grub"],
    ]


def test_grub_goes_where_the_instance_mounts_its_esp() -> None:
    esp = planned(2, "esp", "vfat", "/efi", "/dev/sda2", uuid="ABCD-1234")
    result = run({}, os=DEBIAN12, the_plan=plan(ROOT, esp, firmware="efi", table="gpt"))
    installs = [list(c.argv) for c in result.commands if c.argv[0] == "grub-install"]
    assert installs and all("--efi-directory=/efi" in argv for argv in installs)


def test_commands_efi_debian() -> None:
    assert _argvs(DEBIAN12, firmware="efi", table="gpt")[1:] == [
        [
            "grub-install",
            "--target=x86_64-efi",
            "--efi-directory=/boot/efi",
            "--bootloader-id=debian",
            "--no-nvram",
        ],
        ["grub-install", "--target=x86_64-efi", "--efi-directory=/boot/efi", "--removable"],
        ["update-grub"],
    ]


def test_commands_dracut() -> None:
    debian_dracut = replace(DEBIAN12, initramfs="dracut")
    assert _argvs(debian_dracut)[0] == ["dracut", "-f", "--regenerate-all"]
    rhel = OsInfo(
        id="centos",
        id_like=("rhel",),
        init="systemd",
        initramfs="dracut",
        bootloader="grub2",
        grub_mkconfig="grub2-mkconfig",
        kernels=("3.10.0-1160.el7.x86_64",),
    )
    assert _argvs(rhel) == [
        ["dracut", "-f", "/boot/initramfs-3.10.0-1160.el7.x86_64.img", "3.10.0-1160.el7.x86_64"],
        ["grub2-install", "--target=i386-pc", "--recheck", "/dev/vda"],
        ["grub2-mkconfig", "-o", "/boot/grub2/grub.cfg"],
    ]


def test_no_bootloader_on_the_source() -> None:
    result = run({}, os=replace(DEBIAN12, bootloader="none"), the_plan=plan(ROOT))
    assert [c.argv[0] for c in result.commands] == ["update-initramfs"]
    assert any("will not boot by itself" in n for n in result.notes)


def test_cluster_boot_runs_nothing() -> None:
    result = run({}, the_plan=plan(ROOT, boot="cluster"))
    assert result.commands == ()
    assert edit_for(result, "/etc/initramfs-tools/modules") is None
    assert any("cluster's kernel" in n for n in result.notes)


def test_cluster_boot_of_a_source_without_grub_says_why_nothing_is_installed() -> None:
    result = run({}, os=replace(DEBIAN12, bootloader="none"), the_plan=plan(ROOT, boot="cluster"))
    assert result.commands == ()
    assert (
        "bootloader: none installed: the source has no GRUB 2; the cluster's kernel starts it" in result.notes
    )
    assert not any("will not boot by itself" in n for n in result.notes)
