"""The RAPI client against a local HTTPS server (127.0.0.1, a certificate
made here like Ganeti's: self-signed, CN ganeti.example.com, no SAN) that
replays answers recorded from a real Ganeti 3.0.2 (tests/data/rapi)."""

from __future__ import annotations

import base64
import copy
import json
import os
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from p2v_tui.model.rapi import JobProgress
from p2v_tui.model.rapi_requests import (
    InstanceSpec,
    NicSpec,
    RapiEndpoint,
    cert_pin,
    create_instance_body,
)
from p2v_tui.system.rapi import RapiClient, read_password_file
from p2v_tui.system.rapi_errors import (
    RapiAuthFailed,
    RapiBadAnswer,
    RapiConnectionError,
    RapiError,
    RapiForbidden,
    RapiHttpError,
    RapiJobFailed,
    RapiJobTimeout,
    RapiNotFound,
    RapiPasswordFileError,
    RapiPinMismatch,
    RapiTimeout,
)
from tests.lab.rapi_replay import Answer, Cert, Replay, make_cert, recorded, replay_server

USER = "p2vw"
PASSWORD = "Wr1te-Only-Lab-Pw"  # test-only


@pytest.fixture(scope="module")
def cert(tmp_path_factory: pytest.TempPathFactory) -> Cert:
    return make_cert(tmp_path_factory.mktemp("rapi-cert"))


@pytest.fixture
def replay(cert: Cert) -> Iterator[Replay]:
    with replay_server(cert) as state:
        yield state


def client(replay: Replay, cert: Cert, **kwargs: Any) -> RapiClient:
    pin = kwargs.pop("pin", cert.pin)
    kwargs.setdefault("timeout", 5.0)
    return RapiClient(RapiEndpoint("127.0.0.1", replay.port), pin, USER, PASSWORD, **kwargs)


def spec() -> InstanceSpec:
    return InstanceSpec(
        name="vm2.gntlab.test",
        os_type="p2v-target+default",
        disk_template="file",
        disks=(1024,),
        nics=(NicSpec(link="gntbr0", ip="198.51.100.30", mac="aa:00:00:11:22:33"),),
        memory=256,
        pnode="node1.gntlab.test",
        osparams={"ssh_key": "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAITEST user@example"},
        osparams_secret={"ssh_host_key": "-----BEGIN OPENSSH PRIVATE KEY-----\nNOT-A-KEY\n-----END OPENSSH"},
    )


def job_answer(name: str, status: str | None = None, log: int | None = None) -> Answer:
    """A recorded final job, or the same job still ``status`` with its first ``log`` messages."""
    doc: dict[str, Any] = copy.deepcopy(recorded(name)["body"])
    if status is not None:
        doc["status"], doc["opstatus"], doc["opresult"] = status, [status], [None]
        doc["oplog"] = [doc["oplog"][0][: log or 0]]
    return Answer.json(doc)


def assert_no_secret(text: str) -> None:
    token = base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
    assert PASSWORD not in text and token not in text


# -- a whole job -----------------------------------------------------------------------------


def test_create_and_follow_the_job(replay: Replay, cert: Cert) -> None:
    replay.on("POST", "/2/instances", Answer.of("submit-create.json"))
    replay.on(
        "GET",
        "/2/jobs/15",
        job_answer("job-create-success.json", "queued"),
        job_answer("job-create-success.json", "running", log=3),
        job_answer("job-create-success.json", "running", log=3),
        job_answer("job-create-success.json"),
    )
    rapi = client(replay, cert)
    job_id = rapi.create_instance(spec(), dry_run=False)
    assert job_id == 15
    updates: list[JobProgress] = []
    job = rapi.wait_for_job(job_id, deadline=10, on_progress=updates.append, poll_interval=0.01)
    assert job.status == "success" and job.id == 15
    assert [u.status for u in updates] == ["queued", "running", "success"]
    messages = [m for u in updates for m in u.messages]
    assert messages == [e.message for e in job.log] and len(messages) == 9

    submit = replay.seen[0]
    assert (submit.method, submit.path) == ("POST", "/2/instances")
    assert (
        submit.headers["Authorization"] == "Basic " + base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
    )
    assert submit.headers["Content-Type"] == "application/json"
    assert json.loads(submit.body) == create_instance_body(spec())
    assert [s.path for s in replay.seen[1:]] == ["/2/jobs/15"] * 4


