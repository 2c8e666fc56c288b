"""The end-to-end lab: a physical server migrated by the live image into a real
Ganeti instance that boots and works (``make lab``, tests/e2e/test_e2e.py).

Everything is real: the source disk is a Debian server installed from
packages and booted once (tests/e2e/oldserver.py); the live image, the
bootstrap OS and its ramboot initrd are the project's own builds; the
cluster is Ganeti 3.0 in network namespaces of its own (tests/lab/ganeti.py)
with the OS definition installed by ``osdef/install --cluster``. The source
machine is a QEMU guest on the cluster's bridge (its NIC is a tap inside the
lab's network namespace), getting its live address from a DHCP server on
that bridge, as on a deployment network. No packet leaves the lab's
namespace: its subnet is TEST-NET-2 with no route out.

One migration (:func:`migrate`):

1. ``gnt-instance add -o p2v-target+default -O ssh_key=...`` with a disk
   smaller than the source's, started with the ramboot initrd and 256 MiB;
   the host key fingerprint is read from the OS log, as a user reads it from
   the console;
2. the source boots the live image; p2v runs headless from
   ``p2v.answers=LABEL=...`` on a USB stick (the report comes back on the
   stick), or a person's keystrokes drive the wizard on the serial console;
3. the bootstrap powers off; the instance is started normally (its own GRUB)
   or with the cluster's kernel (``-H kernel_path=...``);
4. the checks of :func:`check_migrated`.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import re
import shlex
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import yaml

from tests.integration.harness import apply_report_diff, changed_files
from tests.lab.disks import DiskSpec, PartSpec, attach_image, image_sha256, loop_disk, mounted
from tests.lab.ganeti import GanetiLab
from tests.lab.ganeti_proc import LabProcess, wait_for
from tests.lab.p2v_target import BOOTSTRAP_HV, add_bootstrap_instance, keypair
from tests.lab.qemu import tcg_argv
from tests.lab.serial_console import SerialConsole, serial_args, socat_argv
from tests.lab.serial_wizard import Settings, TargetLogin, report_directory, walk_wizard
from tests.lab.tmux import terminal
from tests.livecd.artifacts import LiveImage

STICK_LABEL = "P2VANSWERS"
TAP_PREFIX = "p2vsrc"
DHCP_FIRST, DHCP_LAST = 100, 120
BOOTSTRAP_TIMEOUT = 300.0
MIGRATION_TIMEOUT = 2400.0
LOGIN_TIMEOUT = 420.0
CHECKED_DIRS = ("/etc", "/home", "/usr/bin")
LIVE_APPEND = "boot=live quiet console=tty0 console=ttyS0,115200n8"
"""As the ISO's first GRUB entry boots it (quiet: kernel messages would
scroll the wizard on the serial console)."""
LIVE_BOOT_TIMEOUT = 900.0
BOOT_LABELS = {
    "own": "own kernel via its bootloader (GRUB)",
    "cluster": "the cluster's kernel (no bootloader)",
}
"""The wizard's Boot choices (p2v_tui/tui/screens/fixups.py BOOT_MODES)."""
NODE_KERNELS = "/srv/ganeti/kernels"
"""Where the admin put the kernel for the cluster-kernel variant (lab's /srv)."""


# --- timings ------------------------------------------------------------------


@dataclass
class Clock:
    """Seconds per phase, in the order the phases ended (runs at the same
    time overlap: the total is the wall clock's, not the phases' sum)."""

    phases: list[tuple[str, float]] = field(default_factory=list)
    started: float = field(default_factory=time.monotonic)

    @contextlib.contextmanager
    def phase(self, name: str) -> Iterator[None]:
        started = time.monotonic()
        try:
            yield
        finally:
            self.add(name, time.monotonic() - started)

    def add(self, name: str, seconds: float) -> None:
        """A phase timed elsewhere (e.g. seen from the outside while p2v runs)."""
        self.phases.append((name, seconds))
        print(f"[lab] {name}: {seconds:.0f} s", flush=True)

    def table(self) -> str:
        width = max((len(name) for name, _ in self.phases), default=10)
        lines = [f"  {name:<{width}}  {seconds:7.1f} s" for name, seconds in self.phases]
        lines.append(f"  {'total (wall clock)':<{width}}  {time.monotonic() - self.started:7.1f} s")
        return "\n".join(lines)


