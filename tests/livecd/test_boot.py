"""The live image booted under QEMU (TCG) with a small source disk attached:

- the ISO as a CD, by BIOS and by UEFI (OVMF): the wizard's first screen on
  the serial console;
- the PXE files (``-kernel/-initrd``, ``fetch=`` of the squashfs over HTTP)
  with ``p2v.answers=`` at an HTTP URL: a headless dry run against a real
  target sshd prints the detected source disk and the plan;
- the ISO as a disk (what ``dd`` to a USB stick gives) with the answers on a
  second stick found by label: the live medium and the stick are not
  offered as sources, and the report is copied back to the stick.

QEMU runs inside the client end of a network-namespace pair; user
networking is restricted and only forwards 10.0.2.100:22 to the target sshd
at the other end and 10.0.2.100:8080 to an HTTP server on the namespace's
127.0.0.1. Figures go to ``measurements.json`` beside the cached image.
Root and slow."""

from __future__ import annotations

import contextlib
import hashlib
import re
import shutil
import subprocess
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from p2v_tui.model.units import GiB, MiB
from tests.integration.harness import Target, migration_target
from tests.lab.cache import REPO
from tests.lab.disks import DiskSpec, PartSpec, attach_image, loop_disk, mounted, require
from tests.lab.netns import stop_popen
from tests.lab.qemu import tcg_argv
from tests.livecd.artifacts import LiveImage, live_image, manifest_values, record

pytestmark = [pytest.mark.root, pytest.mark.slow]

WELCOME = "Welcome: this live system's network"
FAILED = ("Kernel panic", "(initramfs)", "Traceback (most recent call last)", "Unable to find a medium")
GUEST_SERVER = "10.0.2.100"
HTTP_PORT = 8080
OVMF_CODE = Path("/usr/share/OVMF/OVMF_CODE.fd")
OVMF_VARS = Path("/usr/share/OVMF/OVMF_VARS.fd")
STICK_LABEL = "P2VANSWERS"
SERIAL_ARGS = "console=tty0 console=ttyS0,115200n8"


@pytest.fixture(scope="module")
def image() -> LiveImage:
    require("qemu-system-x86_64", "mkfs.ext4", "socat")
    return live_image()