def test_a_dry_run_is_spelt_with_a_hyphen(replay: Replay, cert: Cert) -> None:
    replay.on("POST", "/2/instances?dry-run=1", Answer.json(5))
    assert client(replay, cert).create_instance(spec(), dry_run=True) == 5
    assert replay.seen[0].path == "/2/instances?dry-run=1"


def test_a_failed_job_names_its_id_and_ganetis_message(replay: Replay, cert: Cert) -> None:
    replay.on("GET", "/2/jobs/29", Answer.of("job-os-create-failed.json"))
    with pytest.raises(RapiJobFailed) as e:
        client(replay, cert).wait_for_job(29, deadline=5, poll_interval=0.01)
    text = str(e.value)
    assert text.startswith("Ganeti job 29 failed: OpExecError: Could not add os for instance vm4.gntlab.test")
    assert text.endswith("\nrec create: refusing (ssh_key=fail)")
    assert e.value.job.id == 29 and e.value.job.errors[0].error_class == "OpExecError"


def test_a_job_that_never_ends_stops_at_the_deadline(replay: Replay, cert: Cert) -> None:
    replay.on("GET", "/2/jobs/15", job_answer("job-create-success.json", "running", log=2))
    updates: list[JobProgress] = []
    started = time.monotonic()
    with pytest.raises(RapiJobTimeout, match=r"Ganeti job 15 is still running after 0.4 s") as e:
        client(replay, cert).wait_for_job(15, deadline=0.4, on_progress=updates.append, poll_interval=0.05)
    assert time.monotonic() - started < 3
    assert (e.value.job_id, e.value.status) == (15, "running")
    assert len(updates) == 1 and len(replay.seen) >= 3  # polled, told once


def test_an_unknown_job(replay: Replay, cert: Cert) -> None:
    replay.on("GET", "/2/jobs/999999", Answer.of("job-missing.json"))
    with pytest.raises(RapiNotFound, match="Ganeti knows no job 999999"):
        client(replay, cert).wait_for_job(999999, deadline=5)


# -- reading -----------------------------------------------------------------------------------


def test_reading_the_cluster(replay: Replay, cert: Cert) -> None:
    replay.on("GET", "/version", Answer.of("version.json"))
    replay.on("GET", "/2/features", Answer.of("features.json"))
    replay.on("GET", "/2/info", Answer.of("cluster-info.json"))
    replay.on("GET", "/2/groups/default", Answer.of("group-default.json"))
    replay.on("GET", "/2/nodes?bulk=1", Answer.of("nodes-bulk.json"))
    replay.on("GET", "/2/instances/vm2.gntlab.test", Answer.of("instance-vm2-down.json"))
    replay.on("GET", "/2/instances", Answer.of("instances.json"))
    rapi = client(replay, cert)
    assert rapi.version() == 2
    assert "instance-create-reqv1" in rapi.features()
    assert rapi.cluster_info().software_version == "3.0.2"
    assert rapi.group("default").ipolicy.minmax[0][0].disk_size == 1024
    assert [n.name for n in rapi.nodes() if n.usable] == ["node1.gntlab.test"]
    inst = rapi.instance("vm2.gntlab.test")
    assert inst is not None and inst.status == "ADMIN_down"
    assert rapi.instance("nosuch.gntlab.test") is None  # the recorded 404
    assert rapi.instance_names() == ("vm-underscore.gntlab.test", "vm2.gntlab.test")
    assert all(s.body == b"" and "Content-Type" not in s.headers for s in replay.seen)


def test_instance_actions(replay: Replay, cert: Cert) -> None:
    for method, path in [
        ("PUT", "/2/instances/p2v1.gntlab.test/modify"),
        ("PUT", "/2/instances/p2v1.gntlab.test/startup"),
        ("PUT", "/2/instances/p2v1.gntlab.test/shutdown"),
        ("POST", "/2/instances/p2v1.gntlab.test/reboot?type=hard"),
    ]:
        replay.on(method, path, Answer.json(93))
    rapi = client(replay, cert)
    ramboot = recorded("request-modify-ramboot.json")["request_body"]
    assert rapi.modify_hvparams("p2v1.gntlab.test", ramboot["hvparams"]) == 93
    assert rapi.startup("p2v1.gntlab.test") == 93
    assert rapi.shutdown("p2v1.gntlab.test") == 93
    assert rapi.reboot("p2v1.gntlab.test") == 93
    modify, startup, shutdown, reboot = replay.seen
    assert json.loads(modify.body) == ramboot
    assert startup.body == b"" and "Content-Type" not in startup.headers  # RAPI ignores a startup body
    assert json.loads(shutdown.body) == {"timeout": 0}
    assert json.loads(reboot.body) == {"shutdown_timeout": 0}


