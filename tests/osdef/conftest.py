from __future__ import annotations

from pathlib import Path

import pytest

from tests.osdef.harness import Node, make_node, require_root, require_tools, user_key
from tests.osdef.rootfs import build_tarball


def keys_dir(tmp_path: Path) -> Path:
    d = tmp_path / "keys"
    d.mkdir(exist_ok=True)
    return d


@pytest.fixture(scope="session")
def rootfs_tarball(tmp_path_factory: pytest.TempPathFactory) -> Path:
    require_root()
    require_tools("zstd", "tar", "setfacl", "getfacl")
    base = tmp_path_factory.mktemp("p2v-rootfs")
    return build_tarball(base / "tree", base / "p2v-bootstrap-rootfs.tar.zst")


@pytest.fixture
def node(tmp_path: Path, rootfs_tarball: Path) -> Node:
    """A node with the rootfs in IMAGE_DIR, node keys and DNS_SERVERS configured."""
    require_tools("sfdisk", "partx", "losetup", "mkfs.ext4", "ssh-keygen", "run-parts", "blkid", "wipefs")
    n = make_node(tmp_path / "node", rootfs_tarball, config='DNS_SERVERS="192.0.2.1"\n')
    (n.confdir / "authorized_keys").write_text(f"# node-wide keys\n{user_key(keys_dir(tmp_path), 'node')}\n")
    return n


@pytest.fixture
def ssh_key(tmp_path: Path) -> str:
    return user_key(keys_dir(tmp_path), "user")