# --- what a run is --------------------------------------------------------------


@dataclass(frozen=True)
class SourceMachine:
    """A built source disk and what the lab knows about it from its build."""

    image: Path
    root_key: Path
    host_key: str
    """base64 of the server's ed25519 host key (its own, kept by the migration)."""
    hostname: str
    mac: str
    checksums: Mapping[str, str]
    """sha256 of every regular file under CHECKED_DIRS, taken after its proof boot."""
    disk_bus: str = "ide"


@dataclass(frozen=True)
class Migration:
    label: str
    instance: str
    address_index: int
    disk: str
    """The instance's disk size (``gnt-instance add -s``): smaller than the source's."""
    boot: Literal["own", "cluster"] = "own"
    memory: str = "512M"
    """Memory of the migrated instance (the bootstrap gets 256 MiB)."""


@dataclass
class Result:
    migration: Migration
    console: str
    report: Path
    changed: dict[str, str]
    checks: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class LiveRun:
    """One migration's state while the source runs the live image: what a
    driver has at hand."""

    lab: GanetiLab
    source: SourceMachine
    migration: Migration
    work: Path
    address: str
    """The bootstrap's (and then the migrated instance's) address."""
    fingerprint: str
    """The bootstrap's host key, ``256 SHA256:...``, as its console shows it
    (empty when p2v creates the instance: p2v generates that key)."""

    @property
    def disk(self) -> Path:
        """The copy of the source disk this run migrates."""
        return self.work / "source.img"

    @property
    def key(self) -> Path:
        """The user's private key (its public half is the instance's ssh_key)."""
        return self.work / "id_ed25519"

    @property
    def stick(self) -> Path:
        return self.work / "stick.img"

    @property
    def serial_log(self) -> Path:
        return self.work / "live-serial.log"

    @property
    def tap(self) -> str:
        """The source NIC's tap on the lab bridge (one per run: runs may overlap)."""
        return f"{TAP_PREFIX}{self.migration.address_index}"

    @property
    def serial_socket(self) -> Path:
        return self.work / "live-serial.sock"


Driver = Callable[[LiveRun, LabProcess], int]
"""Runs p2v on the live system (the guest: headless or through the wizard)
and returns its exit code; a wizard driver leaves the report on the stick."""


# --- the deployment network ------------------------------------------------------


def udhcpd_config(lab: GanetiLab, leases: Path, pidfile: Path) -> str:
    base = lab.subnet.split("/")[0].rsplit(".", 1)[0]
    return "\n".join([
        f"start {base}.{DHCP_FIRST}",
        f"end {base}.{DHCP_LAST}",
        f"interface {lab.bridge}",  # only the lab's bridge
        f"lease_file {leases}",
        f"pidfile {pidfile}",
        "option subnet 255.255.255.0",
        "option lease 3600",
    ]) + "\n"  # fmt: skip


@contextlib.contextmanager
def deployment_network(lab: GanetiLab, work: Path) -> Iterator[None]:
    """A DHCP server on the lab bridge (busybox udhcpd, in the lab's namespaces)."""
    work.mkdir(parents=True, exist_ok=True)
    config = work / "udhcpd.conf"
    (work / "udhcpd.leases").touch()
    config.write_text(udhcpd_config(lab, work / "udhcpd.leases", work / "udhcpd.pid"))
    proc = lab.spawn(["busybox", "udhcpd", "-f", str(config)], work / "udhcpd.log")
    try:
        yield
    finally:
        proc.stop()


@contextlib.contextmanager
def tap_on_bridge(lab: GanetiLab, tap: str) -> Iterator[str]:
    lab.run(["ip", "tuntap", "add", "dev", tap, "mode", "tap"])
    try:
        lab.run(["ip", "link", "set", tap, "master", lab.bridge, "up"])
        yield tap
    finally:
        lab.run(["ip", "link", "del", tap], check=False)


# --- the source machine on the live image ---------------------------------------


