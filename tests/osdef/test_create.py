"""create on a sparse loop file, as Ganeti runs it on a node (root)."""

from __future__ import annotations

import json
import os
import stat
import subprocess
from pathlib import Path

import pytest

from p2v_tui.model.target import Nic, TargetDisk, facts_from_json
from tests.osdef import rootfs
from tests.osdef.harness import (
    GDisk,
    GiB,
    GNic,
    Node,
    files_holding,
    fingerprint_of,
    ganeti_env,
    host_key,
    inspect_disk,
    key_material,
    loops_of,
    mounts_mentioning,
    run_os_script,
    sha256_file,
    sparse_file,
)

pytestmark = [pytest.mark.root, pytest.mark.slow]

NAME = "web01.example.org"
HV = {
    "disk_type": "paravirtual",
    "nic_type": "paravirtual",
    "serial_console": False,
    "serial_speed": 38400,
    "kernel_path": "/var/lib/ganeti-instance-p2v-target/p2v-bootstrap-vmlinuz",
    "initrd_path": "/var/lib/ganeti-instance-p2v-target/p2v-bootstrap-initrd.img",
    "root_path": "/dev/vda1",
    "kernel_args": "ro quiet",
}
LAB_NET = {"name": "lab-net", "subnet": "198.51.100.0/24", "gateway": "198.51.100.1"}


def assert_released(node: Node, *disks: Path) -> None:
    """No loop device on the disks, nothing mounted, no temporary left behind."""
    for disk in disks:
        assert loops_of(disk) == "", f"loop device still attached to {disk}"
    assert mounts_mentioning(str(node.tmpdir), "p2v-target.") == []
    assert list(node.tmpdir.iterdir()) == []


def two_disk_env(tmp_path: Path, ssh_key: str, **osparams: str) -> dict[str, str]:
    disk0 = sparse_file(tmp_path / "disk0.img", 1 * GiB)
    disk1 = sparse_file(tmp_path / "disk1.img", 2 * GiB)
    nics = [
        GNic("AA:00:00:3B:1C:01", ip="198.51.100.20", network=LAB_NET),
        GNic("aa:00:00:3b:1c:02", mode="routed", link="100"),
    ]
    return ganeti_env(
        NAME,
        [GDisk(disk0, 1024), GDisk(disk1, 2048)],
        nics,
        osparams={"ssh_key": ssh_key, **osparams},
        hvparams=HV,
    )


