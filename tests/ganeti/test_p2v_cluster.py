"""The real p2v program, headless, with a ``cluster:`` section pointing at
the lab's real ganeti-rapi, migrating a source machine made of loop
devices: each refusal (a read-only user, a wrong certificate, a wrong
password, a name that exists, a size the instance policy forbids, a source
without a host key to prove the boot by) ends the run with exit code 1 and
one line saying why, before anything is created; ``--dry-run`` shows what
would be created and the plan, and creates nothing either.

p2v runs inside the lab's namespaces (the cluster's addresses exist only
there); every run but the dry run is a real one (``confirm: true``), so a
check that let the run through would create the instance."""

from __future__ import annotations

import dataclasses
import hashlib
import os
import re
import secrets
import shutil
import ssl
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.ganeti.testos import write_test_os
from tests.integration.harness import P2V, Run, Source, source_machine
from tests.lab.cache import REPO
from tests.lab.disks import mounted, require
from tests.lab.ganeti import GanetiLab
from tests.lab.ganeti_rapi import (
    RapiLab,
    RapiUser,
    certificate_block,
    openssl_fingerprint,
    rapi_calls,
)
from tests.lab.p2v_target import BOOTSTRAP_HV, keypair

pytestmark = [pytest.mark.root, pytest.mark.slow]

NAME = "p2vc1.gntlab.test"
TAKEN = "taken.gntlab.test"
"""An instance the lab has before p2v runs (a trivial OS: only its name matters)."""
ADDRESS_INDEX = 60
MIGRATED_INDEX = 61
RUN_TIMEOUT = 120.0
"""A refusal takes about a second; a run that went through would copy and time out here."""


def cluster_hv(lab: GanetiLab) -> dict[str, str]:
    """The cluster's kvm ``kernel_path`` and ``initrd_path`` (the lab's only hypervisor)."""
    info = lab.gnt("gnt-cluster", "info", timeout=60).stdout
    return {
        key: m.group(1).strip() if (m := re.search(rf"^\s+{key}: ?(.*)$", info, re.M)) else ""
        for key in ("kernel_path", "initrd_path")
    }


@pytest.fixture(scope="module")
def cluster(osdef: GanetiLab, rapi: RapiLab) -> Iterator[GanetiLab]:
    """The sources hold no kernel of their own (``boot: cluster``): the
    cluster's kvm parameters name one, as an admin sets them for that
    (the bootstrap's, which every node has); put back as they were."""
    lab = osdef
    before = cluster_hv(lab)
    hv = ",".join(f"{k}={v}" for k, v in BOOTSTRAP_HV.items())
    lab.gnt("gnt-cluster", "modify", "-H", f"kvm:{hv}", timeout=120)
    try:
        yield lab
    finally:
        hv = ",".join(f"{k}={v}" for k, v in before.items())
        lab.gnt("gnt-cluster", "modify", "-H", f"kvm:{hv}", timeout=120)


def add_host_keys(source: Source) -> None:
    """An ed25519 host key in the source's /etc/ssh, as every server with
    sshd has (the lab's tree has none): the hand-over proves the migrated
    server by it."""
    root = next(fs for fs in source.filesystems if fs.mountpoint == "/")
    with mounted(root.device, root.fstype) as mnt:
        (mnt / "etc/ssh").mkdir(mode=0o755, exist_ok=True)
        keypair(mnt / "etc/ssh/ssh_host_ed25519_key")


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Source]:
    require("mkfs.ext4", "ssh-keygen")
    with source_machine("msdos-root-swap", tmp_path_factory.mktemp("source"), small_files=50) as machine:
        add_host_keys(machine)
        yield machine


