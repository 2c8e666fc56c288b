"""The self-service run of ``make lab`` (issue 12): the lab creates nothing.

The admin's part is done once (the OS definition installed, by
:func:`tests.e2e.scenario.e2e_lab`, and a RAPI user with write access: a
real ganeti-rapi in the lab's namespace, :func:`tests.lab.ganeti_rapi.rapi_service`).
The user's part is a stick with a key and answers whose only cluster
settings are a ``cluster:`` section. p2v, from the live image, creates the
instance through RAPI with a host key it generated, starts the bootstrap,
migrates, hands the instance over and proves the migrated server answers
SSH with the source's host key; the lab then checks what a user would:

- the bootstrap served the host key p2v reported (``cluster.json``), as
  the OS log, its console and its own /etc/ssh say; the lab reads that
  private key from the bootstrap (root, with the user's key) to look for it
  afterwards: it is on the stick, in the report and in Ganeti's logs and
  state nowhere;
- result.txt and boot-proof.json say the migrated server booted and
  answered with the source's own host key; Ganeti runs it with its own
  boot (no kernel_path, no initrd_path) and the memory asked;
- the checks of every run (:func:`tests.e2e.lab.check_migrated`), over SSH
  with the source's own credentials and host key.

The lab does not start the instance, so it cannot attach to a paused QEMU
as :meth:`GanetiLab.boot` does: :class:`InstanceWatch` attaches a logger to
each QEMU's serial socket as soon as it appears (the first moments of
each boot, the firmware's, can be missing from the log; the host key line
and the login prompt come much later).
"""

from __future__ import annotations

import base64
import contextlib
import json
import re
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import yaml
from cryptography.hazmat.primitives import serialization

from livecd.p2v_live import STICK_MOUNT
from p2v_tui.model.hostkey import fingerprint
from tests.e2e.lab import (
    LOGIN_TIMEOUT,
    E2ELab,
    LiveRun,
    Migration,
    Result,
    SourceMachine,
    check_migrated,
    headless,
)
from tests.integration.harness import changed_files
from tests.lab.disks import attach_image, image_sha256, mounted
from tests.lab.ganeti import KVM_CTRL_DIR, GanetiLab
from tests.lab.ganeti_proc import LabProcess, wait_for
from tests.lab.ganeti_rapi import RapiLab, rapi_service
from tests.lab.p2v_target import FINGERPRINT, OS, keypair

PASSWORD_FILE = "rapi-password"
"""The RAPI user's password file on the stick; the answers name it by its
path in the live system (p2v-live mounts the stick at STICK_MOUNT)."""
POLL = 0.5
SSH_RETRY = 5.0
SECRET_PLACES = ("/var/log/ganeti", "/var/lib/ganeti")
"""Where Ganeti keeps logs, jobs and its configuration (the lab's own)."""


def self_service_answers(run: LiveRun, rapi: RapiLab) -> str:
    """Only a ``cluster:`` section and a key: no target host, no host key,
    no ``instance:`` facts, no ``after:`` (p2v does all of it)."""
    lab, address, prefix = run.lab, run.address, run.lab.prefix_len
    return yaml.safe_dump({
        "version": 1,
        "confirm": True,
        "target": {"user": "root", "identity": "id_ed25519", "connect_timeout": 120},
        "cluster": {
            "rapi": rapi.url,
            "user": rapi.writer.name,
            "password_file": f"{STICK_MOUNT}/{PASSWORD_FILE}",
            "certificate": rapi.cert_pin,
            "migrated_address": address,
            "instance": {
                "name": run.migration.instance,
                "disk_template": "file",
                "pnode": lab.node_name,
                "nics": [{"link": lab.bridge}],
                "address": f"{address}/{prefix}",
                "run_memory": run.migration.memory,
            },
        },
        "network": {"interface": "eth0", "address": f"{address}/{prefix}", "gateway": lab.node_address},
        "boot": run.migration.boot,
    }, sort_keys=False)  # fmt: skip


# --- watching the instance p2v creates ---------------------------------------------


@dataclass
class Console:
    """One QEMU of the instance, as its serial logger saw it."""

    log: Path
    attached: float
    """time.monotonic() when the logger connected."""
    ended: float | None = None
    """When the QEMU closed its console (it stopped)."""


