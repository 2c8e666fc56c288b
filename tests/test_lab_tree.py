"""The lab's source tree and tree comparison, checked against a real rsync copy.

A tree is populated once per module; every test copies it with the flags the
engine uses, changes one thing in the copy and expects exactly that change
to be reported.
"""

from __future__ import annotations

import os
import re
import shutil
import stat
import subprocess
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.lab.compare import compare_trees, data_extents, decode_acl, tree_digest
from tests.lab.tree import TreeInfo, TreeSpec, populate_tree

pytestmark = pytest.mark.root

SPEC = TreeSpec(seed=7, small_files=200, swapfile_size=4 * 1024 * 1024)
RSYNC = [
    "rsync",
    "--archive",  # perms, times, owners, devices, specials, symlinks
    "--hard-links",
    "--acls",
    "--xattrs",
    "--numeric-ids",  # uid 4242 exists nowhere; names would not map it
    "--sparse",
]
XFS_ACL_FILTER = "--filter=-x trusted.SGI_ACL_*"
"""Keeps rsync off XFS's mirror of ACLs, in both directions (see the XFS test below)."""


def _supports_everything(directory: Path) -> bool:
    probe = directory / "probe"
    probe.write_text("x")
    try:
        os.setxattr(probe, "user.p2v", b"1")
        os.setxattr(probe, "trusted.p2v", b"1")
        subprocess.run(["setfacl", "-m", "u:1:r", str(probe)], check=True, capture_output=True)
    except (OSError, subprocess.CalledProcessError):
        return False
    finally:
        probe.unlink()
    return True


@contextmanager
def loop_fs(directory: Path, mkfs: list[str], mount_opts: str = "defaults") -> Iterator[Path]:
    """A fresh filesystem on a loop device, mounted at ``directory/mnt``; all undone on exit."""
    image, mnt = directory / "fs.img", directory / "mnt"
    with open(image, "wb") as f:
        f.truncate(512 * 1024 * 1024)
    mnt.mkdir()
    loop = subprocess.run(
        ["losetup", "-f", "--show", str(image)], capture_output=True, text=True, check=True
    ).stdout.strip()
    try:
        subprocess.run([*mkfs, loop], check=True, capture_output=True)
        subprocess.run(["mount", "-o", mount_opts, loop, str(mnt)], check=True)
        try:
            yield mnt
        finally:
            subprocess.run(["umount", str(mnt)], check=True)
    finally:
        subprocess.run(["losetup", "-d", loop], check=True)
        image.unlink()


