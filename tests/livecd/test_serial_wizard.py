"""The live image under QEMU (TCG), migrated by a person at its serial
console: the wizard on ttyS0 (vt220, 80x24) reached through a socket and a
terminal, walked from the Welcome screen to Done with the keys a serial
terminal sends (F2, Tab, Enter, a pasted private key), the host key
confirmed against the fingerprint the target's console shows, the hostname
changed on the Fixups screen, the instance's name typed to confirm. A
second terminal attached after the wizard started gets the whole screen
with Ctrl-L.

The target is the harness's: a key-only sshd in a network namespace with a
loop-device disk; QEMU runs in the client namespace with restricted user
networking whose only way out is 10.0.2.100:22 to that sshd. Afterwards the
report is read back over the same console (the launcher's root shell), and
the target disk is checked against it on the host. Timings go to
``measurements.json`` beside the cached image. Root and slow.
"""

from __future__ import annotations

import base64
import io
import json
import re
import subprocess
import tarfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from p2v_tui.model.units import GiB, MiB
from tests.integration.harness import INSTANCE, Target, check_partition_table, image_hash, migration_target
from tests.integration.harness import target_tree as mounted_target
from tests.lab.disks import DiskSpec, PartSpec, attach_image, loop_disk, mounted, require
from tests.lab.qemu import tcg_argv
from tests.lab.serial_console import SerialConsole, serial_console
from tests.lab.serial_wizard import Outcome, Settings, TargetLogin, Timeouts, report_directory, walk_wizard
from tests.livecd.artifacts import LiveImage, live_image, record

pytestmark = [pytest.mark.root, pytest.mark.slow]

GUEST_SERVER = "10.0.2.100"
"""Where the guest finds the target's sshd (a QEMU guestfwd)."""
HOSTNAME = "serialbox.example.org"
SHORT_HOSTNAME = "serialbox"
WELCOME = r"Welcome: this live system's network"
FILES = ("etc/os-release", "home/user/notes.txt", "usr/bin/tool", "var/log/messages")
"""Compared byte for byte (and by mode) between source and target."""


def source_files(root: Path, uuid: str) -> None:
    """A small system: enough for the probe (fstab, os-release, hostname)
    and for the fixups (hostname, hosts); not bootable, no kernel."""
    for d in ("etc", "boot", "home/user", "var/log", "usr/bin"):
        (root / d).mkdir(parents=True, exist_ok=True)
    (root / "etc/fstab").write_text(f"UUID={uuid} / ext4 errors=remount-ro 0 1\n")
    (root / "etc/hostname").write_text("oldbox\n")
    (root / "etc/hosts").write_text("127.0.0.1 localhost\n127.0.1.1 oldbox\n")
    (root / "etc/os-release").write_text('PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nID=debian\n')
    (root / "home/user/notes.txt").write_text("kept\n" * 1000)
    (root / "usr/bin/tool").write_bytes(b"\x7fELF" + bytes(range(256)) * 1200)
    (root / "usr/bin/tool").chmod(0o755)
    (root / "var/log/messages").write_text("".join(f"line {i}\n" for i in range(20000)))
    (root / "usr/bin/tool-link").symlink_to("tool")


@pytest.fixture
def source_disk(tmp_path: Path) -> Path:
    """A 512 MiB msdos disk with one ext4 root filesystem, detached."""
    path = tmp_path / "source.img"
    spec = DiskSpec(512 * MiB, "msdos", (PartSpec(None, "ext4", label="srcroot", mountpoint="/"),))
    with loop_disk(spec, path) as disk, mounted(disk.partitions[0], "ext4") as root:
        uuid = subprocess.run(["blkid", "-p", "-o", "value", "-s", "UUID", disk.partitions[0]],
                              capture_output=True, text=True, check=True).stdout.strip()  # fmt: skip
        source_files(root, uuid)
    return path