def live_qemu_argv(image: LiveImage, run: LiveRun, append: str) -> list[str]:
    return [
        *tcg_argv(2048),
        "-kernel", str(image.vmlinuz),  # as PXE would: the live kernel ...
        "-initrd", str(image.initrd),
        "-append", append,
        "-cdrom", str(image.iso),  # ... with the live medium in the CD drive
        "-drive", f"file={run.disk},format=raw,if={run.source.disk_bus}",  # the server's own disk
        "-device", "qemu-xhci,id=usb",
        "-drive", f"file={run.stick},format=raw,if=none,id=stick",
        "-device", "usb-storage,bus=usb.0,drive=stick",  # the answers stick
        "-netdev", f"tap,id=n0,ifname={run.tap},script=no,downscript=no",  # on the lab bridge
        "-device", f"e1000,netdev=n0,mac={run.source.mac}",  # the server's NIC
        *serial_args(run.serial_socket, run.serial_log),  # ttyS0: logged, and typed into by the wizard run
        "-monitor", "none",
    ]  # fmt: skip


def answers_for(run: LiveRun) -> str:
    """The headless run's answers: the bootstrap pinned by the console's
    fingerprint, the instance's address on the source's eth0."""
    lab, address, prefix = run.lab, run.address, run.lab.prefix_len
    return yaml.safe_dump({
        "version": 1,
        "confirm": True,
        "target": {"host": address, "user": "root", "identity": "id_ed25519",
                   "host_key": run.fingerprint.split()[1], "connect_timeout": 120},
        "network": {"interface": "eth0", "address": f"{address}/{prefix}", "gateway": lab.node_address},
        "boot": run.migration.boot,
        "after": "poweroff",
    }, sort_keys=False)  # fmt: skip


def make_stick(path: Path, files: Mapping[str, bytes]) -> None:
    spec = DiskSpec(64 * 1024**2, None, (PartSpec(None, "ext4", label=STICK_LABEL),))
    with loop_disk(spec, path) as disk, mounted(disk.partitions[0], "ext4") as root:
        for name, data in files.items():
            (root / name).write_bytes(data)
            (root / name).chmod(0o600)


def stick_report(stick: Path, into: Path) -> Path:
    """The report p2v-live copied back to the stick."""
    with attach_image(stick) as disk, mounted(disk.path, "ext4", "ro") as root:
        reports = sorted((root / "p2v-reports").glob("p2v-report-*"))
        if len(reports) != 1:
            raise AssertionError(f"expected one report on the stick, found {reports}")
        shutil.copytree(reports[0], into)
    return into


def headless(run: LiveRun, guest: LabProcess) -> int:
    """p2v-live runs the stick's answers; their exit code, from the console."""
    del guest  # followed through its console log
    found = wait_for(r"p2v-live: finished with exit code (\d+)", run.serial_log, MIGRATION_TIMEOUT)
    wait_for(r"p2v-live: (report copied to the stick|the report was not copied)", run.serial_log, 120)
    return int(found.group(1))


@contextlib.contextmanager
def attached_console(run: LiveRun, guest: LabProcess) -> Iterator[SerialConsole]:
    """An 80x24 terminal on the source's serial console, as a person at it."""
    deadline = time.monotonic() + 60
    while not run.serial_socket.is_socket():
        assert guest.alive() and time.monotonic() < deadline, "QEMU did not open its serial socket"
        time.sleep(0.2)
    with contextlib.ExitStack() as connection:
        screen = connection.enter_context(terminal(socat_argv(run.serial_socket), run.work / "terminal-0"))
        log, socket = run.serial_log, run.serial_socket
        yield SerialConsole(guest.popen, screen, log, time.monotonic(), socket, run.work, connection)