@pytest.fixture(scope="module")
def identity(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The key p2v logs in with (its public half becomes the instance's ssh_key)."""
    return keypair(tmp_path_factory.mktemp("identity") / "p2v_ed25519")


@pytest.fixture(scope="module")
def taken(cluster: GanetiLab) -> Iterator[str]:
    lab = cluster
    testos = write_test_os(lab.os_dir_host)
    lab.gnt(
        "gnt-instance", "add",
        "-t", "file", "-s", "1G", "-o", f"{testos.name}+default",
        "-n", lab.node_name,
        "--net", f"0:link={lab.bridge}",
        "--no-name-check", "--no-ip-check", "--no-start",
        TAKEN,
        timeout=300,
    )  # fmt: skip
    try:
        yield TAKEN
    finally:
        lab.remove_instance(TAKEN)
        shutil.rmtree(testos)


def instances(lab: GanetiLab) -> str:
    return lab.gnt("gnt-instance", "list", "--no-headers", "-o", "name", timeout=120).stdout


@dataclass(frozen=True)
class State:
    """The cluster as a person checks it afterwards: its instances, and
    the files of its file storage."""

    instances: str
    files: tuple[str, ...]

    @classmethod
    def of(cls, lab: GanetiLab) -> State:
        return cls(instances(lab), tuple(sorted(os.listdir(lab.file_storage_dir_host))))


@dataclass(frozen=True)
class Case:
    """One run of p2v on the lab's cluster, from this test's directory."""

    lab: GanetiLab
    rapi: RapiLab
    source: Source
    identity: Path
    work: Path
    before: State

    def answers(self, *, user: RapiUser | None = None, **instance: Any) -> dict[str, Any]:
        """A cluster run as the README has it, for the write user, on the
        lab's node; ``instance`` changes cluster.instance."""
        lab, rapi, user = self.lab, self.rapi, user or self.rapi.writer
        return {
            "version": 1,
            "confirm": True,
            "target": {"identity": str(self.identity)},
            "source": {"disks": [self.source.disk.path]},  # the probe reads these loop devices only
            "boot": "cluster",
            "cluster": {
                "rapi": rapi.url,
                "user": user.name,
                "password_file": str(user.password_file),
                "certificate": rapi.cert_pin,
                "migrated_address": lab.address(MIGRATED_INDEX),
                "instance": {
                    "name": NAME,
                    "disk_template": "file",
                    "pnode": lab.node_name,
                    "nics": [{"link": lab.bridge}],
                    "address": f"{lab.address(ADDRESS_INDEX)}/{lab.prefix_len}",
                    **instance,
                },
            },
        }

    def run(self, doc: dict[str, Any], *args: str) -> Run:
        """The real program, inside the lab's namespaces, as root."""
        answers_file = self.work / "answers.yaml"
        answers_file.write_text(yaml.safe_dump(doc))
        report = self.work / "report"
        argv = [P2V, "--answers-file", str(answers_file), "--report", str(report), *args]
        proc = self.lab.run(argv, check=False, timeout=RUN_TIMEOUT, cwd=str(REPO))
        return Run(proc.returncode, proc.stdout, proc.stderr, report)

    def passwords(self, *others: Path) -> list[str]:
        files = [self.rapi.writer.password_file, self.rapi.reader.password_file, *others]
        return [f.read_text().splitlines()[0] for f in files]

    def refusal(self, run: Run, *other_password_files: Path) -> str:
        """The run's one line of failure (exit 1; the report says so too),
        the cluster as it was."""
        assert run.returncode == 1, run.output
        assert_clean(run, self.passwords(*other_password_files))
        failed = [line for line in run.stdout.splitlines() if line.startswith("FAILED: ")]
        assert len(failed) == 1, run.stdout
        assert (run.report / "result.txt").read_text().startswith("failed: ")
        assert State.of(self.lab) == self.before
        return failed[0]


def assert_clean(run: Run, passwords: list[str]) -> None:
    """No traceback, nothing on stderr, no password in the output or the report."""
    assert "Traceback" not in run.output
    assert run.stderr == "", run.stderr
    files = [f for f in run.report.rglob("*") if f.is_file()]
    for password in passwords:
        assert password not in run.output
        for f in files:
            assert password not in f.read_text(errors="replace"), f"a password in {f.name}"


@pytest.fixture
def case(cluster: GanetiLab, rapi: RapiLab, source: Source, identity: Path, tmp_path: Path) -> Iterator[Case]:
    """After the test, the instance p2v must not have created is removed
    should it exist (the test has failed then)."""
    yield Case(cluster, rapi, source, identity, tmp_path, State.of(cluster))
    if NAME in instances(cluster).split():
        cluster.remove_instance(NAME)


def test_read_only_user_is_refused(case: Case) -> None:
    line = case.refusal(case.run(case.answers(user=case.rapi.reader)))
    assert f"user {case.rapi.reader.name!r} has read-only access" in line
    assert "needs the option 'write'" in line


def test_wrong_certificate_is_refused(case: Case) -> None:
    """The pin of the cluster's other certificate (server.pem), an easy mistake."""
    other = certificate_block(case.lab.host_path("/var/lib/ganeti/server.pem").read_text())
    wrong_pin = openssl_fingerprint(hashlib.sha256(ssl.PEM_cert_to_DER_cert(other)).digest())
    assert wrong_pin != case.rapi.cert_pin
    doc = case.answers()
    doc["cluster"]["certificate"] = wrong_pin
    line = case.refusal(case.run(doc))
    assert f"has the SHA-256 fingerprint {case.rapi.cert_pin}, not the pinned {wrong_pin}" in line
    assert "nothing was sent" in line


def test_wrong_password_is_refused(case: Case) -> None:
    wrong = case.work / "wrong.password"
    wrong.write_text(secrets.token_urlsafe(24) + "\n")
    wrong.chmod(0o600)
    doc = case.answers()
    doc["cluster"]["password_file"] = str(wrong)
    line = case.refusal(case.run(doc), wrong)
    assert f"refused user {case.rapi.writer.name!r} (wrong user or password)" in line


SHORT = TAKEN.rsplit(".", 1)[0]


@pytest.mark.parametrize(
    ("name", "matched"),
    [(TAKEN, ""), (SHORT, f" (Ganeti matches {SHORT} to it)")],
    ids=["same-name", "shorter-name"],
)
def test_existing_instance_is_refused(taken: str, case: Case, name: str, matched: str) -> None:
    """Never reused, never removed: the name Ganeti has is said, also when
    Ganeti matches a shorter name given to it."""
    try:
        line = case.refusal(case.run(case.answers(name=name)))
        assert f"the cluster has an instance {taken} already{matched}: p2v never reuses" in line
    finally:
        if name != taken and name in instances(case.lab).split():
            case.lab.remove_instance(name)


def test_disk_size_the_policy_forbids_is_refused_by_ganeti(case: Case) -> None:
    """1 GiB more than the node group's policy allows (the answers' least
    size, 1 GiB, is the stock policy's least: only the top can be crossed;
    whole GiB: the file template rounds sizes up to 4 MiB): Ganeti's own
    dry run refuses it, and the line names the policy."""
    (group,) = rapi_calls(case.lab, case.rapi, case.rapi.writer, [{"call": "group", "name": "default"}])
    info = group.ok()
    assert isinstance(info, dict)
    low, high = (int(spec["disk_size"]) for spec in info["ipolicy"]["minmax"][0])
    too_large = high + 1024
    line = case.refusal(case.run(case.answers(disks=[f"{too_large // 1024}G"])))
    assert re.search(r"Ganeti job \d+ failed: OpPrereqError: ", line), line
    assert f"violates policy: disk-size/0 value {too_large} is not in range [{low}, {high}]" in line


def test_source_without_host_key_is_refused_before_the_create(case: Case) -> None:
    """The migrated server is proven booted by one of the source's own host
    keys: a source without one is refused before the instance exists, not
    after the copy."""
    with source_machine("msdos-root-swap", case.work, small_files=10) as keyless:
        keyless_case = dataclasses.replace(case, source=keyless)
        line = case.refusal(keyless_case.run(keyless_case.answers()))
    assert "the source has no SSH host key (/etc/ssh/ssh_host_*_key.pub)" in line


def test_dry_run_shows_the_instance_and_the_plan_and_creates_nothing(case: Case) -> None:
    run = case.run(case.answers(), "--dry-run")
    assert run.returncode == 0, run.output
    assert_clean(run, case.passwords())
    out, lab, rapi = run.stdout, case.lab, case.rapi
    # what would be created, the disk sized by p2v within the policy
    assert f"Ganeti cluster {rapi.url}, RAPI user {rapi.writer.name}, certificate SHA256:" in out
    assert f"  creates instance {NAME} (stopped), on node {lab.node_name}" in out
    assert "  OS p2v-target+default, file disks: 1.00 GiB" in out
    assert f"  NIC 0: link {lab.bridge}, address {lab.address(ADDRESS_INDEX)}" in out
    assert f"  boots the bootstrap OS: kernel {BOOTSTRAP_HV['kernel_path']}" in out
    # Ganeti's own dry run of that creation passed
    assert re.search(r"Ganeti job \d+:  - INFO: dry-run mode requested", out), out
    # and the plan on the instance as it will be
    assert f"Target instance {NAME} (kvm)" in out
    assert re.search(rf"/dev/vda1 +768 MiB +ext4 +/ +from {case.source.disk.path}p1", out), out
    assert "Boot: the cluster's kernel" in out
    assert "nothing was created" in out
    assert (run.report / "result.txt").read_text() == "dry run: nothing was written\n"
    assert State.of(lab) == case.before