@dataclass
class BootstrapKey:
    os_log: str
    """The fingerprint the OS create printed (``256 SHA256:... (ED25519)``)."""
    served: str
    """The fingerprint of the key the bootstrap's sshd presented."""
    private: str = field(repr=False)
    """/etc/ssh/ssh_host_ed25519_key, read on the bootstrap."""
    answered: float
    """time.monotonic() of the first SSH login to the bootstrap."""


class InstanceWatch:
    """A thread following the instance ``run`` names from the outside while
    p2v creates and runs it: a log of each QEMU's serial console, and the
    bootstrap's host key read on the bootstrap once it answers SSH."""

    def __init__(self, run: LiveRun) -> None:
        self.run = run
        self.lab: GanetiLab = run.lab
        self.name = run.migration.instance
        self.consoles: list[Console] = []
        self.key: BootstrapKey | None = None
        self.error: BaseException | None = None
        self._stop = threading.Event()
        self._logger: LabProcess | None = None
        self._thread = threading.Thread(target=self._follow, name=f"watch-{self.name}", daemon=True)
        self._next_ssh = 0.0

    def __enter__(self) -> InstanceWatch:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=120)
        if self._logger is not None:
            self._logger.stop()

    def check(self) -> None:
        if self.error is not None:
            raise AssertionError(f"watching {self.name} failed: {self.error!r}") from self.error

    def _follow(self) -> None:
        try:
            while not self._stop.is_set():
                self._console_step()
                if self.key is None and self.consoles and self.consoles[0].ended is None:
                    self._key_step()
                self._stop.wait(POLL)
        except BaseException as e:  # kept for the run to report
            self.error = e

    def _console_step(self) -> None:
        logger = self._logger
        if logger is not None:
            if not logger.alive():  # QEMU closed the socket: that instance start ended
                self.consoles[-1].ended = time.monotonic()
                self._logger = None
            return
        socket = f"{KVM_CTRL_DIR}/{self.name}.serial"
        if not self.lab.host_path(socket).is_socket():
            return
        n = len(self.consoles)
        log = self.run.work / f"console-{n}-{self.name}.log"
        notices = self.run.work / f"console-{n}.socat"
        notices.unlink(missing_ok=True)
        argv = ["socat", "-d", "-d", "-u", f"UNIX-CONNECT:{socket}", f"OPEN:{log},creat,trunc"]
        try:
            proc = self.lab.spawn(argv, notices)
        except RuntimeError:  # a socket left by a QEMU that ended: not listening
            return
        deadline = time.monotonic() + 15
        while proc.alive() and time.monotonic() < deadline:
            if "starting data transfer loop" in notices.read_text(errors="replace"):
                self._logger = proc
                self.consoles.append(Console(log, time.monotonic()))
                return
            time.sleep(0.05)
        proc.stop()

    def _key_step(self) -> None:
        if time.monotonic() < self._next_ssh:
            return
        self._next_ssh = time.monotonic() + SSH_RETRY
        logs = sorted(self.lab.host_path("/var/log/ganeti/os").glob(f"add-{OS}+default-{self.name}-*.log"))
        found = FINGERPRINT.search(logs[-1].read_text(errors="replace")) if logs else None
        if found is None:
            return
        known_hosts = self.run.work / "known_hosts-bootstrap"
        known_hosts.unlink(missing_ok=True)
        argv = [
            "ssh",
            "-i", str(self.run.key),  # the user's key: the instance's ssh_key
            "-o", "IdentitiesOnly=yes",
            "-o", "BatchMode=yes",
            "-o", f"UserKnownHostsFile={known_hosts}",
            "-o", "StrictHostKeyChecking=accept-new",  # the served key is compared below
            "-o", "ConnectTimeout=10",
            f"root@{self.run.address}",
            "cat /etc/ssh/ssh_host_ed25519_key",
        ]  # fmt: skip
        try:
            proc = self.lab.run(argv, check=False, timeout=60)
        except subprocess.TimeoutExpired:
            return
        if proc.returncode != 0:
            return  # still booting
        line = known_hosts.read_text().split()
        served = fingerprint(base64.b64decode(line[2]))
        self.key = BootstrapKey(found.group(1), served, proc.stdout, time.monotonic())


