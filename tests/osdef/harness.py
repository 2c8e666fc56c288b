"""Run the p2v-target OS scripts the way a Ganeti node does, on loop files.

:func:`ganeti_env` builds the environment as ``ganeti.backend.OSEnvironment``
(Ganeti 3.0) does: a clean environment with Ganeti's hooks PATH, OS_*,
INSTANCE_*, DISK_<n>_*, NIC_<n>_*, INSTANCE_HV_*/INSTANCE_BE_* (values through
``str()``: booleans are ``True``/``False``) and OSP_*. A :class:`Node` adds the
config overrides common.sh honours, so no test touches /etc of this machine.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
OSDEF = REPO / "osdef"
OS_DIR = OSDEF / "p2v-target"
HOOKS_PATH = "/sbin:/bin:/usr/sbin:/usr/bin"
MiB = 1024 * 1024
GiB = 1024 * MiB
SHELL_SCRIPTS = ("create", "import", "export", "rename", "verify", "common.sh")

KVM_HVPARAMS: dict[str, object] = {
    "disk_type": "paravirtual",
    "nic_type": "paravirtual",
    "serial_console": True,
    "serial_speed": 38400,
    "kernel_path": "/boot/vmlinuz-3-kvmU",
    "initrd_path": "",
    "root_path": "/dev/vda1",
    "kernel_args": "ro",
    "boot_order": "disk",
}
BEPARAMS: dict[str, object] = {"maxmem": 256, "minmem": 256, "vcpus": 1, "auto_balance": True}


def require_root() -> None:
    if os.geteuid() != 0:
        pytest.skip("needs root: loop devices, mount, chown")


def require_tools(*tools: str) -> None:
    missing = [
        t for t in tools if shutil.which(t, path=HOOKS_PATH + ":" + os.environ.get("PATH", "")) is None
    ]
    if missing:
        pytest.skip(f"needs {', '.join(missing)}")


@dataclass(frozen=True)
class GDisk:
    path: Path
    size_mib: int


@dataclass(frozen=True)
class GNic:
    mac: str
    ip: str | None = None
    mode: str = "bridged"
    link: str = "br0"
    network: Mapping[str, str] = field(default_factory=dict)
    """Ganeti network: name, subnet, gateway, subnet6, gateway6 (HooksDict keys, lower case)."""


def ganeti_env(
    name: str,
    disks: Sequence[GDisk],
    nics: Sequence[GNic] = (),
    *,
    osparams: Mapping[str, str] | None = None,
    hvparams: Mapping[str, object] | None = None,
    variant: str = "default",
    hypervisor: str = "kvm",
) -> dict[str, str]:
    """The environment Ganeti 3.0's backend gives an OS script (OS API 20)."""
    hvp = dict(KVM_HVPARAMS if hvparams is None else hvparams)
    env = {
        "OS_API_VERSION": "20",
        "OS_NAME": "p2v-target",
        "DEBUG_LEVEL": "0",
        "OS_VARIANT": variant,
        "PATH": HOOKS_PATH,
        "INSTANCE_NAME": name,
        "INSTANCE_OS": f"p2v-target+{variant}",
        "INSTANCE_UUID": "0b2ad1b6-8b1e-4f7e-9d0c-5d8f9d1c0001",
        "INSTANCE_CTIME": "1700000000.0",
        "INSTANCE_MTIME": "1700000000.0",
        "INSTANCE_PRIMARY_NODE": "node1.example.org",
        "INSTANCE_SECONDARY_NODES": "",
        "HYPERVISOR": hypervisor,
        "DISK_COUNT": str(len(disks)),
        "NIC_COUNT": str(len(nics)),
    }
    for key, value in (osparams or {}).items():
        env["OSP_" + key.upper().replace("-", "_")] = value
    for i, d in enumerate(disks):
        env[f"DISK_{i}_ACCESS"] = "rw"
        env[f"DISK_{i}_UUID"] = f"5f1c0000-0000-4000-8000-00000000000{i}"
        env[f"DISK_{i}_SIZE"] = str(d.size_mib)
        env[f"DISK_{i}_PATH"] = str(d.path)
        if "disk_type" in hvp:
            env[f"DISK_{i}_FRONTEND_TYPE"] = str(hvp["disk_type"])
        env[f"DISK_{i}_BACKEND_TYPE"] = "file:loop"
    for i, n in enumerate(nics):
        env[f"NIC_{i}_MAC"] = n.mac
        env[f"NIC_{i}_UUID"] = f"7a2c0000-0000-4000-8000-00000000000{i}"
        if n.ip:
            env[f"NIC_{i}_IP"] = n.ip
        env[f"NIC_{i}_MODE"] = n.mode
        if n.mode == "bridged":
            env[f"NIC_{i}_BRIDGE"] = n.link
        if n.link:
            env[f"NIC_{i}_LINK"] = n.link
        if n.network:
            env[f"NIC_{i}_NETWORK_NAME"] = n.network["name"]
            env[f"NIC_{i}_NETWORK_UUID"] = "9d3e0000-0000-4000-8000-000000000000"
            env[f"NIC_{i}_NETWORK_TAGS"] = ""
            for key in ("subnet", "gateway", "subnet6", "gateway6"):
                if key in n.network:
                    env[f"NIC_{i}_NETWORK_{key.upper()}"] = n.network[key]
        if "nic_type" in hvp:
            env[f"NIC_{i}_FRONTEND_TYPE"] = str(hvp["nic_type"])
    for key, param in BEPARAMS.items():
        env[f"INSTANCE_BE_{key}"] = str(param)
    for key, param in hvp.items():
        env[f"INSTANCE_HV_{key}"] = str(param)
    return env


