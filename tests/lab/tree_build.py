"""How the lab's source tree is written: a small builder and one writer per area.

The builder records every special item it makes (for :class:`~tests.lab.tree.TreeInfo`)
and every mtime it wants, applied deepest first at the end so creating children
does not move a parent's time again.
"""

from __future__ import annotations

import os
import random
import socket
import stat
import struct
import subprocess
import uuid
from collections import defaultdict
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from .tree_text import (
    etc_default_grub,
    etc_group,
    etc_hosts,
    etc_interfaces,
    etc_passwd,
    etc_shadow,
    fstab_by_uuid,
    grub_cfg,
    kernel_config,
    persistent_net_rules,
    render_fstab,
)

if TYPE_CHECKING:
    from .tree import TreeSpec

KiB, MiB = 1024, 1024**2
ALICE = 1000
UNKNOWN_UID = 4242
"""Owner that exists in no passwd file: only ``--numeric-ids`` keeps it."""
EPOCH_2009 = 1_234_567_890
RECENT = 1_709_294_400  # 2024-03-01


def owner_of(roots: Mapping[str, Path], path: str) -> str:
    """The mount point whose filesystem holds system ``path`` (the longest that matches)."""
    return max((m for m in roots if path == m or path.startswith(m.rstrip("/") + "/")), key=len)


def resolve(roots: Mapping[str, Path], path: str) -> Path:
    """Host path of system ``path``."""
    mountpoint = owner_of(roots, path)
    return roots[mountpoint] / path[len(mountpoint) :].lstrip("/")


class Builder:
    def __init__(self, roots: Mapping[str, Path], rng: random.Random) -> None:
        self.roots = roots
        self.rng = rng
        self.items: dict[str, list[str]] = defaultdict(list)
        self.times: dict[Path, int] = {}
        self.files: dict[tuple[int, int], int] = {}

    # -- primitives -------------------------------------------------------
    def host(self, path: str) -> Path:
        return resolve(self.roots, path)

    def stamp(self, path: str, mtime_ns: int | None = None) -> None:
        if mtime_ns is None:
            mtime_ns = (RECENT + self.rng.randrange(365 * 86400)) * 10**9 + self.rng.randrange(10**9)
        self.times[self.host(path)] = mtime_ns

    def dir(self, path: str, mode: int = 0o755, uid: int = 0, gid: int = 0) -> None:
        parent = path.rsplit("/", 1)[0] or "/"
        if not self.host(parent).is_dir():
            self.dir(parent)
        host = self.host(path)
        if path not in self.roots:
            host.mkdir(exist_ok=True)
        os.chown(host, uid, gid)
        os.chmod(host, mode)
        self.stamp(path)

    def parent_of(self, path: str) -> Path:
        host = self.host(path)
        if not host.parent.is_dir():
            self.dir(path.rsplit("/", 1)[0])
        return host

    def file(
        self,
        path: str,
        data: bytes | str,
        *,
        mode: int = 0o644,
        uid: int = 0,
        gid: int = 0,
        mtime_ns: int | None = None,
    ) -> Path:
        host = self.parent_of(path)
        host.write_bytes(data.encode() if isinstance(data, str) else data)
        self.finish(host, mode, uid, gid)
        self.stamp(path, mtime_ns)
        return host

    def finish(self, host: Path, mode: int, uid: int, gid: int) -> None:
        os.chown(host, uid, gid)
        os.chmod(host, mode)  # after chown, which clears setuid
        st = host.lstat()
        self.files[(st.st_dev, st.st_ino)] = st.st_size

    def blob(self, size: int) -> bytes:
        return self.rng.randbytes(size)

    def symlink(self, path: str, target: str, *, dangling: bool = False) -> None:
        host = self.parent_of(path)
        host.symlink_to(target)
        self.items["dangling_symlink" if dangling else "symlink"].append(path)
        self.stamp(path)

    def hardlinks(self, first: str, *others: str) -> None:
        for other in others:
            if owner_of(self.roots, other) != owner_of(self.roots, first):
                raise ValueError(f"{first} and {other} are on different filesystems")
            os.link(self.host(first), self.parent_of(other))
        self.items["hardlink"].extend((first, *others))

    def node(self, path: str, kind: int, mode: int, rdev: int = 0, gid: int = 0) -> None:
        host = self.parent_of(path)
        os.mknod(host, kind | mode, rdev)
        os.chown(host, 0, gid)
        os.chmod(host, mode)
        self.items["device" if kind in (stat.S_IFCHR, stat.S_IFBLK) else "fifo"].append(path)
        self.stamp(path)

    def unix_socket(self, path: str) -> None:
        host = self.parent_of(path)
        fd = os.open(host.parent, os.O_RDONLY | os.O_DIRECTORY)
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
                sock.bind(f"/proc/self/fd/{fd}/{host.name}")  # sun_path is 108 bytes at most
        finally:
            os.close(fd)
        os.chmod(host, 0o666)
        self.items["socket"].append(path)
        self.stamp(path)

    def acl(self, path: str, entries: str, *, default: bool = False) -> None:
        argv = ["setfacl", *(["-d"] if default else []), "-m", entries, str(self.host(path))]
        subprocess.run(argv, check=True, capture_output=True)
        self.items["default_acl" if default else "acl"].append(path)

    def xattr(self, path: str, name: str, value: bytes) -> None:
        os.setxattr(self.host(path), name, value, follow_symlinks=False)
        self.items["capability" if name == "security.capability" else "xattr"].append(path)

    def apply_times(self) -> None:
        """Deepest first, so creating children does not move a parent's mtime again."""
        for host, ns in sorted(self.times.items(), key=lambda kv: -len(kv[0].parts)):
            os.utime(host, ns=(ns, ns), follow_symlinks=False)