@pytest.fixture(scope="module")
def source_disk(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 512 MiB msdos disk with one ext4 root filesystem of a small system."""
    work = tmp_path_factory.mktemp("source")
    path = work / "source.img"
    spec = DiskSpec(512 * MiB, "msdos", (PartSpec(None, "ext4", label="srcroot", mountpoint="/"),))
    with loop_disk(spec, path) as disk, mounted(disk.partitions[0], "ext4") as root:
        uuid = subprocess.run(["blkid", "-p", "-o", "value", "-s", "UUID", disk.partitions[0]],
                              capture_output=True, text=True, check=True).stdout.strip()  # fmt: skip
        for d in ("etc", "boot", "home/user", "var/log", "usr/bin"):
            (root / d).mkdir(parents=True, exist_ok=True)
        (root / "etc/fstab").write_text(f"UUID={uuid} / ext4 errors=remount-ro 0 1\n")
        (root / "etc/hostname").write_text("oldbox\n")
        (root / "etc/os-release").write_text('PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nID=debian\n')
        (root / "home/user/notes.txt").write_text("kept\n" * 1000)
        (root / "usr/bin/tool").write_bytes(b"\x7fELF" + bytes(300_000))
    return path


@dataclass
class Guest:
    proc: subprocess.Popen[bytes]
    log: Path
    started: float

    def console(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def wait_for(self, text: str, timeout: float) -> float:
        """Seconds from start until ``text`` is on the serial console."""
        deadline = self.started + timeout
        while time.monotonic() < deadline:
            console = self.console()
            if text in console:
                return time.monotonic() - self.started
            failed = [m for m in FAILED if m in console]
            assert not failed, f"{failed} on the console:\n{console[-5000:]}"
            assert self.proc.poll() is None, f"QEMU ended ({self.proc.returncode}):\n{console[-5000:]}"
            time.sleep(1)
        pytest.fail(f"{text!r} not on the console within {timeout:.0f} s:\n{self.console()[-5000:]}")


def qemu_argv(log: Path, boot: Sequence[str], disks: Sequence[str], net: Sequence[str]) -> list[str]:
    return [
        *tcg_argv(2048),
        *boot,
        *(a for d in disks for a in ("-drive", d)),
        *net,
        "-serial", f"file:{log}",
        "-monitor", "none",
    ]  # fmt: skip


@contextlib.contextmanager
def running(argv: list[str], log: Path) -> Iterator[Guest]:
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        yield Guest(proc, log, time.monotonic())
    finally:
        stop_popen(proc, grace=10)


def test_manifest_records_pins_firmware_and_sizes(image: LiveImage) -> None:
    packages = dict(p.split(" ", 1) for p in manifest_values(image, "package"))
    pins = {"python3-urwid": "2.1.2", "python3-paramiko": "2.12.0", "python3-psutil": "5.9.4",
            "python3-parted": "3.12.0", "python3-yaml": "6.0", "python3-jsonschema": "4.10.3"}  # fmt: skip
    for package, version in pins.items():
        assert re.sub(r"-[^-]*$", "", packages[package]) == version, (package, packages[package])
    needed = ("live-boot", "linux-image-amd64", "rsync", "openssh-client", "lvm2", "mdadm", "btrfs-progs",
              "xfsprogs", "dosfstools", "firmware-linux-free")  # fmt: skip
    for package in needed:
        assert package in packages, package
    assert not any(p.startswith("python3-pip") or p == "openssh-server" for p in packages)
    sizes = {s.split()[1]: int(s.split()[0]) for s in manifest_values(image, "size")}
    assert set(sizes) == {"p2v-live.iso", "vmlinuz", "initrd.img", "filesystem.squashfs"}
    assert sizes["p2v-live.iso"] > sizes["filesystem.squashfs"] + sizes["initrd.img"]
    record(image, "build", {
        "seconds_total": int(manifest_values(image, "seconds-total")[0]),
        "sizes_bytes": sizes,
        "firmware": manifest_values(image, "firmware")[0].split(),
        "firmware_not_available": manifest_values(image, "firmware-not-available")[0].split(),
    })  # fmt: skip


def test_no_mirror_and_no_sources_in_the_image(image: LiveImage, tmp_path: Path) -> None:
    out = tmp_path / "etc-apt"
    subprocess.run(["unsquashfs", "-q", "-n", "-d", str(out), str(image.squashfs), "/etc/apt", "/usr/local"],
                   check=True, capture_output=True)  # fmt: skip
    listing = (out / "etc/apt/sources.list").read_text()
    assert all(line.startswith("#") for line in listing.splitlines()), listing
    assert not list((out / "etc/apt/sources.list.d").glob("*"))
    assert (out / "usr/local/bin/p2v").is_file() and (out / "usr/local/sbin/p2v-live").is_file()


@pytest.mark.parametrize("firmware", ["bios", "uefi"])
def test_iso_boots_to_the_wizard_on_the_serial_console(
    image: LiveImage, source_disk: Path, tmp_path: Path, firmware: str
) -> None:
    # from the CD: the source disk's MBR has a signature but no boot code
    boot = ["-cdrom", str(image.iso), "-boot", "order=d"]
    if firmware == "uefi":
        if not OVMF_CODE.exists():
            pytest.skip("needs ovmf for a UEFI boot")
        shutil.copy(OVMF_VARS, tmp_path / "vars.fd")
        boot += ["-drive", f"if=pflash,format=raw,readonly=on,file={OVMF_CODE}",
                 "-drive", f"if=pflash,format=raw,file={tmp_path / 'vars.fd'}"]  # fmt: skip
    log = tmp_path / "serial.log"
    argv = qemu_argv(log, boot, [f"file={source_disk},format=raw,if=virtio,snapshot=on"], ["-nic", "none"])
    with running(argv, log) as guest:
        seconds = guest.wait_for(WELCOME, timeout=400)
        assert "p2v: migrate this machine" in guest.console()  # the GRUB menu, on serial too
    record(image, f"iso-{firmware}", {"seconds_to_wizard": round(seconds, 1)})


@contextlib.contextmanager
def http_server(target: Target, directory: Path, port: int) -> Iterator[None]:
    argv = target.ns.client_argv([str(REPO / ".venv/bin/python"), "-m", "http.server", "--bind", "127.0.0.1",
                                  "--directory", str(directory), str(port)])  # fmt: skip
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        probe = target.ns.client_argv(["bash", "-c", f"exec 3<>/dev/tcp/127.0.0.1/{port}"])
        for _ in range(100):
            if subprocess.run(probe, capture_output=True).returncode == 0:
                break
            time.sleep(0.1)
        yield
    finally:
        stop_popen(proc)


def guest_net(target: Target) -> list[str]:
    """Restricted user networking: the guest reaches only the target sshd and
    the HTTP server, both inside the test's own namespaces."""
    forwards = [
        f"guestfwd=tcp:{GUEST_SERVER}:22-cmd:socat STDIO TCP:{target.host.host}:{target.host.port}",
        f"guestfwd=tcp:{GUEST_SERVER}:{HTTP_PORT}-cmd:socat STDIO TCP:127.0.0.1:{HTTP_PORT}",
    ]
    return ["-netdev", ",".join(["user,id=n0,restrict=on", *forwards]), "-device", "virtio-net-pci,netdev=n0"]


def answers(target: Target) -> str:
    return yaml.safe_dump({
        "version": 1,
        "target": {"host": GUEST_SERVER, "port": 22, "user": "root", "identity": "id_ed25519",
                   "host_key": target.host.host_key_fingerprint, "connect_timeout": 60},
        "boot": "cluster",  # the built source has no kernel and no GRUB
        "after": "none",
    })  # fmt: skip


def source_section(console: str) -> list[str]:
    """The disk lines of the 'Source machine' description."""
    text = console.split("Source machine", 1)[1]
    return re.findall(r"^  (/dev/\S+ .*)$", text.split("Filesystems:", 1)[0], re.MULTILINE)


def test_pxe_boot_runs_the_answers_from_http_as_a_dry_run(
    image: LiveImage, source_disk: Path, tmp_path: Path
) -> None:
    (tmp_path / "target").mkdir()
    with migration_target(tmp_path / "target", 1 * GiB) as target:
        served = tmp_path / "served"
        served.mkdir()
        (served / "filesystem.squashfs").symlink_to(image.squashfs)
        (served / "answers.yaml").write_text(answers(target))
        shutil.copy(target.key, served / "id_ed25519")
        url = f"http://{GUEST_SERVER}:{HTTP_PORT}"
        append = (f"boot=live fetch={url}/filesystem.squashfs {SERIAL_ARGS} "
                  f"p2v.answers={url}/answers.yaml p2v.dryrun=1")  # fmt: skip
        boot = ["-kernel", str(image.vmlinuz), "-initrd", str(image.initrd), "-append", append]
        log = tmp_path / "serial.log"
        argv = target.ns.client_argv(
            qemu_argv(log, boot, [f"file={source_disk},format=raw,if=virtio,snapshot=on"], guest_net(target))
        )
        with http_server(target, served, HTTP_PORT), running(argv, log) as guest:
            guest.wait_for("p2v-live: finished with exit code", timeout=600)
            seconds = time.monotonic() - guest.started
            console = guest.console()
    assert "p2v-live: dry run done" in console, console[-5000:]
    disks = source_section(console)
    assert len(disks) == 1 and disks[0].startswith("/dev/vda "), disks  # the test disk, nothing else
    assert "/dev/vda1" in console and "ext4" in console
    assert re.search(r"Target disk /dev/loop\d+ \(1\.00 GiB\), msdos table - ERASED", console), console[
        -4000:
    ]
    record(image, "pxe-headless-dry-run", {"seconds_to_result": round(seconds, 1)})


def test_usb_stick_boot_with_answers_by_label_keeps_the_media_out(
    image: LiveImage, source_disk: Path, tmp_path: Path
) -> None:
    (tmp_path / "target").mkdir()
    with migration_target(tmp_path / "target", 1 * GiB) as target:
        stick = tmp_path / "stick.img"
        spec = DiskSpec(64 * MiB, None, (PartSpec(None, "ext4", label=STICK_LABEL),))
        with loop_disk(spec, stick) as disk, mounted(disk.partitions[0], "ext4") as root:
            (root / "answers.yaml").write_text(answers(target))
            shutil.copy(target.key, root / "id_ed25519")
        append = f"boot=live {SERIAL_ARGS} p2v.answers=LABEL={STICK_LABEL}:/answers.yaml p2v.dryrun=1"
        boot = ["-kernel", str(image.vmlinuz), "-initrd", str(image.initrd), "-append", append]
        drives = [
            f"file={source_disk},format=raw,if=virtio,snapshot=on",  # /dev/vda: the source
            f"file={image.iso},format=raw,if=virtio,readonly=on",  # /dev/vdb: the ISO written to a stick
            f"file={stick},format=raw,if=virtio",  # /dev/vdc: the answers stick (gets the report)
        ]
        log = tmp_path / "serial.log"
        argv = target.ns.client_argv(qemu_argv(log, boot, drives, guest_net(target)))
        with running(argv, log) as guest:
            guest.wait_for("p2v-live: finished with exit code", timeout=600)
            console = guest.console()
    assert "p2v-live: dry run done" in console, console[-5000:]
    assert "report copied to the stick" in console, console[-3000:]
    disks = source_section(console)
    offered = [d for d in disks if "not offered" not in d]
    assert len(offered) == 1 and offered[0].startswith("/dev/vda "), disks
    assert any(d.startswith("/dev/vdb ") and "holds the live system" in d for d in disks), disks
    assert any(d.startswith("/dev/vdc ") and "in use by the running system" in d for d in disks), disks
    with attach_image(stick) as disk, mounted(disk.path, "ext4", "ro") as root:
        reports = list((root / "p2v-reports").glob("p2v-report-*"))
        assert len(reports) == 1, reports
        assert (reports[0] / "plan.txt").is_file() and (reports[0] / "machine.json").is_file()


def test_a_source_whose_journal_needs_recovery_is_not_written_while_live_boot_looks_for_its_medium(
    image: LiveImage, source_disk: Path, tmp_path: Path
) -> None:
    """The live system is found on a stick listed after the source disk, so
    live-boot mounts the source's filesystem while it searches. A plain
    read-only mount of an ext4 whose journal needs recovery replays it (a
    write); the source must come out bit for bit as it went in."""
    require("debugfs", "sha256sum")
    source = tmp_path / "dirty.img"
    shutil.copy(source_disk, source)
    partition = f"{source}?offset={MiB}"  # the msdos partition starts at 1 MiB
    subprocess.run(
        ["debugfs", "-w", "-R", "feature needs_recovery", partition], check=True, capture_output=True
    )
    before = hashlib.sha256(source.read_bytes()).hexdigest()
    boot = [
        "-kernel",
        str(image.vmlinuz),
        "-initrd",
        str(image.initrd),
        "-append",
        f"boot=live {SERIAL_ARGS}",
    ]
    drives = [
        f"file={source},format=raw,if=virtio",  # /dev/vda: the source, writable, scanned first
        f"file={image.iso},format=raw,if=virtio,readonly=on",  # /dev/vdb: the ISO written to a stick
    ]
    log = tmp_path / "serial.log"
    with running(qemu_argv(log, boot, drives, ["-nic", "none"]), log) as guest:
        guest.wait_for(WELCOME, timeout=600)
    assert hashlib.sha256(source.read_bytes()).hexdigest() == before
    features = subprocess.run(
        ["dumpe2fs", "-h", partition], capture_output=True, text=True, check=True
    ).stdout
    assert "needs_recovery" in features