def qemu_argv(image: LiveImage, source: Path, target: Target) -> list[str]:
    """The live system from the CD with its kernel given directly (no boot
    menu to wait through); the source disk writable, as a real one is."""
    forward = f"guestfwd=tcp:{GUEST_SERVER}:22-cmd:socat STDIO TCP:{target.host.host}:{target.host.port}"
    return [
        *tcg_argv(2048),
        "-kernel", str(image.vmlinuz),
        "-initrd", str(image.initrd),
        "-append", "boot=live console=tty0 console=ttyS0,115200n8",  # no p2v.answers=: the wizard
        "-cdrom", str(image.iso),  # the live medium
        "-drive", f"file={source},format=raw,if=virtio",  # /dev/vda: the source
        "-netdev", f"user,id=n0,restrict=on,{forward}",  # DHCP, and the target sshd only
        "-device", "virtio-net-pci,netdev=n0",
        "-monitor", "none",
    ]  # fmt: skip


def late_attach_then_ctrl_l(sc: SerialConsole) -> None:
    """A person who attaches to the console after the wizard drew its screen
    sees nothing of it (urwid sends only changes) until Ctrl-L redraws it."""
    sc.connect()
    time.sleep(3)
    assert not re.search(WELCOME, sc.screen()), sc.screen()
    sc.keys("C-l")
    screen = sc.wait_for(WELCOME, 30)
    assert screen.split("\n")[0].startswith(" >Network"), screen  # all of it, from the top line


def read_report(sc: SerialConsole, report: str, dest: Path) -> None:
    """Leave the wizard, open the launcher's root shell and print the
    report (plan, answers, diffs) as base64 between two markers that the
    typed command itself does not contain; read it back from the terminal
    (exact, unlike QEMU's log) and unpack it into ``dest``."""
    sc.keys("Enter")  # Quit on the Done screen
    sc.wait_for(r"p2v-live: the wizard ended \(exit code 0\)", 120)
    sc.wait_for(r"s then Enter: a root shell", 60)
    sc.type("s")
    sc.keys("Enter")
    sc.wait_for(r"(?m)^root@[^ ]*:[^ ]*# ?", 120)
    # clear first: the wizard's rows are still on the screen, under the shell's lines
    sc.type(f"clear; {{ printf '=%s=\\n' begin; tar -C {report} -cz plan.json answers.yaml"
            " diffs | base64 -w0; printf '\\n=%s=\\n' end; }")  # fmt: skip
    sc.keys("Enter")
    sc.wait_for(r"(?m)^=end=$", 300)
    text = sc.scrollback()
    blob = re.search(r"^=begin=\n(.*)\n=end=$", text, re.MULTILINE | re.DOTALL)
    assert blob is not None, text
    data = base64.b64decode(re.sub(r"\s+", "", blob.group(1)))
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
        for member in tar.getmembers():
            name = Path(member.name)
            extracted = tar.extractfile(member) if member.isfile() else None
            if extracted is None or name.is_absolute() or ".." in name.parts:
                continue  # the report holds plain files only
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            (dest / name).write_bytes(extracted.read())


def rsa_key(target: Target, directory: Path) -> str:
    """A 4096-bit RSA key that the target accepts: the largest key people
    commonly paste (49 lines, 3.4 KB, arriving at once through the guest's
    16-byte UART FIFO)."""
    directory.mkdir()
    key = directory / "id_rsa"
    argv = ["ssh-keygen", "-q", "-t", "rsa", "-b", "4096", "-N", "", "-C", "serial-paste", "-f", str(key)]
    subprocess.run(argv, check=True, capture_output=True)
    # sshd reads its authorized keys at each login
    with open(target.host.workdir / "authorized_keys", "a", encoding="ascii") as keys:
        keys.write(key.with_name("id_rsa.pub").read_text(encoding="ascii"))
    return key.read_text(encoding="ascii")


@pytest.fixture
def target(tmp_path: Path) -> Iterator[Target]:
    (tmp_path / "target").mkdir()
    with migration_target(tmp_path / "target", 1 * GiB) as t:
        yield t