def cap_net_raw() -> bytes:
    """``security.capability`` v2 for ``cap_net_raw+ep`` (what ``setcap`` writes for ping)."""
    revision_2, effective, cap_net_raw = 0x02000000, 0x1, 13
    return struct.pack("<5I", revision_2 | effective, 1 << cap_net_raw, 0, 0, 0)


def write_skeleton(b: Builder) -> None:
    for path in ("/bin", "/sbin", "/lib", "/lib64"):
        b.symlink(path, "usr" + path)  # merged /usr, as Debian 12 installs it
    for path, mode in (
        ("/proc", 0o555),
        ("/sys", 0o555),
        ("/dev", 0o755),
        ("/run", 0o755),
        ("/mnt", 0o755),
        ("/media", 0o755),
        ("/srv/empty", 0o755),
        ("/root", 0o700),
    ):
        b.dir(path, mode)
        if path not in ("/dev", "/root"):
            b.items["empty_dir"].append(path)
    for path in ("/tmp", "/var/tmp"):
        b.dir(path, 0o1777)
        b.items["sticky_dir"].append(path)
    b.file(
        "/root/.bashrc",
        "# ~/.bashrc: executed by bash(1) for non-login shells.\nexport LS_OPTIONS='--color=auto'\n",
    )
    b.node("/dev/console", stat.S_IFCHR, 0o600, os.makedev(5, 1))
    b.node("/dev/null", stat.S_IFCHR, 0o666, os.makedev(1, 3))
    b.node("/dev/sda", stat.S_IFBLK, 0o660, os.makedev(8, 0), gid=6)


def write_etc(b: Builder, spec: TreeSpec) -> None:
    fqdn = f"{spec.hostname}.{spec.domain}"
    b.file(
        "/etc/fstab",
        spec.fstab
        if spec.fstab is not None
        else render_fstab([fstab_by_uuid(spec.root_uuid, "/", "ext4", "errors=remount-ro", passno=1)]),
    )
    b.file("/etc/hostname", spec.hostname + "\n")
    b.file("/etc/hosts", etc_hosts(spec.hostname, fqdn, spec.address.split("/")[0]))
    b.file("/usr/lib/os-release", spec.os_release)
    b.symlink("/etc/os-release", "../usr/lib/os-release")
    b.file("/etc/network/interfaces", etc_interfaces(spec.address, spec.gateway))
    b.file("/etc/udev/rules.d/70-persistent-net.rules", persistent_net_rules(spec.mac))
    b.file("/etc/default/grub", etc_default_grub())
    b.file("/etc/passwd", etc_passwd())
    b.file("/etc/group", etc_group())
    b.file("/etc/shadow", etc_shadow(), mode=0o640, gid=42)
    b.file("/etc/initramfs-tools/modules", "# List of modules that you want to include in your initramfs.\n")
    b.file("/usr/share/zoneinfo/Etc/UTC", b"TZif2" + b"\0" * 39 + b"UTC\0")
    b.symlink("/etc/localtime", "/usr/share/zoneinfo/Etc/UTC")
    b.symlink("/etc/resolv.conf", "../run/systemd/resolve/stub-resolv.conf", dangling=True)
    b.symlink("/etc/mtab", "../proc/self/mounts", dangling=True)
    b.file("/usr/lib/systemd/system/getty@.service", "[Unit]\nDescription=Getty on %I\n")
    b.symlink(
        "/etc/systemd/system/getty.target.wants/getty@tty1.service", "/lib/systemd/system/getty@.service"
    )