@pytest.fixture(scope="module")
def lab_fs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A directory on a filesystem with user/trusted xattrs and ACLs (ext4 on a loop device if needed)."""
    if os.geteuid() != 0:
        pytest.skip("needs root: chown, mknod, trusted xattrs")
    for tool in ("rsync", "setfacl", "mkswap", "losetup"):
        if shutil.which(tool) is None:
            pytest.skip(f"needs {tool}")
    base = tmp_path_factory.mktemp("tree-lab")
    if _supports_everything(base):
        yield base
        return
    with loop_fs(base, ["mkfs.ext4", "-q"]) as mnt:
        yield mnt


@pytest.fixture(scope="module")
def source(lab_fs: Path) -> tuple[Path, TreeInfo]:
    src = lab_fs / "src"
    src.mkdir()
    return src, populate_tree(src, SPEC)


def rsync(src: Path, dst: Path, argv: list[str] = RSYNC, *extra: str) -> None:
    subprocess.run([*argv, *extra, f"{src}/", f"{dst}/"], check=True, capture_output=True)


@pytest.fixture
def copy(source: tuple[Path, TreeInfo], lab_fs: Path) -> Iterator[Path]:
    dst = lab_fs / f"copy-{uuid.uuid4().hex[:8]}"
    rsync(source[0], dst)
    yield dst
    shutil.rmtree(dst)


# -- mutations: each changes exactly one property and keeps everything else ----


def _keep_times(*paths: Path) -> Callable[[], None]:
    saved = [(p, p.lstat().st_mtime_ns) for p in paths]

    def restore() -> None:
        for p, ns in saved:
            os.utime(p, ns=(ns, ns), follow_symlinks=False)

    return restore


def _replace(path: Path, make: Callable[[Path], object]) -> None:
    """Recreate ``path`` with ``make`` and give it the old owner, mode and times (parent's too)."""
    st = path.lstat()
    restore = _keep_times(path.parent)
    path.unlink()
    make(path)
    os.chown(path, st.st_uid, st.st_gid, follow_symlinks=False)
    if not stat.S_ISLNK(st.st_mode):
        os.chmod(path, stat.S_IMODE(st.st_mode))
    os.utime(path, ns=(st.st_mtime_ns, st.st_mtime_ns), follow_symlinks=False)
    restore()


def _rewrite(path: Path, change: Callable[[bytes], bytes]) -> None:
    restore = _keep_times(path)
    data = change(path.read_bytes())
    with open(path, "r+b") as f:
        f.write(data)
        f.truncate(len(data))
    restore()


def _flip_byte(data: bytes) -> bytes:
    return data[:1000] + bytes([data[1000] ^ 0xFF]) + data[1001:]


def _copy_of(original: Path) -> Callable[[Path], object]:
    data = original.read_bytes()
    return lambda p: p.write_bytes(data)


def _remove(path: Path) -> None:
    restore = _keep_times(path.parent)
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    else:
        path.unlink()
    restore()


def _add(path: Path) -> None:
    restore = _keep_times(path.parent)
    path.write_text("stray\n")
    restore()


def _setfacl(*args: str) -> Callable[[Path], object]:
    return lambda p: subprocess.run(["setfacl", *args, str(p)], check=True)


def _densify(path: Path) -> None:
    restore = _keep_times(path)
    data = path.read_bytes()
    with open(path, "wb") as f:  # every byte written: the holes become allocated zeros
        f.write(data)
    restore()


def _poke_hole(path: Path) -> None:
    restore = _keep_times(path)
    with open(path, "r+b") as f:
        f.seek(32 * 1024 * 1024)  # between the two data regions
        f.write(b"x")
    restore()


def _node(kind: int, major: int, minor: int) -> Callable[[Path], object]:
    return lambda p: os.mknod(p, kind, os.makedev(major, minor))


def _drop_nanoseconds(path: Path) -> None:
    ns = path.lstat().st_mtime_ns // 10**9 * 10**9
    os.utime(path, ns=(ns, ns))


@dataclass(frozen=True)
class Case:
    rel: str
    change: Callable[[Path], object]
    expect: list[str]
    """Regular expressions; each must match exactly one reported line, and nothing else is reported."""


T = r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d"
CASES = {
    "mode": Case(
        "home/alice/notes.txt", lambda p: os.chmod(p, 0o600), [r"home/alice/notes\.txt: mode 0644 != 0600"]
    ),
    "setuid": Case("usr/bin/passwd", lambda p: os.chmod(p, 0o755), [r"usr/bin/passwd: mode 4755 != 0755"]),
    "setgid": Case("srv/shared", lambda p: os.chmod(p, 0o775), [r"srv/shared: mode 2775 != 0775"]),
    "sticky": Case("tmp", lambda p: os.chmod(p, 0o777), [r"tmp: mode 1777 != 0777"]),
    "root_dir": Case(".", lambda p: os.chmod(p, 0o700), [r"\.: mode 0755 != 0700"]),
    "owner": Case(
        "home/alice/notes.txt",
        lambda p: os.chown(p, 0, 0),
        [r"home/alice/notes\.txt: owner 1000:1000 != 0:0"],
    ),
    "numeric_id": Case(
        "home/alice/from-old-server.tar",
        lambda p: os.chown(p, 0, 0),
        [r"home/alice/from-old-server\.tar: owner 4242:4242 != 0:0"],
    ),
    "mtime": Case(
        "home/alice/notes.txt",
        lambda p: os.utime(p, ns=(1, 1_234_567_890_000_000_001)),
        [rf"home/alice/notes\.txt: mtime {T}\.\d{{9}} != 2009-02-13 23:31:30\.000000001"],
    ),
    "subsecond": Case(
        "etc/hostname", _drop_nanoseconds, [rf"etc/hostname: mtime ({T})\.\d{{9}} != \1\.000000000"]
    ),
    "dir_mtime": Case(
        "srv/empty",
        lambda p: os.utime(p, ns=(0, 0)),
        [rf"srv/empty: mtime {T}\.\d{{9}} != 1970-01-01 00:00:00\.000000000"],
    ),
    "xattr": Case(
        "home/alice/notes.txt",
        lambda p: os.setxattr(p, "user.comment", b"changed"),
        [r"home/alice/notes\.txt: xattr user\.comment 'shopping list' != 'changed'"],
    ),
    "xattr_binary": Case(
        "home/alice/notes.txt",
        lambda p: os.removexattr(p, "user.p2v.blob"),
        [
            r"home/alice/notes\.txt: xattr user\.p2v\.blob 0x[0-9a-f]{48}\.\.\. \(64 bytes\)"
            r" != absent"
        ],
    ),
    "xattr_trusted": Case(
        "var/lib/p2v-lab/blob.bin",
        lambda p: os.removexattr(p, "trusted.p2v-lab"),
        [
            r"var/lib/p2v-lab/blob\.bin: xattr trusted\.p2v-lab 'root-only namespace'"
            r" != absent"
        ],
    ),
    "capability": Case(
        "usr/bin/ping",
        lambda p: os.removexattr(p, "security.capability"),
        [
            r"usr/bin/ping: xattr security\.capability 0x0100000200200000[0-9a-f]* \(20 bytes\)"
            r" != absent"
        ],
    ),
    "acl": Case(
        "home/alice/report.txt",
        _setfacl("-n", "-m", "u:1001:rw-"),
        [
            r"home/alice/report\.txt: acl access '[^']*user:1001:r--[^']*'"
            r" != '[^']*user:1001:rw-[^']*'"
        ],
    ),
    "acl_removed": Case(
        "home/alice/report.txt",
        _setfacl("-b"),
        [
            r"home/alice/report\.txt: acl access 'user::rw-,user:1001:r--,group::r--,"
            r"group:100:r--,mask::r--,other::---' != 'none'"
        ],
    ),
    "default_acl": Case(
        "srv/shared",
        _setfacl("-d", "-m", "u:1000:r-x"),
        [r"srv/shared: acl default '[^']*user:1000:rwx[^']*' != '[^']*user:1000:r-x[^']*'"],
    ),
    "content": Case(
        "var/lib/p2v-lab/blob.bin",
        lambda p: _rewrite(p, _flip_byte),
        [r"var/lib/p2v-lab/blob\.bin: content differs"],
    ),
    "size": Case(
        "home/alice/notes.txt",
        lambda p: _rewrite(p, lambda d: d[:4]),
        [r"home/alice/notes\.txt: size 9 != 4"],
    ),
    "odd_name": Case(
        "srv/names/new\nline.txt",
        lambda p: _rewrite(p, lambda d: d.upper()),
        [r"srv/names/new\\nline\.txt: content differs"],
    ),
    "hardlink": Case(
        "usr/bin/perl5.36.0",
        lambda p: _replace(p, _copy_of(p)),
        [
            r"usr/bin/perl: hard links \['usr/bin/perl', 'usr/bin/perl5\.36\.0'\]"
            r" != \['usr/bin/perl'\]"
        ],
    ),
    "symlink": Case(
        "etc/localtime",
        lambda p: _replace(p, lambda q: q.symlink_to("/usr/share/zoneinfo/GMT")),
        [
            r"etc/localtime: symlink target '/usr/share/zoneinfo/Etc/UTC'"
            r" != '/usr/share/zoneinfo/GMT'"
        ],
    ),
    "char_device": Case(
        "dev/null", lambda p: _replace(p, _node(stat.S_IFCHR, 1, 5)), [r"dev/null: device 1:3 != 1:5"]
    ),
    "block_device": Case(
        "dev/sda", lambda p: _replace(p, _node(stat.S_IFBLK, 8, 16)), [r"dev/sda: device 8:0 != 8:16"]
    ),
    "type": Case(
        "var/spool/postfix/public/pickup",
        lambda p: _replace(p, lambda q: q.write_bytes(b"")),
        [r"var/spool/postfix/public/pickup: type fifo != file"],
    ),
    "missing": Case("home/alice/.profile", _remove, [r"home/alice/\.profile: missing in dst"]),
    "missing_dir": Case("srv/deep", _remove, [r"srv/deep: missing in dst"]),
    "extra": Case("home/alice/stray", _add, [r"home/alice/stray: only in dst"]),
    "sparse_filled": Case(
        "var/lib/p2v-lab/sparse.img",
        _densify,
        [
            r"var/lib/p2v-lab/sparse\.img: \d+ bytes allocated where the source has holes"
            r" \(data 1048576-\d+,\d+-\d+ != 0-67108864\)"
        ],
    ),
    "data_in_hole": Case(
        "var/lib/p2v-lab/sparse.img",
        _poke_hole,  # one block: within tolerance
        [r"var/lib/p2v-lab/sparse\.img: content differs"],
    ),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_each_kind_of_difference_is_reported(name: str, copy: Path, source: tuple[Path, TreeInfo]) -> None:
    case = CASES[name]
    case.change(copy / case.rel)
    diffs = compare_trees(source[0], copy)
    assert len(diffs) == len(case.expect), diffs
    for pattern in case.expect:
        assert sum(1 for d in diffs if re.fullmatch(pattern, d)) == 1, (pattern, diffs)


def test_rsync_copy_equals_source(copy: Path, source: tuple[Path, TreeInfo]) -> None:
    assert compare_trees(source[0], copy) == []
    assert tree_digest(source[0]) == tree_digest(copy)


def test_copy_without_preserving_flags_is_caught(source: tuple[Path, TreeInfo], lab_fs: Path) -> None:
    """``rsync -a`` alone loses what the engine must keep; each loss shows up."""
    dst = lab_fs / "plain-copy"
    rsync(source[0], dst, ["rsync", "--archive"])
    try:
        diffs = "\n".join(compare_trees(source[0], dst))
    finally:
        shutil.rmtree(dst)
    assert "usr/bin/perl: hard links" in diffs
    assert "home/alice/report.txt: acl access" in diffs
    assert "home/alice/notes.txt: xattr user.comment 'shopping list' != absent" in diffs
    assert "usr/bin/ping: xattr security.capability" in diffs
    assert "var/lib/p2v-lab/sparse.img: " in diffs and "allocated where the source has holes" in diffs


@pytest.mark.parametrize(
    "mkfs",
    [
        ["mkfs.ext4", "-q", "-b", "1024"],  # smaller blocks than the source: hole maps differ in grain
        ["mkfs.xfs", "-q"],
        ["mkfs.btrfs", "-q"],
    ],
    ids=["ext4-1k", "xfs", "btrfs"],
)
def test_copy_onto_another_filesystem_equals_source(
    mkfs: list[str], source: tuple[Path, TreeInfo], tmp_path: Path
) -> None:
    """What the engine does: source and target are different filesystems, often of another type."""
    if shutil.which(mkfs[0]) is None:
        pytest.skip(f"needs {mkfs[0]}")
    with loop_fs(tmp_path, mkfs) as mnt:
        dst = mnt / "root"
        rsync(source[0], dst, RSYNC, XFS_ACL_FILTER)
        assert compare_trees(source[0], dst) == []
        assert tree_digest(source[0]) == tree_digest(dst)
        os.chmod(dst / "etc/hostname", 0o600)
        assert compare_trees(source[0], dst) == ["etc/hostname: mode 0644 != 0600"]


def test_xfs_target_loses_directory_acls_without_the_filter(
    source: tuple[Path, TreeInfo], tmp_path: Path
) -> None:
    """XFS lists every ACL again as trusted.SGI_ACL_*; rsync -X, not knowing those names from
    the source, deletes them when it fixes up directories, and the ACL goes with them."""
    if shutil.which("mkfs.xfs") is None:
        pytest.skip("needs mkfs.xfs")
    with loop_fs(tmp_path, ["mkfs.xfs", "-q"]) as mnt:
        rsync(source[0], mnt / "root")
        diffs = compare_trees(source[0], mnt / "root")
    assert [d.split(" '")[0] for d in diffs] == ["srv/shared: acl access", "srv/shared: acl default"]
    assert all(d.endswith("!= 'none'") for d in diffs)


def test_excludes_must_be_absent(source: tuple[Path, TreeInfo], copy: Path, lab_fs: Path) -> None:
    src, info = source
    pattern = "/var/cache/apt/archives/*.deb"
    assert info.exclusion_candidates["/var/cache/apt/archives"] == SPEC.apt_debs * SPEC.apt_deb_size
    excluded = lab_fs / "excluded-copy"
    rsync(src, excluded, RSYNC, f"--exclude={pattern}")
    try:
        assert compare_trees(src, excluded, excludes=[pattern]) == []
        missing = compare_trees(src, excluded)
        assert len(missing) == SPEC.apt_debs
        gone = r"var/cache/apt/archives/pkg\d{3}_\S+\.deb: missing in dst"
        assert all(re.fullmatch(gone, d) for d in missing)
    finally:
        shutil.rmtree(excluded)
    present = compare_trees(src, copy, excludes=[pattern, "var/tmp/build-cache"])
    assert sorted(present)[0] == "var/cache/apt/archives/pkg000_1.0-0_amd64.deb: excluded but present in dst"
    assert "var/tmp/build-cache: excluded but present in dst" in present  # once, not per file inside
    assert len(present) == SPEC.apt_debs + 1


def test_ignored_paths_are_skipped(source: tuple[Path, TreeInfo], copy: Path) -> None:
    (copy / "etc/fstab").write_text("UUID=new / ext4 defaults 0 1\n")  # what a fixup does
    (copy / "etc/network/interfaces.d").mkdir()
    everything = compare_trees(source[0], copy)
    assert len(everything) == 4  # fstab: mtime and size; network: mtime; interfaces.d
    assert compare_trees(source[0], copy, ignore=["/etc/fstab", "etc/network"]) == []
    assert compare_trees(source[0], copy, ignore=["etc/fst*"]) == [
        line for line in everything if line.startswith("etc/network")
    ]


def test_mount_points_are_not_crossed(source: tuple[Path, TreeInfo], copy: Path) -> None:
    src = source[0]
    subprocess.run(["mount", "-t", "tmpfs", "-o", "mode=0700", "p2v-lab-test", str(src / "mnt")], check=True)
    try:
        (src / "mnt/inside").write_text("other filesystem\n")
        assert compare_trees(src, copy) == []
        assert "mnt/inside" not in tree_digest(src)
        assert tree_digest(src)["mnt"] == "dir"
    finally:
        subprocess.run(["umount", str(src / "mnt")], check=True)


def test_symlink_mtime_only_when_asked(source: tuple[Path, TreeInfo], copy: Path) -> None:
    os.utime(copy / "vmlinuz", ns=(0, 0), follow_symlinks=False)
    assert compare_trees(source[0], copy) == []
    assert compare_trees(source[0], copy, symlink_mtime=True) == [
        "vmlinuz: mtime " + compare_trees(source[0], copy, symlink_mtime=True)[0].split("mtime ", 1)[1]
    ]
    assert compare_trees(source[0], copy, symlink_mtime=True)[0].endswith("!= 1970-01-01 00:00:00.000000000")


def test_sparse_copy_punches_holes_into_the_swap_file(source: tuple[Path, TreeInfo], copy: Path) -> None:
    """rsync --sparse turns the swap file's zeros into holes: swapon would refuse it."""
    src, info = source
    assert info.swapfile == "/swapfile"
    assert compare_trees(src, copy) == []
    holes = compare_trees(src, copy, no_holes=["swapfile"])
    assert len(holes) == 1
    assert re.fullmatch(r"swapfile: has holes \(\d+ of 4194304 bytes allocated\)", holes[0])


# -- what the tree promises --------------------------------------------------


def test_tree_holds_the_awkward_parts(source: tuple[Path, TreeInfo]) -> None:
    src, info = source
    p = info.host_path
    assert p("/etc/fstab") == src / "etc/fstab"
    for group in info.hardlink_groups:
        inodes = {p(path).lstat().st_ino for path in group}
        assert len(inodes) == 1 and p(group[0]).lstat().st_nlink == len(group)
    assert any(len({Path(x).parent for x in g}) > 1 for g in info.hardlink_groups)  # across directories
    assert {stat.S_IMODE(p(x).lstat().st_mode) for x in info.of("setuid")} == {0o4755}
    shared = p("/srv/shared").lstat()
    assert stat.S_IMODE(shared.st_mode) == 0o2775 and shared.st_gid == 1000
    assert all(stat.S_IMODE(p(x).lstat().st_mode) == 0o1777 for x in info.of("sticky_dir"))
    null, sda = p("/dev/null").lstat(), p("/dev/sda").lstat()
    assert stat.S_ISCHR(null.st_mode) and (os.major(null.st_rdev), os.minor(null.st_rdev)) == (1, 3)
    assert stat.S_ISBLK(sda.st_mode) and (os.major(sda.st_rdev), os.minor(sda.st_rdev)) == (8, 0)
    assert all(stat.S_ISFIFO(p(x).lstat().st_mode) for x in info.of("fifo"))
    assert all(stat.S_ISSOCK(p(x).lstat().st_mode) for x in info.of("socket"))
    assert all(not p(x).exists() and p(x).is_symlink() for x in info.of("dangling_symlink"))
    assert os.readlink(p("/etc/localtime")).startswith("/")  # absolute
    assert not os.readlink(p("/vmlinuz")).startswith("/")  # relative
    assert os.getxattr(p("/home/alice/notes.txt"), "user.comment") == b"shopping list"
    assert len(os.getxattr(p("/usr/bin/ping"), "security.capability")) == 20
    acl = decode_acl(os.getxattr(p("/home/alice/report.txt"), "system.posix_acl_access"))
    assert acl == "user::rw-,user:1001:r--,group::r--,group:100:r--,mask::r--,other::---"
    assert "user:1000:rwx" in decode_acl(os.getxattr(p("/srv/shared"), "system.posix_acl_default"))
    assert all(p(x).lstat().st_uid == 4242 for x in info.of("unknown_owner"))
    assert {x.rsplit("/", 1)[1] for x in info.of("big_file")} == {"blob.bin"}
    assert p(info.of("big_file")[0]).stat().st_size == SPEC.random_file_size


def test_tree_names_and_times(source: tuple[Path, TreeInfo]) -> None:
    src, info = source
    names = [os.fsencode(x) for x in info.of("odd_name")]
    assert max(len(n.rsplit(b"/", 1)[1]) for n in names) == 255
    assert max(len(n) for n in names) > 1024
    assert any(b"\n" in n for n in names) and any(b" " in n for n in names)
    assert any(b"\xe9" in n for n in names)  # not valid UTF-8
    assert all(info.host_path(x).exists() for x in info.of("odd_name"))
    assert {info.host_path(x).lstat().st_mtime_ns // 10**9 for x in info.of("old_mtime")} <= set(
        range(1_234_567_890, 1_234_567_890 + 300)
    )
    mtimes = [e.stat(follow_symlinks=False).st_mtime_ns for e in os.scandir(src / "etc")]
    assert any(ns % 10**9 for ns in mtimes)  # sub-second times
    assert all(not any(info.host_path(x).iterdir()) for x in info.of("empty_dir"))


def test_tree_sparse_and_swap_files(source: tuple[Path, TreeInfo]) -> None:
    _, info = source
    img = info.host_path("/var/lib/p2v-lab/sparse.img")
    assert img.stat().st_size == SPEC.sparse_file_size
    assert img.stat().st_blocks * 512 < 1024 * 1024
    assert len(data_extents(img)) == 2
    swap = info.host_path("/swapfile")
    assert swap.stat().st_blocks * 512 >= swap.stat().st_size == SPEC.swapfile_size
    with open(swap, "rb") as f:
        f.seek(4096 - 10)
        assert f.read(10) == b"SWAPSPACE2"
    blkid = subprocess.run(["blkid", "-p", "-o", "export", str(swap)], capture_output=True, text=True)
    if blkid.returncode == 0:
        assert "TYPE=swap" in blkid.stdout and f"UUID={info.swap_uuid}" in blkid.stdout


def test_tree_counts_and_sizes(source: tuple[Path, TreeInfo]) -> None:
    src, info = source
    inodes = {}
    for root, dirs, files in os.walk(src):
        for name in files + dirs:
            st = os.lstat(os.path.join(root, name))
            if stat.S_ISREG(st.st_mode):
                inodes[st.st_ino] = st.st_size
    assert info.regular_files == len(inodes) >= SPEC.small_files
    assert info.regular_bytes == sum(inodes.values())
    for path, size in info.exclusion_candidates.items():
        host = info.host_path(path)
        total = (
            host.stat().st_size
            if host.is_file()
            else sum(f.stat().st_size for f in host.rglob("*") if f.is_file())
        )
        assert total == size, path


def test_same_seed_same_tree(lab_fs: Path, source: tuple[Path, TreeInfo]) -> None:
    again = lab_fs / "again"
    again.mkdir()
    try:
        populate_tree(again, SPEC)
        assert compare_trees(source[0], again) == []
        other = lab_fs / "other-seed"
        other.mkdir()
        try:
            populate_tree(other, TreeSpec(seed=8, small_files=200, swapfile_size=4 * 1024 * 1024))
            assert tree_digest(other) != tree_digest(again)
        finally:
            shutil.rmtree(other)
    finally:
        shutil.rmtree(again)


def test_fstab_and_config_text_come_from_the_spec(lab_fs: Path) -> None:
    root = lab_fs / "configured"
    root.mkdir()
    fstab = "UUID=1234 / ext4 defaults 0 1\nLABEL=data /srv xfs defaults 0 2\n"
    try:
        info = populate_tree(
            root,
            TreeSpec(
                seed=3,
                small_files=5,
                fstab=fstab,
                hostname="db7",
                mac="52:54:00:aa:bb:cc",
                address="192.0.2.77/24",
            ),
        )
        assert (root / "etc/fstab").read_text() == fstab
        assert (root / "etc/hostname").read_text() == "db7\n"
        assert "192.0.2.77\tdb7.example.org\tdb7" in (root / "etc/hosts").read_text()
        assert "address 192.0.2.77/24" in (root / "etc/network/interfaces").read_text()
        rules = (root / "etc/udev/rules.d/70-persistent-net.rules").read_text()
        assert 'ATTR{address}=="52:54:00:aa:bb:cc"' in rules and 'NAME="eth0"' in rules
        assert 'VERSION_ID="12"' in (root / "etc/os-release").read_text()
        assert (root / f"boot/vmlinuz-{info.kernel_version}").is_file()
        assert info.swapfile is None and not (root / "swapfile").exists()
    finally:
        shutil.rmtree(root)


def test_mapping_puts_each_part_on_its_filesystem(lab_fs: Path) -> None:
    base = lab_fs / "mapped"
    roots = {"/": base / "root", "/boot": base / "boot", "/home": base / "home", "/var": base / "var"}
    for path in roots.values():
        path.mkdir(parents=True)
    try:
        info = populate_tree(roots, TreeSpec(seed=4, small_files=10))
        assert (roots["/boot"] / "grub/grub.cfg").is_file()
        assert (roots["/home"] / "alice/notes.txt").is_file()
        assert (roots["/var"] / "lib/p2v-lab/sparse.img").is_file()
        for mountpoint in ("boot", "home", "var"):  # empty mount point directories on the root filesystem
            assert list((roots["/"] / mountpoint).iterdir()) == []
        assert info.host_path("/var/log/syslog") == roots["/var"] / "log/syslog"
        assert info.host_path("/usr/bin/perl") == roots["/"] / "usr/bin/perl"
        assert os.lstat(roots["/var"] / "lib/p2v-lab/sub/hl-two").st_nlink == 3
    finally:
        shutil.rmtree(base)


def test_hard_link_group_split_across_filesystems_is_refused(lab_fs: Path) -> None:
    base = lab_fs / "split"
    roots = {"/": base / "root", "/usr/share": base / "share"}
    for path in roots.values():
        path.mkdir(parents=True)
    try:
        with pytest.raises(ValueError, match="different filesystems"):
            populate_tree(roots, TreeSpec(seed=5, small_files=1))
    finally:
        shutil.rmtree(base)