# -- refusals ---------------------------------------------------------------------------------


def test_a_wrong_password_is_401(replay: Replay, cert: Cert) -> None:
    replay.on("GET", "/2/info", Answer.of("error-401.json"))
    with pytest.raises(RapiAuthFailed) as e:
        client(replay, cert).cluster_info()
    assert str(e.value) == "GET /2/info: 401, the cluster refused user 'p2vw' (wrong user or password)"
    assert e.value.status == 401


def test_a_read_only_user_is_403(replay: Replay, cert: Cert) -> None:
    replay.on("POST", "/2/instances?dry-run=1", Answer.of("error-403.json"))
    with pytest.raises(RapiForbidden, match=r"^POST /2/instances\?dry-run=1: 403, user 'p2vw' may not"):
        client(replay, cert).create_instance(spec(), dry_run=True)


@pytest.mark.parametrize(
    ("name", "error", "message"),
    [
        ("probe-write.json", None, None),
        (
            "probe-read-only.json",
            RapiForbidden,
            "user 'p2vw' has read-only access to the RAPI of https://127",
        ),
        ("probe-bad-password.json", RapiAuthFailed, "401, the cluster refused user 'p2vw'"),
    ],
)
def test_write_access_is_known_before_anything_is_created(
    replay: Replay, cert: Cert, name: str, error: type[RapiError] | None, message: str | None
) -> None:
    replay.on("GET", "/2/jobs/0/wait", Answer.of(name))
    rapi = client(replay, cert)
    if error is None:
        rapi.check_write_access()
    else:
        with pytest.raises(error, match=message):
            rapi.check_write_access()
    (probe,) = replay.seen
    assert (probe.method, probe.path, json.loads(probe.body)) == ("GET", "/2/jobs/0/wait", {"fields": None})
    assert probe.headers["Content-Type"] == "application/json"


def test_a_probe_answered_200_is_not_taken_for_write_access(replay: Replay, cert: Cert) -> None:
    replay.on("GET", "/2/jobs/0/wait", Answer.json({"job_info": None}))
    with pytest.raises(RapiBadAnswer, match="is this a Ganeti RAPI"):
        client(replay, cert).check_write_access()


def test_a_wrong_pin_is_refused_before_any_credential_is_sent(replay: Replay, cert: Cert) -> None:
    replay.on("GET", "/2/info", Answer.of("cluster-info.json"))
    wrong = cert_pin(b"another certificate")
    with pytest.raises(RapiPinMismatch) as e:
        client(replay, cert, pin=wrong).cluster_info()
    text = str(e.value)
    assert str(cert.pin) in text and str(wrong) in text and "\n" not in text
    assert "nothing was sent" in text
    assert (e.value.expected, e.value.got) == (wrong, cert.pin)
    deadline = time.monotonic() + 5
    while replay.handled == 0 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert replay.connections == replay.handled == 1  # the server saw the connection through ...
    assert replay.seen == []  # ... and no request, so no Authorization header, ever came


def test_other_http_errors_say_ganetis_message(replay: Replay, cert: Cert) -> None:
    replay.on("POST", "/2/instances", Answer.of("error-502.json"))
    with pytest.raises(RapiHttpError) as e:
        client(replay, cert).create_instance(spec(), dry_run=False)
    assert str(e.value) == (
        "POST /2/instances: 502 Bad Gateway: Failed to parse request: SubmitJob: Can't parse value for"
        " 'disks': Can't parse string 'big'"
    )
    assert type(e.value) is RapiHttpError and e.value.status == 502


# -- hostile or broken servers -----------------------------------------------------------------