def write_boot(b: Builder, spec: TreeSpec) -> None:
    kv = spec.kernel_version
    b.file(f"/boot/vmlinuz-{kv}", b"MZ" + b.blob(64 * KiB))
    b.file(f"/boot/initrd.img-{kv}", b"\x1f\x8b" + b.blob(256 * KiB))
    b.file(f"/boot/config-{kv}", kernel_config(kv))
    b.file(f"/boot/System.map-{kv}", "".join(f"ffffffff81{i:06x} T sym_{i}\n" for i in range(500)))
    b.file("/boot/grub/grub.cfg", grub_cfg(kv, spec.root_uuid), mode=0o444)
    b.file("/boot/grub/grubenv", ("# GRUB Environment Block\n").ljust(1024, "#"))
    b.file("/boot/grub/i386-pc/normal.mod", b"\x7fELF" + b.blob(32 * KiB))
    b.symlink("/vmlinuz", f"boot/vmlinuz-{kv}")
    b.symlink("/initrd.img", f"boot/initrd.img-{kv}")


def write_usr(b: Builder, spec: TreeSpec) -> None:
    for name in ("bash", "ls", "cp", "rsync", "mount"):
        b.file(f"/usr/bin/{name}", b"\x7fELF" + b.blob(b.rng.randrange(16, 96) * KiB), mode=0o755)
    b.file("/usr/bin/perl", b"\x7fELF" + b.blob(40 * KiB), mode=0o755)
    b.hardlinks("/usr/bin/perl", "/usr/bin/perl5.36.0")
    b.file("/usr/lib/x86_64-linux-gnu/libp2vlab.so.1.2.3", b"\x7fELF" + b.blob(24 * KiB))
    b.hardlinks(
        "/usr/lib/x86_64-linux-gnu/libp2vlab.so.1.2.3",
        "/usr/lib/p2v-lab/libp2vlab.so.1",
        "/usr/share/p2v-lab/copies/libp2vlab.so",
    )
    b.symlink("/usr/lib/x86_64-linux-gnu/libp2vlab.so.1", "libp2vlab.so.1.2.3")
    b.file("/usr/lib/systemd/systemd", b"\x7fELF" + b.blob(8 * KiB), mode=0o755)
    b.symlink("/usr/sbin/init", "../lib/systemd/systemd")
    for name in ("passwd", "su"):
        b.file(f"/usr/bin/{name}", b"\x7fELF" + b.blob(12 * KiB), mode=0o4755)
        b.items["setuid"].append(f"/usr/bin/{name}")
    b.file("/usr/bin/ping", b"\x7fELF" + b.blob(12 * KiB), mode=0o755)
    b.xattr("/usr/bin/ping", "security.capability", cap_net_raw())
    packages = max(1, spec.small_files // 20)
    for i in range(spec.small_files):
        pkg = f"/usr/share/doc/pkg{i % packages:03d}"
        size = b.rng.choice((0, 17, 120, 700, 1500, 4096, 9000))
        old = EPOCH_2009 * 10**9 + i if i % 97 == 0 else None
        b.file(f"{pkg}/file{i:05d}.txt", b.blob(size), mtime_ns=old)
        if old is not None:
            b.items["old_mtime"].append(f"{pkg}/file{i:05d}.txt")


def write_home(b: Builder) -> None:
    b.dir("/home/alice", 0o750, ALICE, ALICE)
    own = {"uid": ALICE, "gid": ALICE}
    b.file("/home/alice/.bashrc", "alias ll='ls -l'\n", **own)
    b.file("/home/alice/.profile", "[ -f ~/.bashrc ] && . ~/.bashrc\n", **own)
    b.file("/home/alice/.bash_history", "ls\nsudo reboot\n", mode=0o600, **own)
    b.dir("/home/alice/.ssh", 0o700, **own)
    b.file(
        "/home/alice/.ssh/authorized_keys",
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIP2vLab alice\n",
        mode=0o600,
        **own,
    )
    b.file("/home/alice/notes.txt", "buy milk\n", **own)
    b.xattr("/home/alice/notes.txt", "user.comment", b"shopping list")
    b.xattr("/home/alice/notes.txt", "user.p2v.blob", b.blob(64))
    b.file("/home/alice/My Documents/Meeting notes 2009.txt", "agenda\n", mtime_ns=EPOCH_2009 * 10**9, **own)
    b.items["old_mtime"].append("/home/alice/My Documents/Meeting notes 2009.txt")
    b.file("/home/alice/photos/img 0001.jpg", b"\xff\xd8\xff\xe0" + b.blob(200 * KiB), **own)
    b.hardlinks("/home/alice/photos/img 0001.jpg", "/home/alice/backup/img 0001.jpg")
    b.file("/home/alice/report.txt", "q3 numbers\n", mode=0o640, **own)
    b.acl("/home/alice/report.txt", "u:1001:r--,g:100:r--")
    b.file("/home/alice/from-old-server.tar", b.blob(10 * KiB), uid=UNKNOWN_UID, gid=UNKNOWN_UID)
    b.items["unknown_owner"].append("/home/alice/from-old-server.tar")
    b.symlink("/home/alice/broken-link", "/nonexistent/target", dangling=True)
    b.symlink("/home/alice/docs", "My Documents")
    b.dir("/srv/shared", 0o2775, 0, ALICE)
    b.items["setgid_dir"].append("/srv/shared")
    b.xattr("/srv/shared", "user.purpose", b"team share")
    b.acl("/srv/shared", "u:1000:rwx,g:1000:rwx")
    b.acl("/srv/shared", "u:1000:rwx,g:1000:rwx", default=True)
    b.dir("/srv/legacy", 0o755, UNKNOWN_UID, UNKNOWN_UID)
    b.items["unknown_owner"].append("/srv/legacy")


def write_var(b: Builder, spec: TreeSpec) -> None:
    b.file(
        "/var/log/syslog",
        "".join(f"Mar  1 12:00:{i % 60:02d} {spec.hostname} kernel: line {i}\n" for i in range(300)),
        mode=0o640,
        gid=4,
    )
    b.file("/var/log/app.log", "started\n", mode=0o640)
    b.acl("/var/log/app.log", "g:4:r--")
    b.file("/var/lib/dpkg/status", "Package: base-files\nStatus: install ok installed\nVersion: 12.4\n")
    big = "/var/lib/p2v-lab/blob.bin"
    b.file(big, b.blob(spec.random_file_size))
    b.items["big_file"].append(big)
    b.xattr(big, "trusted.p2v-lab", b"root-only namespace")
    write_sparse(
        b,
        "/var/lib/p2v-lab/sparse.img",
        spec.sparse_file_size,
        [(1 * MiB, 256 * KiB), (spec.sparse_file_size * 5 // 8, 128 * KiB)],
    )
    write_sparse(b, "/var/log/lastlog", 292 * 1001, [(292 * 1000, 292)])
    b.file("/var/lib/p2v-lab/hl-one", b.blob(3000))
    b.hardlinks("/var/lib/p2v-lab/hl-one", "/var/lib/p2v-lab/sub/hl-one", "/var/lib/p2v-lab/sub/hl-two")
    b.file("/var/cache/apt/archives/lock", b"", mode=0o640)
    b.dir("/var/cache/apt/archives/partial", 0o700)
    for i in range(spec.apt_debs):
        b.file(
            f"/var/cache/apt/archives/pkg{i:03d}_1.0-{i}_amd64.deb",
            b"!<arch>\n" + b.blob(spec.apt_deb_size - 8),
        )
    for i in range(8):
        b.file(f"/var/tmp/build-cache/obj{i}.o", b.blob(64 * KiB))
    b.node("/var/spool/postfix/public/pickup", stat.S_IFIFO, 0o622)
    b.unix_socket("/var/spool/postfix/private/smtp")


def write_sparse(b: Builder, path: str, size: int, regions: list[tuple[int, int]]) -> None:
    host = b.parent_of(path)
    with open(host, "wb") as f:
        for offset, length in regions:
            f.seek(offset)
            f.write(b.blob(length))
        f.truncate(size)
    b.finish(host, 0o644, 0, 0)
    b.items["sparse"].append(path)
    b.stamp(path)


def write_odd_names(b: Builder, spec: TreeSpec) -> None:
    names = [
        "/srv/names/" + "L" * 251 + ".txt",  # 255 bytes, the NAME_MAX
        "/srv/names/" + "é" * 126 + "end",  # 255 bytes of two-byte UTF-8
        "/srv/names/name with spaces.txt",
        "/srv/names/Ünïcödé файл 文件.txt",
        "/srv/names/-dash-first",
        "/srv/names/back\\slash",
        "/srv/names/" + os.fsdecode(b"latin1-caf\xe9.txt"),  # not UTF-8 at all
    ]
    if spec.newline_name:
        names.append("/srv/names/new\nline.txt")
    deep = "/srv/deep/" + "/".join(f"d{i:02d}-" + "x" * 56 for i in range(18)) + "/leaf.txt"
    names.append(deep)
    for name in names:
        b.file(name, name.encode("utf-8", "surrogateescape") + b"\n")
    b.items["odd_name"].extend(names)


def write_swapfile(b: Builder, spec: TreeSpec) -> str:
    assert spec.swapfile_size is not None
    host = b.host("/swapfile")
    with open(host, "wb") as f:  # written, not truncated: swapon refuses files with holes
        for _ in range(spec.swapfile_size // MiB):
            f.write(b"\0" * MiB)
    b.finish(host, 0o600, 0, 0)
    swap_uuid = str(uuid.UUID(int=b.rng.getrandbits(128), version=4))
    subprocess.run(["mkswap", "-U", swap_uuid, str(host)], check=True, capture_output=True)
    b.stamp("/swapfile")
    return swap_uuid