# --- the checks ----------------------------------------------------------------------


def private_key_lines(private: str) -> list[str]:
    """The base64 lines of an OpenSSH private key."""
    body = private.split("-----BEGIN OPENSSH PRIVATE KEY-----")[1].split("-----END", maxsplit=1)[0]
    lines = [line.strip() for line in body.split() if line.strip()]
    if not lines:
        raise AssertionError("no base64 body in the bootstrap's host key")
    return lines


def secret_found(root: Path, lines: list[str]) -> list[str]:
    """Files under ``root`` holding the private key's body or any line of it
    (also as JSON or a log writes it: the lines joined, or with ``\\n``)."""
    needles = [line.encode() for line in lines if len(line) >= 20] + ["".join(lines).encode()]
    hits = []
    for path in sorted(p for p in root.rglob("*") if p.is_file() and not p.is_symlink()):
        data = path.read_bytes()
        if any(n in data for n in needles):
            hits.append(str(path))
    return hits


def check_bootstrap_key(run: LiveRun, watch: InstanceWatch, report: Path, result: Result) -> list[str]:
    """The bootstrap served the key p2v generated and reported; its private
    key's base64 lines (what must be found nowhere)."""
    key = watch.key
    assert key is not None, "the bootstrap never answered the lab's SSH login with the user's key"
    cluster = json.loads((report / "cluster.json").read_text())
    created = cluster["created"]
    assert created["name"] == run.migration.instance and created["address"] == run.address, created
    kind, blob = created["host_key"].split()[:2]
    assert kind == "ssh-ed25519", created["host_key"]
    pin = fingerprint(base64.b64decode(blob))
    assert key.os_log.split()[1] == pin, (key.os_log, pin)
    assert key.served == pin, f"the bootstrap served {key.served}, p2v pinned {pin}"
    private = serialization.load_ssh_private_key(key.private.encode(), None)
    openssh = serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH
    public = private.public_key().public_bytes(*openssh).decode()
    assert public.split()[1] == blob, "the bootstrap's private host key is not the one p2v reported"
    console = watch.consoles[0].log.read_text(errors="replace")
    shown = set(re.findall(r"p2v-target host key: (\d+ SHA256:\S+) \(ED25519\)", console))
    assert shown == {key.os_log}, (shown, key.os_log)
    text = (report / "cluster.json").read_text()
    lines = private_key_lines(key.private)
    leaked = "PRIVATE KEY" in text or any(line in text for line in lines)
    assert not leaked, "cluster.json holds the private host key"
    result.checks.append(
        f"bootstrap created by p2v through RAPI served the generated host key {pin} (cluster.json,"
        " OS log, console and its /etc/ssh agree); cluster.json without the private key"
    )
    return lines


def check_handed_over(run: LiveRun, report: Path, result: Result) -> float:
    """result.txt and boot-proof.json prove the boot with the source's host
    key; Ganeti runs the instance with its own boot. p2v's seconds to the proof."""
    name, address = run.migration.instance, run.address
    source_pin = f"ssh-ed25519 {fingerprint(base64.b64decode(run.source.host_key))}"
    text = (report / "result.txt").read_text()
    booted = f"Booted: {name} answered SSH at {address} with the source's host key ({source_pin})"
    assert booted in text, f"result.txt does not say {booted!r}:\n{text}"
    proof = json.loads((report / "boot-proof.json").read_text())
    assert proof["address"] == address and proof["host_key"] == source_pin, proof
    fields = "status,disk_template,pnode,nic.link/0,be/memory,hv/kernel_path,hv/initrd_path"
    row = run.lab.gnt(
        "gnt-instance", "list", "--no-headers", "--units=m", "--separator=|", "-o", fields, name
    )
    status, template, pnode, link, memory, kernel, initrd = row.stdout.strip().split("|")
    want_mib = int(run.migration.memory.removesuffix("M"))
    expected = ("running", "file", run.lab.node_name, run.lab.bridge, str(want_mib), "", "")
    assert (status, template, pnode, link, memory, kernel, initrd) == expected, row.stdout
    result.checks.append(
        f"p2v proved the boot in {proof['seconds']} s (result.txt, boot-proof.json: {source_pin});"
        f" Ganeti runs it from its own disk with {memory} MiB"
    )
    return float(proof["seconds"])


