"""The live image on the LVM source machine of the end-to-end lab
(tests/e2e/source_lvm.py: GPT with bios_grub, /boot ext4, vg0/root xfs and
vg0/swap, fstab and GRUB by /dev/mapper names), attached as an IDE disk
(/dev/sda) to QEMU (TCG) as on a SATA server.

The live image boots with ``-kernel/-initrd``, finds its medium on the ISO
written to a stick, and its answers (and later the report) on a second
stick found by label; user networking is restricted and only forwards
10.0.2.100:22 to a target sshd in the test's own network namespaces, whose
disk is a loop device on the host. The host cannot read LVM (no
device-mapper); everything about the LVs is read from the report the live
system copies back to the stick.

- dry run: the probe activates the LVs read-only, reads the xfs root and
  the swap LV, plans both as plain partitions beside /boot, and
  deactivates them again; the source image is bit for bit unchanged;
- migration: the target disk gets the planned partitions, and the migrated
  fstab, GRUB configuration and initramfs settings name the new UUIDs
  instead of /dev/mapper/vg0-*.

Root and slow."""

from __future__ import annotations

import contextlib
import hashlib
import json
import re
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from p2v_tui.model.units import GiB, MiB
from tests.e2e.source_lvm import BuiltSource, lvm_source
from tests.integration.harness import Target, migration_target
from tests.lab.disks import DiskSpec, PartSpec, attach_image, image_sha256, loop_disk, mounted, require
from tests.lab.netns import stop_popen
from tests.lab.qemu import tcg_argv
from tests.livecd.artifacts import LiveImage, live_image

pytestmark = [pytest.mark.root, pytest.mark.slow]

GUEST_SERVER = "10.0.2.100"
STICK_LABEL = "P2VANSWERS"
SERIAL_ARGS = "console=tty0 console=ttyS0,115200n8"
FAILED = ("Kernel panic", "(initramfs)", "Traceback (most recent call last)", "Unable to find a medium")
TARGET_SIZE = 4 * GiB


@pytest.fixture(scope="module")
def image() -> LiveImage:
    require("qemu-system-x86_64", "mkfs.ext4", "socat", "sfdisk", "cp")
    return live_image()


@pytest.fixture(scope="module")
def source() -> BuiltSource:
    require("qemu-system-x86_64", "mkfs.ext4", "debugfs", "sfdisk", "ssh-keygen")
    return lvm_source()


def copy_source(source: BuiltSource, dest: Path) -> tuple[Path, str]:
    """A sparse copy of the cached disk (the cache entry is never booted)."""
    subprocess.run(["cp", "--sparse=always", str(source.image), str(dest)], check=True)
    return dest, image_sha256(dest)


def answers(target: Target, *, confirm: bool) -> str:
    return yaml.safe_dump({
        "version": 1,
        "confirm": confirm,
        "target": {"host": GUEST_SERVER, "port": 22, "user": "root", "identity": "id_ed25519",
                   "host_key": target.host.host_key_fingerprint, "connect_timeout": 60},
        # boot: own (the default): the built server has its kernel and GRUB
        "after": "none",
    })  # fmt: skip


def answers_stick(path: Path, target: Target, *, confirm: bool) -> None:
    spec = DiskSpec(64 * MiB, None, (PartSpec(None, "ext4", label=STICK_LABEL),))
    with loop_disk(spec, path) as disk, mounted(disk.partitions[0], "ext4") as root:
        (root / "answers.yaml").write_text(answers(target, confirm=confirm))
        (root / "id_ed25519").write_bytes(target.key.read_bytes())
        (root / "id_ed25519").chmod(0o600)  # OpenSSH (the copy) refuses a key others can read