@dataclass(frozen=True)
class Node:
    """A node's configuration, all inside a test directory."""

    base: Path

    @property
    def config(self) -> Path:
        return self.base / "default" / "ganeti-instance-p2v-target"

    @property
    def confdir(self) -> Path:
        return self.base / "instance-p2v-target"

    @property
    def image_dir(self) -> Path:
        return self.base / "images"

    @property
    def tmpdir(self) -> Path:
        """TMPDIR of the scripts: must be empty again after every run."""
        return self.base / "tmp"

    def overrides(self) -> dict[str, str]:
        return {
            "P2V_TARGET_CONFIG": str(self.config),
            "P2V_TARGET_CONFDIR": str(self.confdir),
            "TMPDIR": str(self.tmpdir),
        }


def make_node(base: Path, rootfs: Path | None, config: str = "") -> Node:
    node = Node(base)
    for d in (
        node.config.parent,
        node.confdir / "variants",
        node.confdir / "hooks",
        node.image_dir,
        node.tmpdir,
    ):
        d.mkdir(parents=True, exist_ok=True)
    node.config.write_text(f'IMAGE_DIR="{node.image_dir}"\n{config}')
    (node.confdir / "variants" / "default.conf").write_text((OSDEF / "variants" / "default.conf").read_text())
    if rootfs is not None:
        shutil.copyfile(rootfs, node.image_dir / "p2v-bootstrap-rootfs.tar.zst")
    return node


def run_os_script(
    script: str,
    env: Mapping[str, str],
    node: Node | None = None,
    *,
    args: Sequence[str] = (),
    stdin: int | None = None,
    stdout: int | None = None,
    pass_fds: Sequence[int] = (),
) -> subprocess.CompletedProcess[str]:
    full = dict(env)
    if node is not None:
        full.update(node.overrides())
    return subprocess.run(
        [str(OS_DIR / script), *args],
        env=full,
        stdin=stdin,
        stdout=subprocess.PIPE if stdout is None else stdout,
        stderr=subprocess.PIPE,
        text=True,
        pass_fds=tuple(pass_fds),
        timeout=300,
        check=False,
    )


def sparse_file(path: Path, size: int) -> Path:
    with path.open("wb") as f:
        f.truncate(size)
    return path


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(4 * MiB):
            h.update(chunk)
    return h.hexdigest()