def wizard(run: LiveRun, guest: LabProcess) -> int:
    """A person on the serial console: the wizard from Welcome to Done
    (the key pasted, the host key compared with the bootstrap's console,
    the instance's address and the boot mode chosen on the Fixups screen),
    then the launcher's root shell to copy the report onto the stick."""
    prefix = run.lab.prefix_len
    login = TargetLogin(run.address, run.fingerprint.split()[1], key_text=run.key.read_text())
    settings = Settings(static=(f"{run.address}/{prefix}", run.lab.node_address),
                        boot=BOOT_LABELS[run.migration.boot])  # fmt: skip
    with attached_console(run, guest) as console:
        console.wait_for(r"Welcome: this live system's network", LIVE_BOOT_TIMEOUT)
        outcome = walk_wizard(console, login, run.migration.instance, settings=settings)
        (run.work / "wizard-done.txt").write_text(outcome.done)
        report = report_directory(outcome.done)
        console.keys("Enter")  # Quit on the Done screen
        ended = console.wait_for(r"p2v-live: the wizard ended \(exit code \d+\)", 120)
        console.wait_for(r"s then Enter: a root shell", 60)
        console.type("s")
        console.keys("Enter")
        console.wait_for(r"(?m)^root@[^ ]*:[^ ]*# ?", 120)
        copy = (
            f"mount LABEL={STICK_LABEL} /mnt && mkdir -p /mnt/p2v-reports && cp -r {report} /mnt/p2v-reports/"
        )
        console.type(f"clear; {copy} && umount /mnt && printf '%s-%s\\n' REPORT COPIED")
        console.keys("Enter")
        console.wait_for(r"(?m)^REPORT-COPIED$", 120)
    code = re.search(r"exit code (\d+)", ended)
    return int(code.group(1)) if code and outcome.ok else 1


# --- one migration -------------------------------------------------------------------


def instance_mac(lab: GanetiLab, name: str) -> str:
    return lab.gnt("gnt-instance", "list", "--no-headers", "-o", "nic.mac/0", name).stdout.strip()


@contextlib.contextmanager
def keep(log: Path, work: Path) -> Iterator[None]:
    """A copy of an instance's console log in ``work`` (the lab's goes with it)."""
    try:
        yield
    finally:
        if log.exists():
            shutil.copy(log, work / f"console-{len(list(work.glob('console-*')))}-{log.name}")


def wait_stopped(lab: GanetiLab, name: str, timeout: float) -> str:
    """The bootstrap powers itself off at the end (``after: poweroff``):
    Ganeti sees the instance down, or its QEMU is gone or shut down."""
    deadline = time.monotonic() + timeout
    state = status = ""
    while time.monotonic() < deadline:
        state = lab.gnt("gnt-instance", "list", "--no-headers", "-o", "oper_state", name).stdout.strip()
        if state in ("N", "False", "no", "-"):
            return f"Ganeti: oper_state {state}"
        try:
            status = lab.monitor(name, "info status")
        except RuntimeError:
            return "QEMU has exited"
        if "shutdown" in status:
            return f"QEMU: {status.strip()}"
        time.sleep(2)
    raise AssertionError(f"{name} still running {timeout:.0f} s after the migration: {state!r}, {status!r}")


