"""p2v's RAPI client against the lab's real ganeti-rapi: the write user
reads the cluster and may write; a read-only user, a wrong password and a
wrong certificate are each refused with one line that holds no password,
and a dry-run create the instance policy forbids ends in a failed job;
none of them changes the cluster's instance list."""

from __future__ import annotations

import grp
import hashlib
import os
import pwd
import re
import secrets
import ssl
from pathlib import Path

import pytest

from p2v_tui.model.rapi_requests import cert_pin_from_pem, parse_cert_pin
from tests.lab.ganeti import DAEMON_UTIL, GanetiLab
from tests.lab.ganeti_rapi import (
    USERS_FILE,
    CallError,
    RapiLab,
    certificate_block,
    openssl_fingerprint,
    rapi_calls,
    rapi_service,
)
from tests.lab.netns import process_alive
from tests.lab.p2v_target import BOOTSTRAP_HV, OS, keypair

pytestmark = [pytest.mark.root, pytest.mark.slow]

NAME = "rapi1.gntlab.test"
ADDRESS_INDEX = 40
JOB_DEADLINE = 120.0


@pytest.fixture(scope="module")
def spec(osdef: GanetiLab, tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    """A bootstrap instance as p2v asks for it: the user's key, a host key
    made for it (secret), the ramboot kernel; tests set the disk size."""
    lab = osdef
    keys = tmp_path_factory.mktemp("rapi-keys")
    address = lab.address(ADDRESS_INDEX)
    return {
        "name": NAME,
        "os_type": f"{OS}+default",
        "disk_template": "file",
        "disks": [],
        "nics": [{"link": lab.bridge, "ip": address}],
        "memory": 256,
        "pnode": lab.node_name,
        "osparams": {
            "ssh_key": keypair(keys / "user").with_suffix(".pub").read_text().strip(),
            "address": f"{address}/{lab.prefix_len}",
        },
        "osparams_secret": {"ssh_host_key": keypair(keys / "host").read_text()},
        "hvparams": dict(BOOTSTRAP_HV),
    }


def passwords(rapi: RapiLab, *others: Path) -> list[str]:
    files = [rapi.writer.password_file, rapi.reader.password_file, *others]
    return [f.read_text().splitlines()[0] for f in files]


def assert_one_clean_line(error: CallError | None, rapi: RapiLab, *others: Path) -> CallError:
    assert error is not None, "the call was not refused"
    assert error.message and "\n" not in error.message
    for password in passwords(rapi, *others):
        assert password not in error.message
    return error


def instances(lab: GanetiLab) -> str:
    return lab.gnt("gnt-instance", "list", "--no-headers", "-o", "name", timeout=120).stdout


def smallest_disk(lab: GanetiLab, rapi: RapiLab) -> int:
    """The smallest disk (MiB) the default node group's policy allows, as p2v reads it."""
    (group,) = rapi_calls(lab, rapi, rapi.writer, [{"call": "group", "name": "default"}])
    info = group.ok()
    assert isinstance(info, dict)
    return min(int(low["disk_size"]) for low, _high in info["ipolicy"]["minmax"])


def storage(lab: GanetiLab) -> list[str]:
    return sorted(os.listdir(lab.file_storage_dir_host))


def test_service_leaves_the_lab_as_it_found_it(ganeti_lab: GanetiLab, tmp_path: Path) -> None:
    """A users file of the admin's comes back as it was; the cluster's own
    ganeti-rapi (127.0.0.1) runs again; ours is gone. Runs before the
    module's service starts (file order)."""
    lab = ganeti_lab
    admin = "someone {cleartext}not-a-real-password read\n"
    put = f"cat > {USERS_FILE} && chown gnt-rapi:gnt-masterd {USERS_FILE} && chmod 0640 {USERS_FILE}"
    lab.run(["sh", "-c", put], input=admin)
    try:
        with rapi_service(lab, tmp_path / "service") as service:
            during = lab.run(["cat", USERS_FILE]).stdout
            assert [line.split()[0] for line in during.splitlines()] == ["p2vwrite", "p2vread"]
            assert f"{service.address}:{service.port} " in lab.run(["ss", "-Hltn"]).stdout
            assert process_alive(service.pid)
        assert lab.run(["cat", USERS_FILE]).stdout == admin
        # owner and mode as the admin had them (ensure-dirs, which daemon-util
        # start runs, would turn any other mode into 0640 anyway)
        st = lab.host_path(USERS_FILE).stat()
        owner = (pwd.getpwuid(st.st_uid).pw_name, grp.getgrgid(st.st_gid).gr_name)
        assert (owner, st.st_mode & 0o7777) == (("gnt-rapi", "gnt-masterd"), 0o640)
        assert not process_alive(service.pid)
        assert lab.run([DAEMON_UTIL, "check", "ganeti-rapi"], check=False).returncode == 0
        listening = lab.run(["ss", "-Hltn"]).stdout
        assert f"127.0.0.1:{service.port} " in listening
        assert f"{service.address}:{service.port} " not in listening
    finally:
        lab.run(["rm", "-f", USERS_FILE])  # the lab had none


def test_write_user_reads_the_cluster_and_may_write(ganeti_lab: GanetiLab, rapi: RapiLab) -> None:
    version, features, info, write = rapi_calls(
        ganeti_lab,
        rapi,
        rapi.writer,
        [{"call": "version"}, {"call": "features"}, {"call": "cluster_info"}, {"call": "check_write_access"}],
    )
    assert version.ok() == 2
    names = features.ok()
    assert isinstance(names, list) and "instance-create-reqv1" in names
    cluster = info.ok()
    assert isinstance(cluster, dict)
    assert (cluster["name"], cluster["master"]) == (ganeti_lab.cluster_name, ganeti_lab.node_name)
    assert cluster["version"][0] == 3
    assert cluster["enabled_disk_templates"] == ["file"]
    assert write.error is None and write.value is None
    # the pin as given and the certificate copy are one and the same to p2v
    assert cert_pin_from_pem(rapi.cert_pem.read_text()) == parse_cert_pin(rapi.cert_pin)


def test_read_only_user_is_refused_write_access(ganeti_lab: GanetiLab, rapi: RapiLab) -> None:
    before = instances(ganeti_lab)
    version, write = rapi_calls(
        ganeti_lab, rapi, rapi.reader, [{"call": "version"}, {"call": "check_write_access"}]
    )
    assert version.ok() == 2  # the password is right: what is refused is writing
    error = assert_one_clean_line(write.error, rapi)
    assert error.kind == "RapiForbidden" and error.status == 403
    assert f"user {rapi.reader.name!r} has read-only access" in error.message
    assert "needs the option 'write'" in error.message
    assert instances(ganeti_lab) == before


def test_read_only_user_cannot_create(ganeti_lab: GanetiLab, rapi: RapiLab, spec: dict[str, object]) -> None:
    """A real create (not a dry run) of a request the policy allows:
    refused before any job exists."""
    valid = {**spec, "disks": [smallest_disk(ganeti_lab, rapi)]}
    before = instances(ganeti_lab)
    (create,) = rapi_calls(
        ganeti_lab, rapi, rapi.reader, [{"call": "create", "spec": valid, "dry_run": False, "deadline": 60}]
    )
    try:
        error = assert_one_clean_line(create.error, rapi)
        assert error.kind == "RapiForbidden" and error.status == 403
        assert error.message.startswith("POST /2/instances: 403")
        assert rapi.reader.name in error.message
        assert instances(ganeti_lab) == before
    finally:
        if NAME in instances(ganeti_lab).split():
            ganeti_lab.remove_instance(NAME)


def test_wrong_password_is_refused(ganeti_lab: GanetiLab, rapi: RapiLab, tmp_path: Path) -> None:
    wrong = tmp_path / "wrong.password"
    wrong.write_text(secrets.token_urlsafe(24) + "\n")
    wrong.chmod(0o600)
    before = instances(ganeti_lab)
    outcomes = rapi_calls(
        ganeti_lab,
        rapi,
        rapi.writer,
        [{"call": "version"}, {"call": "check_write_access"}],
        password_file=wrong,
    )
    for outcome in outcomes:
        error = assert_one_clean_line(outcome.error, rapi, wrong)
        assert error.kind == "RapiAuthFailed" and error.status == 401
        assert f"refused user {rapi.writer.name!r} (wrong user or password)" in error.message
    assert instances(ganeti_lab) == before


def test_wrong_certificate_is_refused_before_anything_is_sent(ganeti_lab: GanetiLab, rapi: RapiLab) -> None:
    """The pin of the cluster's other certificate (server.pem, noded's), an
    easy mistake: refused right after the TLS handshake. That no request
    follows is shown by the unit tests' server (tests/system); ganeti-rapi
    cannot show it: a client that closes after the handshake resets the
    connection (TLS 1.3 session tickets unread), and Ganeti logs "Connection
    closed prematurely" whether a request had been sent or not."""
    other = certificate_block(ganeti_lab.host_path("/var/lib/ganeti/server.pem").read_text())
    wrong_pin = openssl_fingerprint(hashlib.sha256(ssl.PEM_cert_to_DER_cert(other)).digest())
    assert wrong_pin != rapi.cert_pin
    before = instances(ganeti_lab)
    (write,) = rapi_calls(ganeti_lab, rapi, rapi.writer, [{"call": "check_write_access"}], pin=wrong_pin)
    error = assert_one_clean_line(write.error, rapi)
    assert error.kind == "RapiPinMismatch"
    assert f"has the SHA-256 fingerprint {rapi.cert_pin}, not the pinned {wrong_pin}" in error.message
    assert "nothing was sent" in error.message
    assert instances(ganeti_lab) == before


def test_dry_run_the_policy_forbids_fails_and_creates_nothing(
    ganeti_lab: GanetiLab, rapi: RapiLab, spec: dict[str, object]
) -> None:
    smallest = smallest_disk(ganeti_lab, rapi)
    assert smallest > 1, "the lab's instance policy allows a 1 MiB disk: nothing to refuse"
    before, files = instances(ganeti_lab), storage(ganeti_lab)
    (create,) = rapi_calls(
        ganeti_lab,
        rapi,
        rapi.writer,
        [{"call": "create", "spec": {**spec, "disks": [1]}, "dry_run": True, "deadline": JOB_DEADLINE}],
    )
    error = assert_one_clean_line(create.error, rapi)
    assert error.kind == "RapiJobFailed"
    assert error.job is not None and error.job["status"] == "error"
    assert re.match(rf"Ganeti job {error.job['id']} failed: OpPrereqError: ", error.message)
    # "disk-size/0 value 4": the file template rounds 1 MiB up to 4 MiB
    assert "violates policy: disk-size/0" in error.message
    assert f"not in range [{smallest}, " in error.message
    assert instances(ganeti_lab) == before
    assert storage(ganeti_lab) == files


def test_dry_run_within_the_policy_passes_and_creates_nothing(
    ganeti_lab: GanetiLab, rapi: RapiLab, spec: dict[str, object]
) -> None:
    """The same request at the policy's smallest size passes every check
    (OS verify with the secret host key included): the refusal above is the
    size's, not the request's."""
    smallest = smallest_disk(ganeti_lab, rapi)
    before, files = instances(ganeti_lab), storage(ganeti_lab)
    (create,) = rapi_calls(
        ganeti_lab,
        rapi,
        rapi.writer,
        [
            {
                "call": "create",
                "spec": {**spec, "disks": [smallest]},
                "dry_run": True,
                "deadline": JOB_DEADLINE,
            }
        ],
    )
    job = create.ok()
    assert isinstance(job, dict) and job["status"] == "success"
    assert any("dry-run mode requested" in entry["message"] for entry in job["log"])
    assert instances(ganeti_lab) == before
    assert storage(ganeti_lab) == files