def loops_of(path: Path) -> str:
    """``losetup -j``: loop devices still attached to ``path`` (empty when none)."""
    return subprocess.run(
        ["losetup", "-j", str(path)], capture_output=True, text=True, check=True
    ).stdout.strip()


def mounts_mentioning(*needles: str) -> list[str]:
    """Lines of /proc/self/mountinfo naming any of ``needles``."""
    lines = Path("/proc/self/mountinfo").read_text().splitlines()
    return [line for line in lines if any(n in line for n in needles)]


@contextlib.contextmanager
def inspect_disk(image: Path) -> Iterator[Path]:
    """Partition 1 of ``image`` mounted read-only; everything released after."""
    dev = subprocess.run(
        ["losetup", "-f", "--show", "-r", str(image)], capture_output=True, text=True, check=True
    ).stdout.strip()
    mnt = Path(tempfile.mkdtemp(prefix="p2v-osdef-inspect."))
    mounted = False
    try:
        part = f"{dev}p1"
        for _ in range(50):
            if Path(part).exists():
                break
            subprocess.run(["partx", "-u", dev], capture_output=True, check=False)
            if not Path(part).exists():
                subprocess.run(["partx", "-a", dev], capture_output=True, check=False)
            time.sleep(0.1)
        subprocess.run(["mount", "-o", "ro", part, str(mnt)], check=True)
        mounted = True
        yield mnt
    finally:
        if mounted:
            subprocess.run(["umount", str(mnt)], check=False)
        mnt.rmdir()
        subprocess.run(["partx", "-d", dev], capture_output=True, check=False)
        subprocess.run(["losetup", "-d", dev], check=False)


def user_key(directory: Path, name: str = "user") -> str:
    """A fresh ed25519 public key line."""
    key = directory / name
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", f"{name}@example.org", "-f", str(key)],
        check=True,
    )
    return (directory / f"{name}.pub").read_text().strip()


def fingerprint_of(pub: Path) -> str:
    """``256 SHA256:... (ED25519)`` as ``ssh-keygen -lf`` prints it (comment dropped)."""
    fields = subprocess.run(
        ["ssh-keygen", "-lf", str(pub)], capture_output=True, text=True, check=True
    ).stdout.split()
    return f"{fields[0]} {fields[1]} {fields[-1]}"


def host_key(
    directory: Path, name: str = "host", kind: str = "ed25519", passphrase: str = "", key_format: str = ""
) -> Path:
    """A fresh private key file as p2v makes the bootstrap's (``name.pub`` beside it)."""
    key = directory / name
    fmt = ["-m", key_format] if key_format else []
    subprocess.run(
        ["ssh-keygen", "-q", "-t", kind, *fmt, "-N", passphrase, "-C", f"{name}@p2v", "-f", str(key)],
        check=True,
    )
    return key


def key_material(text: str) -> list[str]:
    """Pieces of ``text`` that must never be seen outside where the key belongs.

    For an armoured key, every base64 line but the first (the first is the
    same in every unencrypted ed25519 key); otherwise every word of 20
    characters or more.
    """
    lines = text.splitlines()
    if any(line.startswith("-----BEGIN ") for line in lines):
        body = [line for line in lines if line and not line.startswith("-----")]
        firsts = {lines[i + 1] for i, line in enumerate(lines[:-1]) if line.startswith("-----BEGIN ")}
        return [line for line in body if line not in firsts]
    return [word for word in text.split() if len(word) >= 20]


def files_holding(top: Path, needles: Sequence[str], *, skip: Sequence[Path] = ()) -> list[Path]:
    """Regular files under ``top`` (not under ``skip``) containing any of ``needles``."""
    raw = [n.encode() for n in needles]
    found = []
    for path in sorted(top.rglob("*")):
        if any(path == s or s in path.parents for s in skip):
            continue
        if path.is_file() and not path.is_symlink():
            data = path.read_bytes()
            if any(n in data for n in raw):
                found.append(path)
    return found