def check_no_secret(lab: GanetiLab, stick: Path, lines: list[str], result: Result) -> None:
    """The generated private host key is nowhere on the stick (the report
    included) nor in Ganeti's logs and state: not in a file, not in the stick's blocks."""
    with attach_image(stick) as disk, mounted(disk.path, "ext4", "ro") as root:
        hits = secret_found(root, lines)
    raw = stick.read_bytes()
    if any(line.encode() in raw for line in lines if len(line) >= 20):
        hits.append(f"{stick} (its blocks)")
    for place in SECRET_PLACES:
        hits += secret_found(lab.host_path(place), lines)
    assert not hits, f"the bootstrap's private host key is in: {hits}"
    result.checks.append(f"the private host key is nowhere on the stick nor in {', '.join(SECRET_PLACES)}")


# --- the run -------------------------------------------------------------------------


def migrate_self_service(e2e: E2ELab, source: SourceMachine, migration: Migration) -> Result:
    """The run: ganeti-rapi up, the stick written, the live image booted,
    p2v does the rest; the checks; the instance is removed at the end."""
    lab, clock, label = e2e.lab, e2e.clock, migration.label
    work = e2e.work / label
    work.mkdir(parents=True)
    subprocess.run(["cp", "--sparse=always", str(source.image), str(work / "source.img")], check=True)
    source_hash = image_sha256(work / "source.img")
    keypair(work / "id_ed25519")
    run = LiveRun(lab, source, migration, work, lab.address(migration.address_index), "")
    try:
        with contextlib.ExitStack() as stack:
            with clock.phase(f"{label}: ganeti-rapi up (write and read-only users)"):
                rapi = stack.enter_context(rapi_service(lab, work / "rapi"))
            watch = stack.enter_context(InstanceWatch(run))
            stick = {
                "answers.yaml": self_service_answers(run, rapi).encode(),
                PASSWORD_FILE: rapi.writer.password_file.read_bytes(),
            }
            started = time.monotonic()
            report = e2e.live_run(run, headless, stick)
            ended = time.monotonic()
            watch.check()
            assert image_sha256(run.disk) == source_hash, "the source disk was written"
            result = Result(migration, "", report, changed_files(report))
            lines = check_bootstrap_key(run, watch, report, result)
            proven = check_handed_over(run, report, result)
            starts = watch.consoles
            assert len(starts) == 2, (
                f"expected 2 starts of {migration.instance} (bootstrap, migrated): {starts}"
            )
            _phases(e2e, run, watch, (started, ended), proven)
            with clock.phase(f"{label}: checks"):
                short = migration.instance.split(".")[0]
                wait_for(rf"{re.escape(short)} login: ", watch.consoles[1].log, LOGIN_TIMEOUT)
                result.console = watch.consoles[1].log.read_text(errors="replace")
                check_migrated(run, result)
                check_no_secret(lab, run.stick, lines, result)
            return result
    finally:
        if migration.instance in lab.instance_names():
            lab.remove_instance(migration.instance)


def _phases(
    e2e: E2ELab, run: LiveRun, watch: InstanceWatch, live: tuple[float, float], proven: float
) -> None:
    """The parts of the live run (its start and end: ``live``), as the lab
    saw them from the outside; ``proven``: p2v's seconds to its boot proof."""
    started, ended = live
    label, key = run.migration.label, watch.key
    boot, migrated = watch.consoles[0], watch.consoles[-1]
    assert key is not None and boot.ended is not None
    e2e.clock.add(f"{label}: live boot, checks, RAPI create and start (to the bootstrap's QEMU)",
                  boot.attached - started)  # fmt: skip
    e2e.clock.add(f"{label}: bootstrap boots (ramboot, 256 MiB) to the lab's SSH login",
                  key.answered - boot.attached)  # fmt: skip
    e2e.clock.add(f"{label}: migration on the bootstrap (to its stop)", boot.ended - key.answered)
    e2e.clock.add(f"{label}: hand-over (modify, start)", migrated.attached - boot.ended)
    e2e.clock.add(f"{label}: migrated server to SSH with its own host key (p2v's proof)", proven)
    e2e.clock.add(f"{label}: p2v's end and the report on the stick", ended - migrated.attached - proven)
