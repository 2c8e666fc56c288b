"""The p2v-target OS definition on a lab cluster, as an admin installs it and a
user creates a bootstrap instance with it (tests/ganeti and tests/e2e)."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

from tests.lab.cache import REPO
from tests.lab.ganeti import GanetiLab

OS = "p2v-target"
IMAGE_DIR = "/var/lib/ganeti-instance-p2v-target"
BOOTSTRAP_HV = {
    "kernel_path": f"{IMAGE_DIR}/p2v-bootstrap-vmlinuz",
    "initrd_path": f"{IMAGE_DIR}/p2v-bootstrap-initrd.img",
}
"""One-off ``gnt-instance start -H``: the bootstrap kernel and the ramboot initrd."""
FINGERPRINT = re.compile(r"p2v-target host key: (\d+ SHA256:[A-Za-z0-9+/]+) \(ED25519\)")


def keypair(path: Path) -> Path:
    """A fresh ed25519 key pair at ``path`` and ``path.pub``."""
    argv = ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "user@example", "-f", str(path)]
    subprocess.run(argv, check=True)
    return path


def install_osdef(lab: GanetiLab, images: Path) -> None:
    """What the admin does once: ``osdef/install --cluster`` from the master."""
    out = lab.run([str(REPO / "osdef/install"), "--cluster", "--images", str(images)], timeout=600)
    # the copies were checked through gnt-cluster command on every node, not just made here
    if "installed and checked on every online node" not in out.stderr:
        raise RuntimeError(f"osdef/install did not check the nodes:\n{out.stderr[-3000:]}")


def uninstall_osdef(lab: GanetiLab) -> None:
    lab.run([str(REPO / "osdef/install"), "--uninstall"], check=False, timeout=300)


def add_bootstrap_instance(
    lab: GanetiLab, name: str, *, public_key: str, address: str, disk: str, memory_mib: int = 256
) -> str:
    """``gnt-instance add -o p2v-target+default`` (not started) with the user's
    key and a static address on the lab network (also the NIC's Ganeti IP);
    returns the host key fingerprint (``256 SHA256:...``) from the OS log
    this create wrote (not an earlier instance's of the same name)."""
    pattern = f"add-{OS}+default-{name}-*.log"
    earlier = set(lab.host_path("/var/log/ganeti/os").glob(pattern))
    lab.gnt(
        "gnt-instance", "add",
        "-t", "file",
        "-s", disk,
        "-o", f"{OS}+default",
        "-O", f"ssh_key={public_key},address={address}/{lab.prefix_len}",
        "-B", f"memory={memory_mib}M",
        "--net", f"0:link={lab.bridge},ip={address}",
        "-n", lab.node_name,
        "--no-name-check", "--no-ip-check",
        "--no-start",
        name,
        timeout=600,
    )  # fmt: skip
    logs = sorted(set(lab.host_path("/var/log/ganeti/os").glob(pattern)) - earlier)
    if len(logs) != 1:
        raise RuntimeError(f"not one new OS log for the create script of {name}: {logs}")
    found = FINGERPRINT.search(logs[-1].read_text(encoding="utf-8", errors="replace"))
    if not found:
        raise RuntimeError(f"no host key fingerprint in {logs[-1]}")
    return found.group(1)


def os_log(lab: GanetiLab, name: str) -> str:
    logs = sorted(lab.host_path("/var/log/ganeti/os").glob(f"add-{OS}+default-{name}-*.log"))
    return logs[-1].read_text(encoding="utf-8", errors="replace") if logs else ""