def qemu_argv(
    image: LiveImage, source: Path, stick: Path, target: Target, log: Path, *, dry_run: bool
) -> list[str]:
    append = f"boot=live {SERIAL_ARGS} p2v.answers=LABEL={STICK_LABEL}:/answers.yaml"
    if dry_run:
        append += " p2v.dryrun=1"
    forward = f"guestfwd=tcp:{GUEST_SERVER}:22-cmd:socat STDIO TCP:{target.host.host}:{target.host.port}"
    return [
        *tcg_argv(2048),
        "-kernel", str(image.vmlinuz),
        "-initrd", str(image.initrd),
        "-append", append,
        "-drive", f"file={source},format=raw,if=ide",  # /dev/sda: the server's disk, writable as it is
        "-drive", f"file={image.iso},format=raw,if=virtio,readonly=on",  # /dev/vda: the ISO on a stick
        "-drive", f"file={stick},format=raw,if=virtio",  # /dev/vdb: the answers stick (gets the report)
        "-netdev", f"user,id=n0,restrict=on,{forward}",  # only the target sshd is reachable
        "-device", "virtio-net-pci,netdev=n0",
        "-serial", f"file:{log}",
        "-monitor", "none",
    ]  # fmt: skip


def run_live(argv: list[str], log: Path, timeout: float) -> tuple[str, float]:
    """The console once the headless run has finished, and its seconds."""
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    started = time.monotonic()
    try:
        while True:
            console = log.read_text(errors="replace") if log.exists() else ""
            if "p2v-live: finished with exit code" in console:
                return console, time.monotonic() - started
            failed = [m for m in FAILED if m in console]
            assert not failed, f"{failed} on the console:\n{console[-5000:]}"
            assert proc.poll() is None, f"QEMU ended ({proc.returncode}):\n{console[-5000:]}"
            assert time.monotonic() - started < timeout, (
                f"no result within {timeout:.0f} s:\n{console[-5000:]}"
            )
            time.sleep(2)
    finally:
        stop_popen(proc, grace=10)


@contextlib.contextmanager
def report(stick: Path) -> Iterator[Path]:
    with attach_image(stick) as disk, mounted(disk.path, "ext4", "ro") as root:
        (found,) = (root / "p2v-reports").glob("p2v-report-*")
        yield found


def load(path: Path) -> Any:
    return json.loads(path.read_text())


def check_probe(machine: dict[str, Any], debug_log: str) -> dict[str, dict[str, Any]]:
    """What the probe saw of the LVM server; filesystems by mount point."""
    (vg,) = machine["volume_groups"]
    assert vg["name"] == "vg0" and vg["pvs"] == ["/dev/sda3"]
    assert sorted(lv["name"] for lv in vg["lvs"]) == ["root", "swap"]
    by_mount = {fs["mountpoint"]: fs for fs in machine["filesystems"] if fs["mountpoint"]}
    assert set(by_mount) == {"/", "/boot"}, machine["filesystems"]
    root, boot = by_mount["/"], by_mount["/boot"]
    assert (root["device"], root["fstype"]) == ("/dev/vg0/root", "xfs")
    assert root["used"] and root["used"] > 500 * MiB  # mounted (read-only) and measured
    assert (boot["device"], boot["fstype"]) == ("/dev/sda2", "ext4")
    assert [s["path"] for s in machine["swaps"]] == ["/dev/vg0/swap"]
    assert machine["os"]["hostname"] == "dbhost"
    assert "activating LVM volumes read-only: vg0/root, vg0/swap" in debug_log
    assert "deactivated LVM volumes vg0/root, vg0/swap" in debug_log
    assert "activated writable" not in debug_log and "already active" not in debug_log
    return by_mount


