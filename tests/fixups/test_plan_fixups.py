"""plan_fixups as a whole: one edit per file, optional fixups, diffs."""

from __future__ import annotations

from p2v_tui.model.edits import FixupChoices, StaticAddress
from p2v_tui.model.fixups import FIXUPS

from .builders import edit_for, facts, fs, plan, planned, run, swap

FILES = {
    "/etc/fstab": "/dev/sda1 / ext4 defaults 0 1\n/dev/sda2 none swap sw 0 0\n",
    "/etc/default/grub": 'GRUB_CMDLINE_LINUX="root=/dev/sda1 resume=/dev/sda2"\n',
    "/etc/network/interfaces": "auto ens3\niface ens3 inet dhcp\n",
    "/etc/hostname": "old\n",
}
FILESYSTEMS = (fs("/dev/sda1", "ext4", "/", "1111"),)
SWAPS = (swap("/dev/sda2", "2222"),)
PLAN = plan(
    planned(1, "filesystem", "ext4", "/", "/dev/sda1", uuid="aaaa"),
    planned(2, "swap", "swap", None, "/dev/sda2", uuid="bbbb"),
)
STATIC = FixupChoices(static=StaticAddress("192.0.2.9/24"))


def test_optional_fixups_are_listed_and_can_be_turned_off() -> None:
    everything = run(
        FILES,
        the_plan=PLAN,
        the_facts=facts("new", "aa:00:00:00:00:09"),
        choices=STATIC,
        filesystems=FILESYSTEMS,
        swaps=SWAPS,
    )
    assert everything.optional_ids == {"console", "network-names", "network-static"}
    assert {f.id for f in FIXUPS if f.optional} == everything.optional_ids
    off = run(
        FILES,
        the_plan=PLAN,
        the_facts=facts("new", "aa:00:00:00:00:09"),
        choices=FixupChoices(
            static=StaticAddress("192.0.2.9/24"),
            disabled=frozenset({"network-static", "network-names", "fstab"}),
        ),
        filesystems=FILESYSTEMS,
        swaps=SWAPS,
    )
    assert off.optional_ids == everything.optional_ids
    assert edit_for(off, "/etc/network/interfaces") is None
    assert edit_for(off, "/etc/systemd/network/10-p2v-ens3.link") is None
    assert edit_for(off, "/etc/fstab") is not None, "required fixups cannot be turned off"
    assert {n.split(":")[0] for n in off.notes if "turned off" in n} == {"network-static", "network-names"}


def test_one_edit_per_file_with_the_ids_that_made_it() -> None:
    result = run(FILES, the_plan=PLAN, the_facts=facts("new"), filesystems=FILESYSTEMS, swaps=SWAPS)
    paths = [e.path for e in result.edits]
    assert len(paths) == len(set(paths))
    grub = edit_for(result, "/etc/default/grub")
    assert grub is not None and grub.fixup == "resume+grub+console"
    assert grub.diff() == (
        "--- a/etc/default/grub\n+++ b/etc/default/grub\n@@ -1 +1,6 @@\n"
        '-GRUB_CMDLINE_LINUX="root=/dev/sda1 resume=/dev/sda2"\n'
        '+# p2v: was: GRUB_CMDLINE_LINUX="root=/dev/sda1 resume=/dev/sda2"\n'
        '+GRUB_CMDLINE_LINUX="resume=UUID=bbbb console=tty0 console=ttyS0,115200n8"\n'
        "+# p2v: GRUB on the serial console too\n"
        '+GRUB_TERMINAL="console serial"\n'
        "+# p2v: the instance's serial port for GRUB\n"
        '+GRUB_SERIAL_COMMAND="serial --unit=0 --speed=115200"\n'
    )


def test_commands_come_in_order() -> None:
    result = run(FILES, the_plan=PLAN, the_facts=facts("new"), filesystems=FILESYSTEMS, swaps=SWAPS)
    assert [c.fixup for c in result.commands] == ["initramfs-virtio", "bootloader", "bootloader"]
    assert not any(c.optional for c in result.commands)


def test_is_a_pure_function() -> None:
    first = run(FILES, the_plan=PLAN, the_facts=facts("new"), filesystems=FILESYSTEMS, swaps=SWAPS)
    again = run(FILES, the_plan=PLAN, the_facts=facts("new"), filesystems=FILESYSTEMS, swaps=SWAPS)
    assert first == again


def test_uuids_known_after_mkfs() -> None:
    """Before mkfs the new root is named by device, after it by UUID."""
    before = plan(planned(1, "filesystem", "ext4", "/", "/dev/sda1"))
    after = plan(planned(1, "filesystem", "ext4", "/", "/dev/sda1", uuid="cafe"))
    fstab = {"/etc/fstab": "/dev/sda1 / ext4 defaults 0 1\n"}
    first = edit_for(run(fstab, the_plan=before, filesystems=FILESYSTEMS, swaps=SWAPS), "/etc/fstab")
    second = edit_for(run(fstab, the_plan=after, filesystems=FILESYSTEMS, swaps=SWAPS), "/etc/fstab")
    assert first is not None and first.new is not None
    assert first.new.endswith("/dev/vda1 / ext4 defaults 0 1\n")
    assert second is not None and second.new is not None
    assert second.new.endswith("UUID=cafe / ext4 defaults 0 1\n")