@dataclass
class E2ELab:
    """A running cluster with the OS definition installed, the built live
    image, and the phases' clock."""

    lab: GanetiLab
    live: LiveImage
    clock: Clock
    work: Path
    cluster_kernel: Mapping[str, str]
    """``-H`` for the cluster-kernel variant (kernel_path, initrd_path)."""

    def migrate(self, source: SourceMachine, migration: Migration, driver: Driver | None = None) -> Result:
        """Migrate a copy of ``source`` into a new instance, boot it, check
        it; the instance is removed at the end."""
        lab, clock, label = self.lab, self.clock, migration.label
        work = self.work / label
        work.mkdir(parents=True)
        subprocess.run(["cp", "--sparse=always", str(source.image), str(work / "source.img")], check=True)
        source_hash = image_sha256(work / "source.img")
        public_key = (keypair(work / "id_ed25519").with_suffix(".pub")).read_text().strip()
        address = lab.address(migration.address_index)
        with clock.phase(f"{label}: create the bootstrap instance"):
            fingerprint = add_bootstrap_instance(lab, migration.instance, public_key=public_key,
                                                 address=address, disk=migration.disk)  # fmt: skip
        run = LiveRun(lab, source, migration, work, address, fingerprint)
        try:
            with (
                lab.boot(migration.instance, BOOTSTRAP_HV) as bootstrap_console,
                keep(bootstrap_console, work),
            ):
                with clock.phase(f"{label}: bootstrap boots (ramboot, 256 MiB)"):
                    wait_for(r"login: ", bootstrap_console, BOOTSTRAP_TIMEOUT)
                    text = bootstrap_console.read_text(errors="replace")
                    shown = set(re.findall(r"p2v-target host key: (\d+ SHA256:\S+) \(ED25519\)", text))
                    assert shown == {fingerprint}, (shown, fingerprint)
                report = self.live_run(run, driver or headless)
                with clock.phase(f"{label}: bootstrap powers off"):
                    print(f"[lab] {label}: bootstrap off ({wait_stopped(lab, migration.instance, 240)})")
            assert image_sha256(run.disk) == source_hash, "the source disk was written"
            lab.gnt("gnt-instance", "shutdown", "--timeout=0", migration.instance)
            lab.gnt("gnt-instance", "modify", "-B", f"memory={migration.memory}", migration.instance)
            hv = dict(self.cluster_kernel) if migration.boot == "cluster" else {}
            result = Result(migration, "", report, changed_files(report))
            with lab.boot(migration.instance, hv) as console, keep(console, work):
                with clock.phase(f"{label}: migrated instance boots to login"):
                    short = migration.instance.split(".")[0]
                    wait_for(rf"{re.escape(short)} login: ", console, LOGIN_TIMEOUT)
                with clock.phase(f"{label}: checks"):
                    result.console = console.read_text(errors="replace")
                    check_migrated(run, result)
            return result
        finally:
            lab.remove_instance(migration.instance)

    def live_run(self, run: LiveRun, driver: Driver, stick: Mapping[str, bytes] | None = None) -> Path:
        """Boot the source on the live image, let ``driver`` run p2v; the
        report. A headless run's stick holds the key, ``answers.yaml``
        (default: :func:`answers_for`) and the other files of ``stick``."""
        files = {"id_ed25519": run.key.read_bytes()}
        append = LIVE_APPEND
        kind = "headless" if driver is headless else "wizard on the serial console"
        if driver is headless:
            files.update(stick or {"answers.yaml": answers_for(run).encode()})
            append += f" p2v.answers=LABEL={STICK_LABEL}:/answers.yaml"
        make_stick(run.stick, files)
        argv = live_qemu_argv(self.live, run, append)
        with (
            self.clock.phase(f"{run.migration.label}: live boot and migration ({kind})"),
            tap_on_bridge(self.lab, run.tap),
        ):
            guest = self.lab.spawn(argv, run.work / "live-qemu.log")
            try:
                code = driver(run, guest)
                console = run.serial_log.read_text(errors="replace")
                assert code == 0, f"p2v ended with exit code {code}:\n{console[-6000:]}"
            finally:
                guest.stop()
        # headless: p2v-live copied the report to the stick; a wizard driver
        # copies it there from the live system's shell, as a person would
        return stick_report(run.stick, run.work / "report")


# --- checks on the migrated instance -----------------------------------------------


def ssh_argv(source: SourceMachine, known_hosts: Path, address: str, command: str) -> list[str]:
    return [
        "ssh",
        "-i", str(source.root_key),  # the source machine's own credentials
        "-o", "IdentitiesOnly=yes",
        "-o", "BatchMode=yes",  # never prompt
        "-o", f"UserKnownHostsFile={known_hosts}",
        "-o", "StrictHostKeyChecking=yes",  # the server's own host key, kept by the migration
        "-o", "ConnectTimeout=15",
        f"root@{address}",
        command,
    ]  # fmt: skip


