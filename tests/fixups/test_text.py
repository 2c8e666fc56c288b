"""Line surgery: fields, shell assignments, kernel command lines."""

from __future__ import annotations

import pytest

from p2v_tui.model.fixups._text import lines_of, parse_assignment, replace_field, rewrite_line, set_var
from p2v_tui.model.fixups.kernel_cmdline import console_args, resume_args, split_args, storage_args
from p2v_tui.model.plan import PlannedPartition

from .builders import planned


@pytest.mark.parametrize(
    ("line", "index", "new", "expected"),
    [
        ("/dev/sda1       /               ext4", 0, "/dev/vda1", "/dev/vda1       /               ext4"),
        (
            "/dev/sda1       /               ext4",
            0,
            "UUID=0123456789abcdef",
            "UUID=0123456789abcdef /               ext4",
        ),
        ("/dev/sda1\t/\text4\n", 0, "UUID=x", "UUID=x\t/\text4\n"),
        ("a b c", 2, "zz", "a b zz"),
        ("UUID=long-long-long /  ext4", 0, "/dev/vda2", "/dev/vda2 /  ext4"),
        ("  a   b", 1, "c", "  a   c"),
    ],
)
def test_replace_field(line: str, index: int, new: str, expected: str) -> None:
    assert replace_field(line, index, new) == expected


@pytest.mark.parametrize(
    ("line", "name", "value", "quote", "tail"),
    [
        ('GRUB_CMDLINE_LINUX="quiet splash"\n', "GRUB_CMDLINE_LINUX", "quiet splash", '"', ""),
        ("GRUB_TERMINAL=console\n", "GRUB_TERMINAL", "console", "", ""),
        ("export FOO='a b' # comment\n", "FOO", "a b", "'", " # comment"),
        ('X="say \\"hi\\""\n', "X", 'say \\"hi\\"', '"', ""),
        (
            "GRUB_DISTRIBUTOR=\"$(sed 's, release .*$,,g' /etc/system-release)\"\n",
            "GRUB_DISTRIBUTOR",
            "$(sed 's, release .*$,,g' /etc/system-release)",
            '"',
            "",
        ),
    ],
)
def test_parse_assignment(line: str, name: str, value: str, quote: str, tail: str) -> None:
    a = parse_assignment(line)
    assert a is not None
    assert (a.name, a.value, a.quote, a.tail) == (name, value, quote, tail)


def test_not_assignments() -> None:
    assert parse_assignment("# GRUB_TERMINAL=console") is None
    assert parse_assignment("if [ x ]; then") is None


def test_set_var_replaces_the_last_assignment_with_a_was_comment() -> None:
    lines = lines_of("A=1\nB=2\nA=3\n")
    assert "".join(set_var(lines, "A", "x y")) == 'A=1\nB=2\n# p2v: was: A=3\nA="x y"\n'


def test_set_var_goes_after_the_commented_example() -> None:
    lines = lines_of("# Uncomment to disable graphical terminal\n#GRUB_TERMINAL=console\n\nX=1\n")
    out = "".join(set_var(lines, "GRUB_TERMINAL", "console serial", comment="why"))
    assert out == (
        "# Uncomment to disable graphical terminal\n#GRUB_TERMINAL=console\n# p2v: why\n"
        'GRUB_TERMINAL="console serial"\n\nX=1\n'
    )


def test_set_var_appends_to_a_file_without_final_newline() -> None:
    assert "".join(set_var(lines_of("A=1"), "B", "2", quote="")) == "A=1\nB=2\n"


def test_rewrite_line_comments_once() -> None:
    lines = lines_of("X=1\n")
    i = rewrite_line(lines, 0, "X=2")
    i = rewrite_line(lines, i, "X=3")
    assert "".join(lines) == "# p2v: was: X=1\nX=3\n"


@pytest.mark.parametrize(
    ("text", "tokens"),
    [
        ("quiet splash", ["quiet", "splash"]),
        ('  acpi_osi="!Windows 2012" ro ', ['acpi_osi="!Windows 2012"', "ro"]),
        ("", []),
    ],
)
def test_split_args(text: str, tokens: list[str]) -> None:
    assert split_args(text) == tokens


ROOT = planned(2, "filesystem", "ext4", "/", "/dev/mapper/vg-root", uuid="abcd")
ROOT_NEW = planned(2, "filesystem", "ext4", "/", "/dev/sda2")
SWAP = planned(3, "swap", "swap", None, "/dev/sda3", uuid="5555")


@pytest.mark.parametrize(
    ("args", "root", "replace", "expected"),
    [
        (
            "root=/dev/mapper/vg-root ro rd.lvm.lv=vg/root rd.lvm.lv=vg/swap quiet",
            ROOT,
            True,
            "root=UUID=abcd ro quiet",
        ),
        ("root=/dev/mapper/vg-root ro rd.lvm.lv=vg/root quiet", ROOT, False, "ro quiet"),
        ("root=UUID=abcd ro", ROOT, False, "root=UUID=abcd ro"),
        ("root=/dev/sda2 rootfstype=ext3", ROOT_NEW, True, "root=/dev/vda2 rootfstype=ext4"),
        ("ro rd_LVM_LV=VolGroup/lv_root rd_NO_LUKS rd.md.uuid=1:2:3:4", ROOT, True, "ro rd_NO_LUKS"),
    ],
)
def test_storage_args(args: str, root: PlannedPartition, replace: bool, expected: str) -> None:
    assert " ".join(storage_args(split_args(args), root, replace_root=replace)) == expected


@pytest.mark.parametrize(
    ("args", "target", "expected"),
    [
        ("quiet resume=/dev/sda3", SWAP, "quiet resume=UUID=5555"),
        ("resume=UUID=5555", SWAP, "resume=UUID=5555"),
        ("quiet resume=/dev/sda3", None, "quiet"),
        ("resume=/dev/sda2 resume_offset=34816 quiet", SWAP, "quiet"),
        ("quiet", SWAP, "quiet"),
    ],
)
def test_resume_args(args: str, target: PlannedPartition | None, expected: str) -> None:
    assert " ".join(resume_args(split_args(args), target)) == expected


@pytest.mark.parametrize(
    ("args", "device", "append", "expected"),
    [
        ("", "ttyS0", True, "console=tty0 console=ttyS0,115200n8"),
        ("console=tty0 console=ttyS1,115200n8", "ttyS0", True, "console=tty0 console=ttyS0,115200n8"),
        ("console=tty1 console=ttyS0", "ttyS0", False, ""),
        ("quiet console=hvc0", "ttyS0", True, "quiet console=tty0 console=ttyS0,115200n8"),
        ("ro console=ttyS0 $tuned_params", "hvc0", True, "ro console=hvc0 $tuned_params"),
        ("console=tty0 console=ttyS0,115200n8", "ttyS0", True, "console=tty0 console=ttyS0,115200n8"),
    ],
)
def test_console_args(args: str, device: str, append: bool, expected: str) -> None:
    assert " ".join(console_args(split_args(args), device, append=append)) == expected