def test_an_oversized_body_is_refused(replay: Replay, cert: Cert) -> None:
    big = json.dumps(["x" * 1000] * 100).encode()  # 100 KiB
    replay.on("GET", "/2/info", Answer(200, big))
    replay.on("GET", "/2/features", Answer(200, big, content_length=False))
    rapi = client(replay, cert, max_body=64 * 1024)
    with pytest.raises(RapiBadAnswer, match=r"GET /2/info: an answer of 1004\d\d bytes \(at most 65536\)"):
        rapi.cluster_info()
    with pytest.raises(RapiBadAnswer, match=r"GET /2/features: an answer of more than 65536 bytes"):
        rapi.features()


def test_garbage_is_refused(replay: Replay, cert: Cert) -> None:
    replay.on("GET", "/2/info", Answer(200, b"<html><body>It works!</body></html>"))
    replay.on("GET", "/2/features", Answer.json({"not": "a list"}))
    rapi = client(replay, cert)
    with pytest.raises(RapiBadAnswer, match=r"^GET /2/info: the answer is not JSON"):
        rapi.cluster_info()
    with pytest.raises(RapiBadAnswer, match=r"^GET /2/features: the features is an object, not a list"):
        rapi.features()


def test_a_slow_server_times_out(replay: Replay, cert: Cert) -> None:
    replay.on("GET", "/2/info", Answer(200, b"{}", delay=30))
    started = time.monotonic()
    with pytest.raises(RapiTimeout, match=r"GET /2/info: no answer from https://127.0.0.1:\d+ within 0.3 s"):
        client(replay, cert, timeout=0.3).cluster_info()
    assert time.monotonic() - started < 2


def test_nothing_listening(cert: Cert) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    rapi = RapiClient(RapiEndpoint("127.0.0.1", port), cert.pin, USER, PASSWORD, timeout=2)
    with pytest.raises(RapiConnectionError, match=r"GET /2/info: https://127.0.0.1:\d+: .*refused"):
        rapi.cluster_info()


def test_the_password_never_shows(replay: Replay, cert: Cert) -> None:
    token = base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
    replay.on("GET", "/2/info", Answer.json({"code": 400, "message": f"bad header Basic {token}"}, 400))
    replay.on("GET", "/2/features", Answer.json({"code": 500, "message": f"no {PASSWORD} here"}, 500))
    rapi = client(replay, cert)
    assert_no_secret(repr(rapi))
    for call in (rapi.cluster_info, rapi.features):
        with pytest.raises(RapiHttpError) as e:
            call()
        assert_no_secret(str(e.value))
        assert "<password>" in str(e.value)


# -- the password file ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("content", "password"),
    [
        (b"s3cret\n", "s3cret"),
        (b"  s3cret  \r\nsecond line\n", "s3cret"),
        (b"{cleartext}s3cret", "s3cret"),  # as the users file spells it
        (b"{CLEARTEXT}s3cret\n", "s3cret"),
    ],
)
def test_password_files(tmp_path: Path, content: bytes, password: str) -> None:
    path = tmp_path / "pw"
    path.write_bytes(content)
    assert read_password_file(path) == password


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "first line is empty"),
        (b"\ns3cret\n", "first line is empty"),
        (b"p2vw s3cret write\n", "blanks inside"),
        (b"{HA1}ec018ffe72b8e75bb4d508ed5b6d079c\n", "{HA1} hash"),
        (b"s3cr\xffet\n", "not UTF-8"),
        (b"s3\x1bcret\n", "control character"),
        (b"s3cret" * 1000, "larger than 4096 bytes"),
    ],
    ids=["empty", "empty-first-line", "users-file-line", "hash", "not-utf8", "control", "large"],
)
def test_bad_password_files(tmp_path: Path, content: bytes, message: str) -> None:
    path = tmp_path / "pw"
    path.write_bytes(content)
    with pytest.raises(RapiPasswordFileError, match=message) as e:
        read_password_file(path)
    assert "s3cr" not in str(e.value) and "ec018ffe" not in str(e.value)


def test_a_password_file_that_is_not_a_file(tmp_path: Path) -> None:
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    for path, message in [
        (fifo, "not a regular file"),
        (tmp_path, "not a regular file"),
        (tmp_path / "no", "No such"),
    ]:
        with pytest.raises(RapiPasswordFileError, match=message):
            read_password_file(path)
