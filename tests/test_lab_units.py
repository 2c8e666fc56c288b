"""Pure parts of the lab: pattern matching, ACL decoding, hole arithmetic, fstab lines, wire setup."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from p2v_tui.model.fstab_syntax import parse_fstab
from p2v_tui.model.machine import FstabEntry
from tests.lab.compare import bytes_outside, decode_acl, matcher, shown
from tests.lab.netns import NetnsPair, namespace_names, setup_argvs
from tests.lab.sshd import namespace_script, sshd_config_text
from tests.lab.tree import fstab_by_device, fstab_by_label, fstab_by_uuid, render_fstab, subvol_options


@pytest.mark.parametrize(
    ("patterns", "rel", "expected"),
    [
        (["var/cache/apt/archives/*.deb"], "var/cache/apt/archives/a_1_amd64.deb", True),
        (["/var/cache/apt/archives/*.deb"], "var/cache/apt/archives/a_1_amd64.deb", True),
        (["var/cache/apt/archives/*.deb"], "var/cache/apt/archives/lock", False),
        (["var/cache/apt/archives/*.deb"], "var/cache/apt/archives", False),
        (["var/tmp"], "var/tmp/build/obj.o", True),  # below an anchored directory
        (["var/tmp/"], "var/tmp", True),
        (["tmp"], "var/tmp", False),  # anchored at the root, not anywhere
        (["swapfile"], "swapfile", True),
        (["swapfile"], "swapfile2", False),
        (["*/lost+found"], "boot/lost+found", True),
        (["etc/*"], "etc", False),
        ([], "etc", False),
        (["/"], "etc", False),  # an empty pattern matches nothing
    ],
)
def test_matcher(patterns: list[str], rel: str, expected: bool) -> None:
    assert matcher(patterns)(rel) is expected


@given(st.lists(st.text(alphabet="abc.-_ ", min_size=1, max_size=5), min_size=1, max_size=5))
def test_matcher_matches_a_path_and_all_below_it(parts: list[str]) -> None:
    rel = "/".join(parts)
    for i in range(1, len(parts) + 1):
        assert matcher(["/".join(parts[:i])])(rel)


# Recorded on Debian 12: setfacl -m u:1000:rwx on a 0644 file, then getxattr system.posix_acl_access;
# getfacl printed user::rw- user:1000:rwx group::r-- mask::rwx other::r--.
RECORDED_ACCESS_ACL = (
    "0200000001000600ffffffff02000700e803000004000400ffffffff10000700ffffffff20000400ffffffff"
)


def test_decode_acl_recorded() -> None:
    assert decode_acl(bytes.fromhex(RECORDED_ACCESS_ACL)) == (
        "user::rw-,user:1000:rwx,group::r--,mask::rwx,other::r--"
    )


def test_decode_acl_unknown_version_is_shown_raw() -> None:
    assert decode_acl(bytes.fromhex("03000000")) == "<acl version 3: 03000000>"


@pytest.mark.parametrize(
    ("inner", "outer", "block", "expected"),
    [
        ([], [(0, 4096)], 4096, 0),
        ([(0, 4096)], [(0, 4096)], 4096, 0),
        ([(0, 8192)], [(0, 4096)], 4096, 4096),  # the copy filled a hole
        ([(4096, 8192)], [(5000, 6000)], 4096, 0),  # same block, rounded out
        ([(0, 4096)], [(4096, 8192)], 4096, 4096),
        ([(0, 100), (200, 300)], [(0, 1000)], 512, 0),  # fewer data bytes than the source: fine
        ([(0, 65536)], [(0, 4096), (61440, 65536)], 4096, 57344),
    ],
)
def test_bytes_outside(
    inner: list[tuple[int, int]], outer: list[tuple[int, int]], block: int, expected: int
) -> None:
    assert bytes_outside(inner, outer, block) == expected


@pytest.mark.parametrize(
    ("rel", "expected"),
    [
        ("etc/fstab", "etc/fstab"),
        ("srv/names/new\nline.txt", "srv/names/new\\nline.txt"),
        ("srv/names/tab\there", "srv/names/tab\\there"),
        ("srv/names/name with spaces", "srv/names/name with spaces"),
        ("srv/Ünïcödé файл", "srv/Ünïcödé файл"),
        ("srv/latin1-caf\udce9", "srv/latin1-caf\\udce9"),
    ],
)
def test_shown_paths_stay_on_one_line(rel: str, expected: str) -> None:
    assert shown(rel) == expected


@pytest.mark.parametrize(
    ("line", "entry"),
    [
        (
            fstab_by_device("/dev/sda1", "/", "ext4", "errors=remount-ro", passno=1),
            FstabEntry("/dev/sda1", "/", "ext4", "errors=remount-ro", 0, 1),
        ),
        (
            fstab_by_uuid("0a1b2c3d-1111-2222-3333-444455556666", "/boot", "ext2", passno=2),
            FstabEntry("UUID=0a1b2c3d-1111-2222-3333-444455556666", "/boot", "ext2", "defaults", 0, 2),
        ),
        (
            fstab_by_label("my data", "/srv/my data", "xfs", "noatime", dump=1, passno=2),
            FstabEntry("LABEL=my data", "/srv/my data", "xfs", "noatime", 1, 2),
        ),
        (
            fstab_by_uuid("f00d", "/home", "btrfs", subvol_options("@home", "noatime")),
            FstabEntry("UUID=f00d", "/home", "btrfs", "noatime,subvol=@home", 0, 0),
        ),
        (
            fstab_by_device("/dev/sda2", "none", "swap", "sw"),
            FstabEntry("/dev/sda2", "none", "swap", "sw", 0, 0),
        ),
    ],
)
def test_fstab_lines_parse_back(line: str, entry: FstabEntry) -> None:
    assert parse_fstab(render_fstab([line])) == (entry,)


def test_namespace_names_are_distinct_per_token() -> None:
    assert namespace_names("p2v", "a1b2c3") == ("p2v-c-a1b2c3", "p2v-t-a1b2c3")
    assert set(namespace_names("p2v", "000001")).isdisjoint(namespace_names("p2v", "000002"))


def test_wire_setup_never_configures_the_host_namespace() -> None:
    pair = NetnsPair("lab-c-x", "lab-t-x")
    for argv in setup_argvs(pair):
        assert argv[:3] == ["ip", "netns", "add"] or argv[1:3] in (["-n", "lab-c-x"], ["-n", "lab-t-x"]), argv
    assert not any("route" in argv for argv in setup_argvs(pair))


def test_sshd_config_refuses_everything_but_keys() -> None:
    text = sshd_config_text(
        listen="203.0.113.2",
        port=2222,
        host_key=Path("/w/hk"),
        authorized_keys=Path("/w/ak"),
        pid_file=Path("/w/pid"),
    )
    options = dict(line.split(" ", 1) for line in text.splitlines() if line and not line.startswith("#"))
    assert options["ListenAddress"] == "203.0.113.2"
    assert options["PasswordAuthentication"] == "no"
    assert options["KbdInteractiveAuthentication"] == "no"
    assert options["PermitRootLogin"] == "prohibit-password"
    assert options["AuthorizedKeysFile"] == "/w/ak"
    assert "AcceptEnv" not in options


def test_namespace_script_mounts_before_it_becomes_sshd() -> None:
    script = namespace_script(
        workdir=Path("/w"),
        scratch=Path("/w/scratch dir"),
        etc_src=Path("/w/etc"),
        sshd_argv=["/usr/sbin/sshd", "-D"],
    )
    lines = script.splitlines()
    assert lines[0] == "set -eu"
    assert lines[-1] == "exec /usr/sbin/sshd -D"
    assert "mount -t tmpfs -o mode=0700 p2v-lab-scratch '/w/scratch dir'" in lines  # quoted
    assert "mount -t tmpfs -o mode=0755 p2v-lab-target /target" in lines
    assert lines.index("mount --bind /w/etc /etc/p2v-target") > lines.index("mkdir -p /etc/p2v-target")