def check_migrated(run: LiveRun, result: Result) -> None:
    """What the issue lists, on the running instance, over SSH with the
    source's own credentials."""
    lab, source, migration, address = run.lab, run.source, run.migration, run.address
    known_hosts = run.work / "known_hosts"
    known_hosts.write_text(f"{address} ssh-ed25519 {source.host_key}\n")

    def remote(command: str) -> str:
        return lab.run(ssh_argv(source, known_hosts, address, command), timeout=300).stdout

    checks = result.checks
    hostname = remote("hostname").strip()
    fqdn = remote("hostname --fqdn").strip()
    assert migration.instance in (hostname, fqdn), (hostname, fqdn)
    checks.append(f"SSH as root with the source's key and host key; hostname {hostname} ({fqdn})")

    mac = instance_mac(lab, migration.instance)
    links = json.loads(remote("ip -j address show"))
    nic = next((link for link in links if link.get("address") == mac), None)
    assert nic is not None, f"no interface with the instance's MAC {mac}: {links}"
    assert "UP" in nic["flags"], nic
    addresses = {f"{a['local']}/{a['prefixlen']}" for a in nic.get("addr_info", [])}
    prefix = lab.prefix_len
    assert f"{address}/{prefix}" in addresses, addresses
    checks.append(f"{nic['ifname']} up with {mac} and {address}/{prefix}")

    check_fstab_mounted(remote, checks)
    check_files(remote, run, result)
    console = result.console
    assert "Kernel panic" not in console and "(initramfs)" not in console
    checks.append(
        f"login prompt on the serial console ({'own GRUB' if migration.boot == 'own' else 'cluster kernel'})"
    )


def check_fstab_mounted(remote: Callable[[str], str], checks: list[str]) -> None:
    """Every fstab entry is mounted (swap: active), by the device fstab names."""
    fstab = remote("findmnt --fstab --json --evaluate --output TARGET,SOURCE,FSTYPE")
    mounts = json.loads(remote("findmnt --json --list --output TARGET,SOURCE,FSTYPE"))["filesystems"]
    mounted_at = {m["target"]: m["source"] for m in mounts}
    swaps = remote("swapon --show=NAME --noheadings --raw").split()
    seen = []
    for entry in json.loads(fstab)["filesystems"]:
        target, device, fstype = entry["target"], entry["source"], entry["fstype"]
        if fstype == "swap":
            real = remote(f"readlink -f {device}").strip()
            assert real in swaps, f"swap {device} ({real}) is not active: {swaps}"
        elif fstype not in ("proc", "sysfs", "tmpfs", "devpts"):
            assert target in mounted_at, f"{target} ({device}) is not mounted"
            assert mounted_at[target] == device, (target, mounted_at[target], device)
        seen.append(f"{target}={device}")
    checks.append("fstab all mounted: " + ", ".join(seen))


def remote_checksums(remote: Callable[[str], str]) -> dict[str, str]:
    out = remote(f"find {' '.join(CHECKED_DIRS)} -type f -print0 | xargs -0 sha256sum --zero")
    sums = {}
    for record in out.split("\0"):
        if record:
            digest, _, path = record.partition("  ")
            sums[path] = digest
    return sums


def check_files(remote: Callable[[str], str], run: LiveRun, result: Result) -> None:
    """Every file under CHECKED_DIRS is the source's, except the ones the
    report's diffs changed, which are the source's with the diff applied."""
    source = run.source
    target = remote_checksums(remote)
    under = tuple(d + "/" for d in CHECKED_DIRS)
    changed = {path: diff for path, diff in result.changed.items() if path.startswith(under)}
    # the files among them: a changed link is not listed by find -type f
    edited = {path: diff for path, diff in changed.items() if "# symlink " not in diff}
    missing = sorted(set(source.checksums) - set(target) - set(changed))
    differ = sorted(p for p in source.checksums if p in target and p not in changed
                    and target[p] != source.checksums[p])  # fmt: skip
    extra = sorted(set(target) - set(source.checksums) - set(changed))
    assert not missing and not differ and not extra, (
        f"missing on the instance: {missing}\ndiffer from the source: {differ}\nnot on the source: {extra}"
    )
    for path, diff in edited.items():
        current = base64.b64decode(remote(f"base64 -w0 {shlex.quote(path)}"))
        assert hashlib.sha256(current).hexdigest() == target[path]
        before = apply_report_diff(path, current, diff, run.work, reverse=True)
        was = hashlib.sha256(before).hexdigest() if before is not None else None
        assert was == source.checksums.get(path), (
            f"{path}: the instance's file is not the source's + its diff"
        )
    result.checks.append(
        f"{len(target)} files under {', '.join(CHECKED_DIRS)}: {len(target) - len(edited)} equal to "
        f"the source's, {len(edited)} equal to the source's + the report's diff ({', '.join(sorted(edited))})"
    )