def test_the_wizard_over_the_serial_console_migrates_into_the_target(
    source_disk: Path, target: Target, tmp_path: Path
) -> None:
    require("qemu-system-x86_64", "socat", "tmux", "sfdisk")
    image = live_image()
    before = image_hash(source_disk)
    key = rsa_key(target, tmp_path / "rsa")
    login = TargetLogin(host=GUEST_SERVER, fingerprint=target.host.host_key_fingerprint, key_text=key)
    argv = target.ns.client_argv(qemu_argv(image, source_disk, target))
    with serial_console(argv, tmp_path / "console") as sc:
        sc.wait_for(WELCOME, 900)
        to_wizard = time.monotonic() - sc.started
        sc.wait_for(r"10\.0\.2\.15/24", 120)  # the network state is read: the screen is still
        late_attach_then_ctrl_l(sc)
        # the built system has no kernel and no GRUB: the wizard starts from
        # the cluster's kernel (choosing it again is a no-op)
        settings = Settings(hostname=HOSTNAME, boot="the cluster's kernel (no bootloader)")
        outcome: Outcome = walk_wizard(sc, login, INSTANCE, settings=settings, timeouts=Timeouts())
        assert outcome.ok, outcome.done
        assert f"Migrated into {INSTANCE}" in outcome.done
        assert f"gnt-instance start {INSTANCE}" in outcome.done
        (tmp_path / "screens.txt").write_text("".join(f"== {k}\n{v}\n" for k, v in outcome.screens.items()))
        read_report(sc, report_directory(outcome.done), tmp_path / "report")
        # the launcher kept kernel messages off the consoles while the wizard ran
        sc.type("sed 's/^/console-loglevel=/;s/\\t.*//' /proc/sys/kernel/printk")
        sc.keys("Enter")
        level = sc.wait_for(r"(?m)^console-loglevel=(\d+)$", 60)
        assert re.search(r"(?m)^console-loglevel=1$", level), level
    # what the person saw on the way
    assert re.search(r"10\.0\.2\.15/24 \(DHCP\)", outcome.screens["Network"]), outcome.screens["Network"]
    assert (
        "(confirmed)" in outcome.screens["Target"]
        and target.host.host_key_fingerprint in outcome.screens["Target"]
    )
    console = (tmp_path / "console/serial.log").read_text(errors="replace")
    secret = key.splitlines()[1:-1]  # the pasted key's lines between BEGIN and END: never shown
    assert len(secret) > 40 and not [line for line in secret if line in console]
    # the pasted key's private copy is gone: the answers name it and say so
    answers = (tmp_path / "report/answers.yaml").read_text()
    assert "# target.identity: the private key was pasted into the wizard" in answers, answers
    assert re.search(r"(?m)^  identity: pasted-key-[0-9a-f]+$", answers), answers
    assert re.search(r"/dev/vda1\s.*ext4", outcome.screens["Source"]), outcome.screens["Source"]
    assert "hostname oldbox" in outcome.screens["Source"]
    # the target is what the report's plan says, with the source's files
    plan: dict[str, Any] = json.loads((tmp_path / "report/plan.json").read_text())
    check_partition_table(target.device, plan)
    with (
        mounted_target(target.device, plan) as dst,
        attach_image(source_disk) as disk,
        mounted(f"{disk.path}p1", "ext4", "ro,noload") as src,
    ):
        root = dst["/"]
        for name in FILES:
            assert (root / name).read_bytes() == (src / name).read_bytes(), name
            assert (root / name).stat().st_mode == (src / name).stat().st_mode, name
        assert (root / "usr/bin/tool-link").readlink() == Path("tool")
        assert (root / "etc/hostname").read_text().strip() in (HOSTNAME, SHORT_HOSTNAME)
        assert SHORT_HOSTNAME in (root / "etc/hosts").read_text()
        assert "oldbox" not in (root / "etc/hosts").read_text()
        fstab = (root / "etc/fstab").read_text()
        uuid = subprocess.run(["blkid", "-p", "-o", "value", "-s", "UUID", plan_root_device(plan)],
                              capture_output=True, text=True, check=True).stdout.strip()  # fmt: skip
        assert f"UUID={uuid} " in fstab, fstab
    assert image_hash(source_disk) == before  # the source was only read
    record(
        image,
        "serial-wizard",
        {"seconds_to_wizard": round(to_wizard, 1), "seconds_per_screen": outcome.seconds},
    )


def plan_root_device(plan: dict[str, Any]) -> str:
    (device,) = [p["device"] for d in plan["disks"] for p in d["partitions"] if p["mountpoint"] == "/"]
    return str(device)