def planned(plan: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Planned target partitions by mount point (swap as ``swap``)."""
    parts = [p for d in plan["disks"] for p in d["partitions"]]
    return {p.get("mountpoint") or p["role"]: p for p in parts}


def test_dry_run_plans_the_lvs_as_partitions_and_leaves_the_source_unchanged(
    image: LiveImage, source: BuiltSource, tmp_path: Path
) -> None:
    disk, before = copy_source(source, tmp_path / "source.img")
    (tmp_path / "target").mkdir()
    with migration_target(tmp_path / "target", TARGET_SIZE) as target:
        stick = tmp_path / "stick.img"
        answers_stick(stick, target, confirm=False)
        log = tmp_path / "serial.log"
        argv = target.ns.client_argv(qemu_argv(image, disk, stick, target, log, dry_run=True))
        console, seconds = run_live(argv, log, timeout=900)
    assert "p2v-live: dry run done" in console, console[-5000:]
    assert image_sha256(disk) == before, "the dry run changed the source disk"
    with report(stick) as found:
        machine = load(found / "machine.json")
        plan = load(found / "plan.json")
        plan_text = (found / "plan.txt").read_text()
        debug_log = (found / "debug.log").read_text()
    check_probe(machine, debug_log)
    parts = planned(plan)
    assert parts["/"]["fstype"] == "xfs" and parts["/"]["source"] == "/dev/vg0/root", parts["/"]
    assert parts["/boot"]["fstype"] == "ext4" and parts["/boot"]["source"] == "/dev/sda2"
    assert "/dev/vg0/root" in plan_text and "/boot" in plan_text
    print(f"\nlvm source dry run: {seconds:.0f} s to the result")


def blkid_value(device: str, tag: str) -> str:
    return subprocess.run(["blkid", "-p", "-o", "value", "-s", tag, device],
                          capture_output=True, text=True, check=True).stdout.strip()  # fmt: skip


def active_lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]


def test_migration_turns_the_lvs_into_partitions_named_by_uuid(
    image: LiveImage, source: BuiltSource, tmp_path: Path
) -> None:
    disk, before = copy_source(source, tmp_path / "source.img")
    (tmp_path / "target").mkdir()
    with migration_target(tmp_path / "target", TARGET_SIZE) as target:
        stick = tmp_path / "stick.img"
        answers_stick(stick, target, confirm=True)
        log = tmp_path / "serial.log"
        argv = target.ns.client_argv(qemu_argv(image, disk, stick, target, log, dry_run=False))
        console, seconds = run_live(argv, log, timeout=1800)
        target_image = target.image
    assert "p2v-live: finished with exit code 0" in console, console[-6000:]
    assert image_sha256(disk) == before, "the migration changed the source disk"
    with report(stick) as found:
        machine = load(found / "machine.json")
        plan = load(found / "plan.json")
        debug_log = (found / "debug.log").read_text()
    check_probe(machine, debug_log)
    parts = planned(plan)
    assert {"/", "/boot", "swap"} <= set(parts), sorted(parts)

    table = json.loads(subprocess.run(["sfdisk", "--json", str(target_image)], capture_output=True,
                                      text=True, check=True).stdout)["partitiontable"]  # fmt: skip
    sector = table.get("sectorsize", 512)
    on_disk = {int(re.sub(r"^.*?(\d+)$", r"\1", p["node"])): (p["start"] * sector, p["size"] * sector)
               for p in table["partitions"]}  # fmt: skip
    wanted = {p["number"]: (p["start"], p["size"]) for d in plan["disks"] for p in d["partitions"]}
    assert on_disk == wanted

    checksums: dict[str, str] = load(source.checksums)
    with attach_image(target_image) as tdisk:
        nodes = {number: f"{tdisk.path}p{number}" for number in wanted}
        uuids = {name: blkid_value(nodes[p["number"]], "UUID") for name, p in parts.items() if p["fstype"]}
        assert blkid_value(nodes[parts["/"]["number"]], "TYPE") == "xfs"
        with mounted(nodes[parts["/"]["number"]], "xfs", "ro") as root:
            fstab = (root / "etc/fstab").read_text()
            resume = (root / "etc/initramfs-tools/conf.d/resume").read_text()
            kept = {
                path: hashlib.sha256((root / path.lstrip("/")).read_bytes()).hexdigest()
                for path in checksums
                if path.startswith(("/home/", "/usr/bin/"))
            }
        with mounted(nodes[parts["/boot"]["number"]], "ext4", "ro") as boot:
            grub_cfg = (boot / "grub/grub.cfg").read_text()
    entries = {line.split()[1]: line.split()[0] for line in active_lines(fstab)}
    assert entries == {"/": f"UUID={uuids['/']}", "/boot": f"UUID={uuids['/boot']}",
                       "none": f"UUID={uuids['swap']}"}, fstab  # fmt: skip
    assert "/dev/mapper/vg0" not in "\n".join(active_lines(fstab))
    assert active_lines(resume) == [f"RESUME=UUID={uuids['swap']}"]
    assert f"root=UUID={uuids['/']}" in grub_cfg and "/dev/mapper/vg0" not in grub_cfg
    assert kept == {p: h for p, h in checksums.items() if p.startswith(("/home/", "/usr/bin/"))}
    print(f"\nlvm source migration: {seconds:.0f} s to the result")
