"""A small synthetic bootstrap rootfs tarball (needs root: owners, xattrs, ACLs).

Built the way osdef/make-bootstrap-image packs the real one (zstd tar,
numeric owners, xattrs, ACLs) so create's extraction can be checked on
owners, modes, xattrs, ACLs, hard links, dotfiles and symlinks.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

OWNED = ("srv/owned", 1234, 2345, 0o640)
SETUID = ("usr/bin/setuid-tool", 0o4755)
XATTRS = {"user.p2v": b"user-value", "trusted.p2v": b"trusted-value"}
ACL_ENTRY = "user:1234:r--"
HARDLINKS = ("srv/hardlink-a", "srv/hardlink-b")
RESOLV_LINK = "/run/systemd/resolve/stub-resolv.conf"


def build_tree(root: Path) -> None:
    for d in ("etc/ssh/sshd_config.d", "root", "srv", "usr/bin", "tmp", "etc/systemd/network"):
        (root / d).mkdir(parents=True, exist_ok=True)
    root.chmod(0o755)
    (root / "root").chmod(0o700)
    (root / "tmp").chmod(0o1777)
    (root / "etc/os-release").write_text('PRETTY_NAME="p2v bootstrap (test)"\n')
    (root / "etc/hostname").write_text("bootstrap-template\n")
    (root / "etc/issue").write_text("Debian GNU/Linux 12 \\n \\l\n\n")
    (root / "etc/ssh/sshd_config").write_text(
        "Include /etc/ssh/sshd_config.d/*.conf\nSubsystem sftp internal-sftp\n"
    )
    (root / "etc/ssh/ssh_host_rsa_key").write_text("not a key: create must remove it\n")
    (root / "etc/resolv.conf").symlink_to(RESOLV_LINK)
    (root / "root/.profile").write_text("# dotfile\n")
    owned = root / OWNED[0]
    owned.write_text("owned by 1234:2345\n")
    os.chown(owned, OWNED[1], OWNED[2])
    owned.chmod(OWNED[3])
    tool = root / SETUID[0]
    tool.write_text("#!/bin/sh\nexit 0\n")
    tool.chmod(SETUID[1])
    xfile = root / "srv/xattrs"
    xfile.write_text("has xattrs and an ACL\n")
    for name, value in XATTRS.items():
        os.setxattr(xfile, name, value)
    subprocess.run(["setfacl", "-m", ACL_ENTRY.replace("r--", "r"), str(xfile)], check=True)
    (root / HARDLINKS[0]).write_text("one inode, two names\n")
    os.link(root / HARDLINKS[0], root / HARDLINKS[1])


def build_tarball(tree: Path, out: Path) -> Path:
    build_tree(tree)
    subprocess.run(
        [
            "tar",
            "--zstd",
            "--numeric-owner",
            "--xattrs",
            "--xattrs-include=*",
            "--acls",
            "-C",
            str(tree),
            "-cf",
            str(out),
            ".",
        ],
        check=True,
    )
    return out