def test_create_writes_the_bootstrap_os(tmp_path: Path, node: Node, ssh_key: str) -> None:
    env = two_disk_env(tmp_path, ssh_key)
    disk0 = Path(env["DISK_0_PATH"])
    result = run_os_script("create", env, node)
    assert result.returncode == 0, result.stderr
    assert_released(node, disk0, Path(env["DISK_1_PATH"]))

    table = json.loads(
        subprocess.run(["sfdisk", "--json", str(disk0)], capture_output=True, check=True).stdout
    )
    parts = table["partitiontable"]["partitions"]
    assert table["partitiontable"]["label"] == "dos"
    assert [(p["start"], p["start"] + p["size"], p["type"]) for p in parts] == [(2048, 2 * 1024 * 1024, "83")]

    probe = subprocess.run(
        ["blkid", "-p", "--offset", str(1024 * 1024), "-o", "export", str(disk0)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.splitlines()
    assert "TYPE=ext4" in probe
    assert "LABEL=p2v-bootstrap" in probe

    with inspect_disk(disk0) as root:
        # The tarball, extracted with owners, modes, xattrs, ACLs, hard links.
        owned = (root / rootfs.OWNED[0]).stat()
        assert (owned.st_uid, owned.st_gid, stat.S_IMODE(owned.st_mode)) == rootfs.OWNED[1:]
        assert stat.S_IMODE((root / rootfs.SETUID[0]).stat().st_mode) == rootfs.SETUID[1]
        assert stat.S_IMODE((root / "tmp").stat().st_mode) == 0o1777
        assert stat.S_IMODE((root / "root").stat().st_mode) == 0o700
        assert (root / "root/.profile").read_text() == "# dotfile\n"
        for name, value in rootfs.XATTRS.items():
            assert os.getxattr(root / "srv/xattrs", name) == value
        acl = subprocess.run(
            ["getfacl", "-cp", str(root / "srv/xattrs")], capture_output=True, text=True, check=True
        )
        assert rootfs.ACL_ENTRY in acl.stdout.splitlines()
        a, b = (root / rootfs.HARDLINKS[0]).stat(), (root / rootfs.HARDLINKS[1]).stat()
        assert a.st_ino == b.st_ino and a.st_nlink == 2

        # One fresh ed25519 host key; its fingerprint on the console and in the OS log.
        assert sorted(p.name for p in (root / "etc/ssh").glob("ssh_host_*")) == [
            "ssh_host_ed25519_key",
            "ssh_host_ed25519_key.pub",
        ]
        key = root / "etc/ssh/ssh_host_ed25519_key"
        assert stat.S_IMODE(key.stat().st_mode) == 0o600
        assert (key.stat().st_uid, key.stat().st_gid) == (0, 0)
        derived = subprocess.run(
            ["ssh-keygen", "-y", "-f", str(key)], capture_output=True, text=True, check=True
        )
        pub_text = (root / "etc/ssh/ssh_host_ed25519_key.pub").read_text()
        assert pub_text.split()[:2] == derived.stdout.split()[:2]
        assert pub_text.startswith("ssh-ed25519 ")
        fingerprint = fingerprint_of(root / "etc/ssh/ssh_host_ed25519_key.pub")
        assert fingerprint.endswith("(ED25519)")
        assert f"p2v-target host key: {fingerprint}" in (root / "etc/issue").read_text().splitlines()
        assert result.stdout == f"p2v-target host key: {fingerprint}\n"

        # Root by key only: the user's key and the node's keys.
        keys = (root / "root/.ssh/authorized_keys").read_text().splitlines()
        node_keys = [
            k for k in (node.confdir / "authorized_keys").read_text().splitlines() if not k.startswith("#")
        ]
        assert keys == [ssh_key, *node_keys]
        assert stat.S_IMODE((root / "root/.ssh").stat().st_mode) == 0o700
        assert stat.S_IMODE((root / "root/.ssh/authorized_keys").stat().st_mode) == 0o600
        policy = (root / "etc/ssh/sshd_config.d/p2v-target.conf").read_text().splitlines()
        for line in (
            "PermitRootLogin prohibit-password",
            "PasswordAuthentication no",
            "KbdInteractiveAuthentication no",
            "HostKey /etc/ssh/ssh_host_ed25519_key",
            "ClientAliveInterval 10",  # a dead session ends in about a minute,
            "ClientAliveCountMax 3",  # releasing the /target mounts it held
        ):
            assert line in policy
        assert [line for line in policy if line.startswith("HostKey")] == [
            "HostKey /etc/ssh/ssh_host_ed25519_key"
        ]

        # Names.
        assert (root / "etc/hostname").read_text() == f"{NAME}\n"
        assert f"127.0.1.1\t{NAME} web01" in (root / "etc/hosts").read_text().splitlines()

        # instance.json: what the engine reads, in bytes and guest paths.
        facts = facts_from_json(json.loads((root / "etc/p2v-target/instance.json").read_text()))
        assert facts.name == NAME
        assert facts.hypervisor == "kvm"
        assert facts.serial_console is False
        assert facts.kernel_path == HV["kernel_path"]
        assert facts.initrd_path == HV["initrd_path"]
        assert facts.root_path == "/dev/vda1"
        assert facts.kernel_args == "ro quiet"
        assert facts.os_variant == "default"
        assert facts.disks == (TargetDisk(0, "/dev/vda", 1 * GiB), TargetDisk(1, "/dev/vdb", 2 * GiB))
        assert facts.nics == (
            Nic(0, "aa:00:00:3b:1c:01", ip="198.51.100.20", mode="bridged", link="br0", network="lab-net"),
            Nic(1, "aa:00:00:3b:1c:02", ip=None, mode="routed", link="100", network=None),
        )

        # NIC 0 on the Ganeti network: static address from its subnet; DNS from the node config.
        network = (root / "etc/systemd/network/10-p2v-nic0.network").read_text().splitlines()
        assert "MACAddress=aa:00:00:3b:1c:01" in network
        assert "Address=198.51.100.20/24" in network
        assert "Gateway=198.51.100.1" in network
        assert "DHCP=yes" not in network
        resolv = root / "etc/resolv.conf"
        assert not resolv.is_symlink()
        assert [line for line in resolv.read_text().splitlines() if line.startswith("nameserver")] == [
            "nameserver 192.0.2.1"
        ]
    assert not Path(rootfs.RESOLV_LINK).exists() or "p2v-target" not in Path(rootfs.RESOLV_LINK).read_text()


def test_hooks_run_with_target_blockdev_root_dev(tmp_path: Path, node: Node, ssh_key: str) -> None:
    record = tmp_path / "hook.env"
    hook = node.confdir / "hooks" / "50-record"
    hook.write_text(
        "#!/bin/sh\nset -eu\n"
        'test -f "$TARGET/etc/p2v-target/instance.json"\n'
        f'printf "TARGET=%s\\nBLOCKDEV=%s\\nROOT_DEV=%s\\nINSTANCE_NAME=%s\\n" '
        f'"$TARGET" "$BLOCKDEV" "$ROOT_DEV" "$INSTANCE_NAME" > {record}\n'
        'echo from-hook > "$TARGET/etc/hook-was-here"\n'
    )
    hook.chmod(0o755)
    disk = sparse_file(tmp_path / "disk0.img", 1 * GiB)
    env = ganeti_env(NAME, [GDisk(disk, 1024)], [GNic("aa:00:00:00:00:01")], osparams={"ssh_key": ssh_key})
    result = run_os_script("create", env, node)
    assert result.returncode == 0, result.stderr
    assert_released(node, disk)
    seen = dict(line.split("=", 1) for line in record.read_text().splitlines())
    assert seen["BLOCKDEV"].startswith("/dev/loop")
    assert seen["ROOT_DEV"] == seen["BLOCKDEV"] + "p1"
    assert seen["TARGET"].startswith(str(node.tmpdir))
    assert seen["INSTANCE_NAME"] == NAME
    assert not Path(seen["TARGET"]).exists()
    with inspect_disk(disk) as root:
        assert (root / "etc/hook-was-here").read_text() == "from-hook\n"


def test_variant_config_overrides_the_default(tmp_path: Path, node: Node, ssh_key: str) -> None:
    (node.confdir / "variants" / "special.conf").write_text('DNS_SERVERS="192.0.2.99 192.0.2.98"\n')
    disk = sparse_file(tmp_path / "disk0.img", 1 * GiB)
    env = ganeti_env(
        NAME,
        [GDisk(disk, 1024)],
        [GNic("aa:00:00:00:00:01")],
        osparams={"ssh_key": ssh_key},
        variant="special",
    )
    result = run_os_script("create", env, node)
    assert result.returncode == 0, result.stderr
    with inspect_disk(disk) as root:
        resolv = (root / "etc/resolv.conf").read_text().splitlines()
        assert [line for line in resolv if line.startswith("nameserver")] == [
            "nameserver 192.0.2.99",
            "nameserver 192.0.2.98",
        ]
        facts = facts_from_json(json.loads((root / "etc/p2v-target/instance.json").read_text()))
        assert facts.os_variant == "special"
        # No IP on NIC 0 and no address parameter: DHCP.
        network = (root / "etc/systemd/network/10-p2v-nic0.network").read_text().splitlines()
        assert "DHCP=yes" in network
        assert not any(line.startswith(("Address=", "Gateway=")) for line in network)

    env["OS_VARIANT"] = "nonexistent"
    result = run_os_script("create", env, node)
    assert result.returncode != 0
    assert "unknown OS variant 'nonexistent'" in result.stderr


def test_os_parameters_give_a_static_ipv6_address(tmp_path: Path, node: Node, ssh_key: str) -> None:
    disk = sparse_file(tmp_path / "disk0.img", 1 * GiB)
    osparams = {
        "ssh_key": ssh_key,
        "address": "2001:db8::20/64",
        "gateway": "2001:db8::1",
        "dns": "2001:db8::53",
    }
    env = ganeti_env(
        NAME, [GDisk(disk, 1024)], [GNic("aa:00:00:00:00:01", ip="198.51.100.20")], osparams=osparams
    )
    result = run_os_script("create", env, node)
    assert result.returncode == 0, result.stderr
    with inspect_disk(disk) as root:
        network = (root / "etc/systemd/network/10-p2v-nic0.network").read_text().splitlines()
        assert "Address=2001:db8::20/64" in network
        assert "Gateway=2001:db8::1" in network
        assert "DNS=2001:db8::53" in network
        assert "nameserver 2001:db8::53" in (root / "etc/resolv.conf").read_text().splitlines()


def test_gpt_and_node_keys_only(tmp_path: Path, node: Node) -> None:
    """Without ssh_key the node's keys suffice; PARTITION_STYLE=gpt is honoured."""
    node.config.write_text(node.config.read_text() + "PARTITION_STYLE=gpt\n")
    disk = sparse_file(tmp_path / "disk0.img", 1 * GiB)
    env = ganeti_env(NAME, [GDisk(disk, 1024)], [GNic("aa:00:00:00:00:01")])
    result = run_os_script("create", env, node)
    assert result.returncode == 0, result.stderr
    table = json.loads(
        subprocess.run(["sfdisk", "--json", str(disk)], capture_output=True, check=True).stdout
    )
    assert table["partitiontable"]["label"] == "gpt"
    with inspect_disk(disk) as root:
        keys = (root / "root/.ssh/authorized_keys").read_text().splitlines()
        assert keys == [
            k for k in (node.confdir / "authorized_keys").read_text().splitlines() if not k.startswith("#")
        ]


def count_in_file(path: Path, needle: bytes) -> int:
    """Occurrences of ``needle`` in a (sparse) disk image, read in chunks."""
    count, tail = 0, b""
    with path.open("rb") as f:
        while chunk := f.read(64 * 1024 * 1024):
            data = tail + chunk
            count += data.count(needle)
            tail = data[-(len(needle) - 1) :]  # too short for a match: none counted twice
    return count


def test_given_host_key_is_the_bootstraps_only_one(tmp_path: Path, node: Node, ssh_key: str) -> None:
    """The secret ssh_host_key is installed as is, under a debug trace, and copied nowhere else."""
    p2v_dir = tmp_path / "p2v"
    p2v_dir.mkdir()
    key = host_key(p2v_dir)
    secret = key.read_text()
    material = key_material(secret)
    record = tmp_path / "hook.env"
    hook = node.confdir / "hooks" / "50-env"
    hook.write_text(f"#!/bin/sh\nenv > {record}\n")
    hook.chmod(0o755)
    disk = sparse_file(tmp_path / "disk0.img", 1 * GiB)
    env = ganeti_env(
        NAME,
        [GDisk(disk, 1024)],
        [GNic("aa:00:00:00:00:01")],
        osparams={"ssh_key": ssh_key, "ssh_host_key": secret},
    )
    env["DEBUG_LEVEL"] = "1"  # set -x: the trace must not show it either
    result = run_os_script("create", env, node)
    assert result.returncode == 0, result.stderr
    assert_released(node, disk)

    fingerprint = fingerprint_of(key.with_suffix(".pub"))
    assert result.stdout == f"p2v-target host key: {fingerprint}\n"
    output = result.stdout + result.stderr
    assert "+ " in result.stderr
    assert [m for m in material if m in output] == []
    assert "OSP_SSH_HOST_KEY" not in record.read_text()  # the hooks never had it

    with inspect_disk(disk) as root:
        ssh = root / "etc/ssh"
        assert sorted(p.name for p in ssh.glob("ssh_host_*")) == [
            "ssh_host_ed25519_key",
            "ssh_host_ed25519_key.pub",
        ]
        installed = ssh / "ssh_host_ed25519_key"
        assert installed.read_text() == secret
        assert stat.S_IMODE(installed.stat().st_mode) == 0o600
        assert (installed.stat().st_uid, installed.stat().st_gid) == (0, 0)
        assert fingerprint_of(ssh / "ssh_host_ed25519_key.pub") == fingerprint
        assert f"p2v-target host key: {fingerprint}" in (root / "etc/issue").read_text().splitlines()
        assert files_holding(root, material, skip=[installed]) == []
    # Nowhere else: not in the node's files, its TMPDIR, the hook's record, nor
    # on the disk outside that one file (no deleted temporary copy).
    assert files_holding(tmp_path, material, skip=[p2v_dir, disk]) == []
    assert [count_in_file(disk, m.encode()) for m in material] == [1] * len(material)


def test_bad_host_key_is_refused_before_writing(tmp_path: Path, node: Node, ssh_key: str) -> None:
    secret = host_key(tmp_path, kind="rsa").read_text()
    disk = sparse_file(tmp_path / "disk0.img", 64 * 1024 * 1024)
    before = sha256_file(disk)
    env = ganeti_env(
        NAME,
        [GDisk(disk, 64)],
        [GNic("aa:00:00:00:00:01")],
        osparams={"ssh_key": ssh_key, "ssh_host_key": secret},
    )
    result = run_os_script("create", env, node)
    assert result.returncode != 0
    assert result.stderr.splitlines() == [
        "p2v-target create: error: OS parameter ssh_host_key is an ssh-rsa key:"
        " only an ssh-ed25519 host key is accepted"
    ]
    assert result.stdout == ""
    assert sha256_file(disk) == before
    assert_released(node, disk)


# ---------------------------------------------------------------- failures


def test_missing_rootfs_fails_clearly_and_leaves_the_disk(tmp_path: Path, node: Node, ssh_key: str) -> None:
    (node.image_dir / "p2v-bootstrap-rootfs.tar.zst").unlink()
    disk = sparse_file(tmp_path / "disk0.img", 64 * 1024 * 1024)
    before = sha256_file(disk)
    env = ganeti_env(NAME, [GDisk(disk, 64)], [GNic("aa:00:00:00:00:01")], osparams={"ssh_key": ssh_key})
    result = run_os_script("create", env, node)
    assert result.returncode != 0
    assert "p2v-bootstrap-rootfs.tar.zst is missing" in result.stderr
    assert "copy the built images to IMAGE_DIR" in result.stderr
    assert "For cluster admins" in result.stderr
    assert sha256_file(disk) == before
    assert_released(node, disk)


def test_no_key_at_all_fails_clearly(tmp_path: Path, node: Node) -> None:
    (node.confdir / "authorized_keys").write_text("# no keys yet\n\n")
    disk = sparse_file(tmp_path / "disk0.img", 64 * 1024 * 1024)
    before = sha256_file(disk)
    env = ganeti_env(NAME, [GDisk(disk, 64)], [GNic("aa:00:00:00:00:01")])
    result = run_os_script("create", env, node)
    assert result.returncode != 0
    assert "no SSH key for root" in result.stderr
    assert "ssh_key=" in result.stderr
    assert sha256_file(disk) == before
    assert_released(node, disk)


def test_too_small_disk_fails_before_writing(tmp_path: Path, node: Node, ssh_key: str) -> None:
    disk = sparse_file(tmp_path / "disk0.img", 48 * 1024 * 1024)
    before = sha256_file(disk)
    env = ganeti_env(NAME, [GDisk(disk, 48)], [GNic("aa:00:00:00:00:01")], osparams={"ssh_key": ssh_key})
    result = run_os_script("create", env, node)
    assert result.returncode != 0
    assert "disk 0 is too small: 48 MiB" in result.stderr
    assert sha256_file(disk) == before
    assert_released(node, disk)


def test_failure_after_mount_releases_everything(tmp_path: Path, node: Node, ssh_key: str) -> None:
    hook = node.confdir / "hooks" / "90-fail"
    hook.write_text('#!/bin/sh\necho "hook refuses" >&2\nexit 3\n')
    hook.chmod(0o755)
    disk = sparse_file(tmp_path / "disk0.img", 1 * GiB)
    env = ganeti_env(NAME, [GDisk(disk, 1024)], [GNic("aa:00:00:00:00:01")], osparams={"ssh_key": ssh_key})
    result = run_os_script("create", env, node)
    assert result.returncode != 0
    assert "hook refuses" in result.stderr
    assert "a hook in" in result.stderr
    assert result.stdout == ""
    assert_released(node, disk)


def test_malformed_ssh_key_is_refused_by_create(tmp_path: Path, node: Node) -> None:
    disk = sparse_file(tmp_path / "disk0.img", 64 * 1024 * 1024)
    env = ganeti_env(NAME, [GDisk(disk, 64)], [], osparams={"ssh_key": "ssh-ed25519 AAAAnotbase64!!"})
    result = run_os_script("create", env, node)
    assert result.returncode != 0
    assert "not a valid OpenSSH public key" in result.stderr
    assert_released(node, disk)
