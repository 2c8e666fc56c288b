"""fstab: one line in, the lines it becomes out; and properties over random
fstab files (hypothesis)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from p2v_tui.model.edits import FixupChoices
from p2v_tui.model.fixups import build_context
from p2v_tui.model.fixups._context import Context
from p2v_tui.model.fixups._fstype_options import options_for
from p2v_tui.model.fixups.fstab import fix_fstab_text
from p2v_tui.model.fstab_syntax import split_line
from p2v_tui.model.machine import ConfigSnapshot, Machine, MdArray

from .builders import disk, facts, fs, plan, planned, swap, vg

U1, U2, U3, U4 = (
    "11111111-1111-4111-8111-111111111111",
    "22222222-2222-4222-8222-222222222222",
    "33333333-3333-4333-8333-333333333333",
    "44444444-4444-4444-8444-444444444444",
)
S1, S2 = "55555555-5555-4555-8555-555555555555", "66666666-6666-4666-8666-666666666666"
T1, T3, T4 = (
    "aaaaaaaa-1111-4111-8111-111111111111",
    "aaaaaaaa-3333-4333-8333-333333333333",
    "aaaaaaaa-4444-4444-8444-444444444444",
)
P1 = "0a0a0a0a-0000-4000-8000-000000000001"


def context() -> Context:
    machine = Machine(
        disks=(
            disk(
                "/dev/sda",
                (1, P1, "rootpart"),
                (2, "", ""),
                (3, "", ""),
                (4, "", ""),
                (5, "", ""),
                table="gpt",
            ),
        ),
        filesystems=(
            fs("/dev/sda1", "ext4", "/", U1, "root"),
            fs("/dev/sda2", "ext4", "/home", U2),
            fs("/dev/sda3", "ext3", "/var", U3),
            fs("/dev/sda4", "xfs", "/srv", U4),
            fs("/dev/mapper/vg0-data", "ext4", "/data"),
            fs("/dev/md0", "ext4", "/mail"),
        ),
        swaps=(swap("/dev/sda5", S1), swap("/dev/sdb1", S2), swap("/swapfile", kind="file")),
        volume_groups=(vg("vg0", "data"),),
        md_arrays=(MdArray("/dev/md0", "raid1", ("/dev/sdd1", "/dev/sde1")),),
        config=ConfigSnapshot(links={"/dev/disk/by-id/ata-X-part2": "../../sda2"}),
    )
    the_plan = plan(
        planned(1, "filesystem", "ext4", "/", "/dev/sda1", uuid=T1, label="root"),
        planned(2, "filesystem", "ext4", "/home", "/dev/sda2", uuid=U2),
        planned(3, "swap", "swap", None, "/dev/sda5", uuid=T3),
        planned(4, "filesystem", "xfs", "/data", "/dev/vg0/data", uuid=T4),
        planned(5, "filesystem", "ext4", "/mail", "/dev/md/0"),
        merged={"/var": "/"},
        dropped=("/srv", "/dev/sdb1"),
        swapfiles=("/swapfile",),
    )
    return build_context(machine, the_plan, facts("h.example.com"), FixupChoices())


def was(line: str) -> str:
    return f"# p2v: was: {line}"


CASES = [
    (
        "device name",
        "/dev/sda1 / ext4 errors=remount-ro 0 1",
        [was("/dev/sda1 / ext4 errors=remount-ro 0 1"), f"UUID={T1} / ext4 errors=remount-ro 0 1"],
    ),
    (
        "old UUID",
        f"UUID={U1} / ext4 defaults 0 1",
        [was(f"UUID={U1} / ext4 defaults 0 1"), f"UUID={T1} / ext4 defaults 0 1"],
    ),
    (
        "quoted UUID",
        f'UUID="{U1}" / ext4 defaults 0 1',
        [was(f'UUID="{U1}" / ext4 defaults 0 1'), f"UUID={T1} / ext4 defaults 0 1"],
    ),
    ("label kept by the target", "LABEL=root / ext4 defaults 0 1", ["LABEL=root / ext4 defaults 0 1"]),
    (
        "PARTUUID",
        f"PARTUUID={P1} / ext4 defaults 0 1",
        [was(f"PARTUUID={P1} / ext4 defaults 0 1"), f"UUID={T1} / ext4 defaults 0 1"],
    ),
    (
        "PARTLABEL",
        "PARTLABEL=rootpart / ext4 defaults 0 1",
        [was("PARTLABEL=rootpart / ext4 defaults 0 1"), f"UUID={T1} / ext4 defaults 0 1"],
    ),
    (
        "by-uuid path",
        f"/dev/disk/by-uuid/{U1} / ext4 defaults 0 1",
        [was(f"/dev/disk/by-uuid/{U1} / ext4 defaults 0 1"), f"UUID={T1} / ext4 defaults 0 1"],
    ),
    ("UUID still the same", f"UUID={U2} /home ext4 defaults 0 2", [f"UUID={U2} /home ext4 defaults 0 2"]),
    (
        "by-id link",
        "/dev/disk/by-id/ata-X-part2 /home ext4 defaults 0 2",
        [was("/dev/disk/by-id/ata-X-part2 /home ext4 defaults 0 2"), f"UUID={U2} /home ext4 defaults 0 2"],
    ),
    (
        "merged",
        "/dev/sda3 /var ext3 defaults 0 2",
        ["# p2v: merged into /: /dev/sda3 /var ext3 defaults 0 2"],
    ),
    (
        "dropped",
        f"UUID={U4} /srv xfs defaults 0 2",
        [f"# p2v: not migrated (dropped): UUID={U4} /srv xfs defaults 0 2"],
    ),
    (
        "bind mount out of a dropped filesystem",
        "/srv/www /var/www none bind 0 0",
        ["# p2v: bind source not migrated (/srv dropped): /srv/www /var/www none bind 0 0"],
    ),
    (
        "bind mount of a migrated directory",
        "/home/www /var/www none bind 0 0",
        ["/home/www /var/www none bind 0 0"],
    ),
    (
        "swap kept",
        "/dev/sda5 none swap sw 0 0",
        [was("/dev/sda5 none swap sw 0 0"), f"UUID={T3} none swap sw 0 0"],
    ),
    (
        "swap dropped",
        f"UUID={S2} none swap sw 0 0",
        [f"# p2v: swap not migrated: UUID={S2} none swap sw 0 0"],
    ),
    ("swap file kept", "/swapfile none swap sw 0 0", ["/swapfile none swap sw 0 0"]),
    (
        "swap file not recreated",
        "/old.swap none swap sw 0 0",
        ["# p2v: swap file not recreated: /old.swap none swap sw 0 0"],
    ),
    (
        "LVM by /dev/VG/LV, new type",
        "/dev/vg0/data /data ext4 defaults,errors=remount-ro,noatime 0 2",
        [
            was("/dev/vg0/data /data ext4 defaults,errors=remount-ro,noatime 0 2"),
            f"UUID={T4} /data xfs defaults,noatime 0 2",
        ],
    ),
    (
        "LVM by mapper name",
        "/dev/mapper/vg0-data /data auto defaults 0 2",
        [was("/dev/mapper/vg0-data /data auto defaults 0 2"), f"UUID={T4} /data auto defaults 0 2"],
    ),
    (
        "md, target UUID not known yet",
        "/dev/md0 /mail ext4 defaults 0 2",
        [was("/dev/md0 /mail ext4 defaults 0 2"), "/dev/vda5 /mail ext4 defaults 0 2"],
    ),
    (
        "md by /dev/md/N",
        "/dev/md/0 /mail ext4 defaults 0 2",
        [was("/dev/md/0 /mail ext4 defaults 0 2"), "/dev/vda5 /mail ext4 defaults 0 2"],
    ),
    ("pseudo filesystem", "proc /proc proc defaults 0 0", ["proc /proc proc defaults 0 0"]),
    ("NFS", "server:/export /mnt nfs defaults 0 0", ["server:/export /mnt nfs defaults 0 0"]),
    (
        "CIFS",
        "//nas/share /mnt/smb cifs credentials=/root/c 0 0",
        ["//nas/share /mnt/smb cifs credentials=/root/c 0 0"],
    ),
    ("iSCSI disk with _netdev", "/dev/sdx1 /iscsi ext4 _netdev 0 0", ["/dev/sdx1 /iscsi ext4 _netdev 0 0"]),
    (
        "CD-ROM (noauto)",
        "/dev/sr0 /media/cdrom0 udf,iso9660 user,noauto 0 0",
        ["/dev/sr0 /media/cdrom0 udf,iso9660 user,noauto 0 0"],
    ),
    (
        "a disk that was not migrated",
        "/dev/sdc1 /backup ext4 defaults 0 2",
        ["# p2v: not on the instance: /dev/sdc1 /backup ext4 defaults 0 2"],
    ),
    (
        "unknown UUID at a planned mount point",
        "UUID=deadbeef /home ext4 defaults 0 2",
        [was("UUID=deadbeef /home ext4 defaults 0 2"), f"UUID={U2} /home ext4 defaults 0 2"],
    ),
    ("already the target's UUID", f"UUID={T1} / ext4 defaults 0 1", [f"UUID={T1} / ext4 defaults 0 1"]),
    (
        "already the target's device",
        "/dev/vda5 /mail ext4 defaults 0 2",
        ["/dev/vda5 /mail ext4 defaults 0 2"],
    ),
    ("comment", "# /dev/sda1 / ext4 defaults 0 1", ["# /dev/sda1 / ext4 defaults 0 1"]),
    (
        "tabs and indentation",
        "  /dev/sda1\t/\text4\tdefaults\t0 1",
        ["  # p2v: was: /dev/sda1\t/\text4\tdefaults\t0 1", f"  UUID={T1}\t/\text4\tdefaults\t0 1"],
    ),
    (
        "aligned columns stay aligned",
        "/dev/md0        /mail           ext4    defaults 0 2",
        [
            was("/dev/md0        /mail           ext4    defaults 0 2"),
            "/dev/vda5       /mail           ext4    defaults 0 2",
        ],
    ),
]


@pytest.mark.parametrize(("line", "expected"), [(c[1], c[2]) for c in CASES], ids=[c[0] for c in CASES])
def test_fstab_line(line: str, expected: list[str]) -> None:
    new, _notes = fix_fstab_text(line + "\n", context())
    assert new.splitlines() == expected


def test_notes_name_what_was_left_alone() -> None:
    text = "server:/export /mnt nfs defaults 0 0\n/dev/vg0/data /data ext4 errors=remount-ro 0 2\n"
    _new, notes = fix_fstab_text(text, context())
    assert any("network filesystem /mnt" in n for n in notes)
    assert any("/data is now xfs" in n and "errors=remount-ro" in n for n in notes)


def test_file_without_final_newline_keeps_it() -> None:
    new, _ = fix_fstab_text("proc /proc proc defaults 0 0\n/dev/sda1 / ext4 defaults 0 1", context())
    assert new.endswith(f"UUID={T1} / ext4 defaults 0 1")


@pytest.mark.parametrize(
    ("old", "new", "mntops", "expected"),
    [
        ("ext4", "ext4", "errors=remount-ro", "errors=remount-ro"),
        ("ext3", "ext4", "data=journal,errors=remount-ro", "data=journal,errors=remount-ro"),
        (
            "ext4",
            "xfs",
            "defaults,errors=remount-ro,noatime,x-systemd.automount",
            "defaults,noatime,x-systemd.automount",
        ),
        ("xfs", "ext4", "inode64,logbufs=8,usrquota", "usrquota"),
        ("btrfs", "ext4", "subvol=@,compress=zstd", "defaults"),
        ("ext4", "btrfs", "acl,errors=remount-ro", "acl"),
        ("ext4", "xfs", "some_unknown_option", "some_unknown_option"),
    ],
)
def test_options_for(old: str, new: str, mntops: str, expected: str) -> None:
    assert options_for(old, new, mntops)[0] == expected


# ---------------------------------------------------------------- properties

SPECS = [
    "/dev/sda1",
    f"UUID={U1}",
    "LABEL=root",
    f"PARTUUID={P1}",
    "/dev/sda2",
    f"UUID={U2}",
    "/dev/sda3",
    f"UUID={U4}",
    "/dev/sda5",
    f"UUID={S2}",
    "/swapfile",
    "/old.swap",
    "/dev/vg0/data",
    "/dev/mapper/vg0-data",
    "/dev/md0",
    "proc",
    "tmpfs",
    "server:/x",
    "/dev/sr0",
    "/dev/sdc1",
    "/dev/disk/by-id/ata-X-part2",
    "UUID=deadbeef",
    f"UUID={T1}",
    "/dev/vda5",
    "/srv/www",
]
MOUNTS = ["/", "/home", "/var", "/srv", "/data", "/mail", "none", "/proc", "/mnt", "/x"]
TYPES = ["ext4", "ext3", "xfs", "swap", "auto", "nfs", "proc", "tmpfs", "none"]
OPTIONS = ["defaults", "sw", "errors=remount-ro", "noauto", "nofail", "bind", "_netdev", "inode64,noatime"]

entry = st.tuples(
    st.sampled_from(SPECS),
    st.sampled_from(MOUNTS),
    st.sampled_from(TYPES),
    st.sampled_from(OPTIONS),
    st.sampled_from([" ", "\t", "   "]),
    st.booleans(),
).map(lambda t: t[4].join(t[:4]) + (" 0 0" if t[5] else ""))
comment = st.sampled_from(["# a comment", "", "#", "   # indented comment"])
fstab_text = st.lists(st.one_of(entry, comment), max_size=12).map(lambda ls: "".join(f"{x}\n" for x in ls))


def _active(text: str) -> list[str]:
    return [ln for ln in text.splitlines() if split_line(ln) is not None]


@settings(max_examples=300, deadline=None)
@given(fstab_text)
def test_fstab_fixing_is_idempotent(text: str) -> None:
    ctx = context()
    once, _ = fix_fstab_text(text, ctx)
    twice, _ = fix_fstab_text(once, ctx)
    assert twice == once


@settings(max_examples=300, deadline=None)
@given(fstab_text)
def test_fstab_keeps_comments_and_only_names_targets(text: str) -> None:
    ctx = context()
    new, _ = fix_fstab_text(text, ctx)
    old_lines = text.splitlines()
    old_comments = [ln for ln in old_lines if split_line(ln) is None]
    new_comments = iter([ln for ln in new.splitlines() if split_line(ln) is None])
    assert all(any(c == n for n in new_comments) for c in old_comments), "a comment or blank line was lost"
    assert len(_active(new)) <= len(_active(text))
    for line in _active(new):
        if line in old_lines:
            continue
        spec = line.split()[0]
        names_target = ctx.volumes.target_named(spec) is not None or any(
            ctx.volumes.still_names(spec, p) for p in ctx.plan.partitions
        )
        assert names_target, f"{line!r} names no planned partition"
