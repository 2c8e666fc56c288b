"""The RAPI parsers and request builders, on answers recorded from a real
Ganeti 3.0.2 cluster (tests/data/rapi) and on hostile variations of them."""

from __future__ import annotations

import base64
import copy
import hashlib
import json
import ssl
from pathlib import Path
from typing import Any

import pytest

from p2v_tui.model.rapi import (
    Job,
    UnknownJob,
    error_message,
    job_changes,
    job_nodes,
    job_progress,
    parse_api_version,
    parse_features,
    parse_instance_names,
    parse_job,
    parse_job_id,
)
from p2v_tui.model.rapi_cluster import parse_cluster_info, parse_group, parse_instance, parse_nodes
from p2v_tui.model.rapi_requests import (
    DRY_RUN,
    CertPin,
    InstanceSpec,
    NicSpec,
    RapiEndpoint,
    RapiSettingError,
    cert_pin,
    cert_pin_from_pem,
    create_instance_body,
    create_instance_path,
    instance_path,
    job_path,
    modify_hvparams_body,
    parse_cert_pin,
    parse_rapi_url,
    rapi_user_problem,
    reboot_body,
    shutdown_body,
)
from p2v_tui.model.rapi_values import MalformedRapiAnswer, parse_json
from p2v_tui.model.target_output import MalformedOutput

DATA = Path(__file__).parent.parent / "data" / "rapi"


def record(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((DATA / name).read_text())
    return data


def body(name: str) -> Any:
    return record(name)["body"]


def job_of(name: str) -> Job:
    rec = record(name)
    return parse_job(rec["body"], int(rec["path"].rsplit("/", 1)[1]))


# -- jobs ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "status", "failure", "code"),
    [
        ("job-create-success.json", "success", None, None),
        ("job-dry-run-success.json", "success", None, None),
        ("job-modify-success.json", "success", None, None),
        ("job-startup-success.json", "success", None, None),
        (
            "job-ipolicy-violated.json",
            "error",
            "Ganeti job 6 failed: OpPrereqError: Instance allocation to group fbbc88cb-4c2b-4875-a38f-"
            "a36f65ab89e4 (default) violates policy: disk-size/0 value 512 is not in range [1024, 1048576]"
            " (wrong_input)",
            "wrong_input",
        ),
        (
            "job-error-one-arg.json",  # one argument, no ecode
            "error",
            "Ganeti job 103 failed: OpPrereqError: Disk template 'plain' is not enabled in cluster."
            " Enabled disk templates are: file",
            None,
        ),
        (
            "job-type-error.json",
            "error",
            "Ganeti job 35 failed: TypeEnforcementError: Unknown parameter 'no_such_param'",
            None,
        ),
        (
            "job-os-create-failed.json",  # the OS script's log tail, on its own lines
            "error",
            "Ganeti job 29 failed: OpExecError: Could not add os for instance vm4.gntlab.test on node"
            " node1.gntlab.test: OS create script failed (exited with exit code 1), last lines in the"
            " log file:\nrec create: OSP vars: 2\nrec create: refusing (ssh_key=fail)",
            None,
        ),
    ],
)
def test_recorded_jobs(name: str, status: str, failure: str | None, code: str | None) -> None:
    job = job_of(name)
    assert job.status == status and job.finished
    assert job.failure() == failure
    assert (job.errors[0].code if job.errors else None) == code
    assert job.summary and job.summary[0].startswith("INSTANCE_")


def test_a_job_log_and_results() -> None:
    job = job_of("job-create-success.json")
    assert [e.serial for e in job.log] == list(range(1, 10))
    assert job.log[0].message == "* disk 0, size 1.0G" and job.log[-1].kind == "message"
    assert job_nodes(job) == ("node1.gntlab.test",)
    # a dry run names the node by its UUID
    assert job_nodes(job_of("job-dry-run-success.json")) == ("6afd5286-a9b0-4e4c-8985-9f3f188f6077",)
    assert job_changes(job_of("job-modify-success.json")) == (("hv/initrd_path", "/tmp/rr/boot/initrd2.gz"),)
    assert "results" not in repr(job)


def test_an_unknown_job_is_200_with_nulls() -> None:
    with pytest.raises(UnknownJob, match="no job 999999"):
        parse_job(body("job-missing.json"), 999999)


def running(name: str = "job-create-success.json", log: int = 0) -> dict[str, Any]:
    """A recorded final job turned back into a running one with its first ``log`` messages."""
    doc: dict[str, Any] = copy.deepcopy(body(name))
    doc["status"] = "running"
    doc["opstatus"] = ["running"]
    doc["opresult"] = [None]
    doc["oplog"] = [doc["oplog"][0][:log]]
    return doc


def test_progress_says_status_changes_and_new_messages_once() -> None:
    queued = running()
    queued["status"], queued["opstatus"] = "queued", ["queued"]
    first = parse_job(queued, 15)
    p = job_progress(None, first)
    assert p is not None and p.status == "queued" and p.status_changed and p.messages == ()
    second = parse_job(running(log=2), 15)
    p = job_progress(first, second)
    assert p is not None and p.status_changed
    assert p.messages == ("* disk 0, size 1.0G", "* creating instance disks...")
    assert job_progress(second, parse_job(running(log=2), 15)) is None
    third = parse_job(running(log=3), 15)
    p = job_progress(second, third)
    assert (
        p is not None
        and not p.status_changed
        and p.messages == ("adding instance vm2.gntlab.test to cluster config",)
    )
    final = job_of("job-create-success.json")
    p = job_progress(third, final)
    assert p is not None and p.status == "success" and len(p.messages) == 6


def mutate(doc: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    """``doc`` with the value at ``path`` (keys and indexes joined by '/') replaced."""
    out = copy.deepcopy(doc)
    *parents, last = path.split("/")
    node: Any = out
    for key in parents:
        node = node[int(key)] if isinstance(node, list) else node[key]
    if isinstance(node, list):
        node[int(last)] = value
    else:
        node[last] = value
    return out


@pytest.mark.parametrize(
    ("path", "value", "message"),
    [
        ("id", "15", "the job's id is a string"),
        ("id", True, "the job's id is a boolean"),
        ("id", 16, "about job 16, not job 15"),
        ("status", "exploded", "not one Ganeti has"),
        ("status", ["success"], "not one Ganeti has"),
        ("opstatus", "success", "opstatus is a string, not a list"),
        ("opstatus/0", "\x1b[2J", "status is not a word"),
        ("opresult", [], "0 opcode results for 1 opcodes"),
        ("oplog/0/0", [1, [0, 0], "message"], "has 3 fields"),
        ("oplog/0/0/0", -1, "serial is a number, not a count"),
        ("oplog/0", {"a": 1}, "log is an object, not a list"),
        ("oplog/0/0", "x" * 10, "is a string, not a list"),
    ],
)
def test_malformed_jobs_are_refused(path: str, value: Any, message: str) -> None:
    with pytest.raises(MalformedRapiAnswer, match=message.replace("[", r"\[")):
        parse_job(mutate(body("job-create-success.json"), path, value), 15)


def test_a_hostile_job_message_is_printable_and_bounded() -> None:
    doc = body("job-os-create-failed.json")
    doc = mutate(doc, "opresult/0/1/0", "\x1b]0;owned\x07script said:\nline\r\n" + "y" * 100_000)
    doc = mutate(doc, "oplog/0/0/3", "\x1b[31mred\u202e")
    job = parse_job(doc, 29)
    failure = job.failure() or ""
    assert "\x1b" not in failure and "\\x1b]0;owned\\x07" in failure
    assert "\r" not in failure and "\nline\\x0d\n" in failure  # lines stay, a carriage return shows
    assert len(failure) < 4200 and "(100029 characters)" in failure
    assert job.log[0].message == "\\x1b[31mred\\u202e"


@pytest.mark.parametrize(
    ("opresult", "expected"),
    [
        ("a bare string", "Ganeti job 29 failed: error: a bare string"),
        (["OpExecError", "not a list"], "Ganeti job 29 failed: OpExecError: not a list"),
        (["OpExecError", []], "Ganeti job 29 failed: OpExecError: []"),
        (None, "Ganeti job 29 failed: error: None"),
        (["Op Error", ["msg"]], "Ganeti job 29 failed: error: ['Op Error', ['msg']]"),
    ],
)
def test_a_failed_job_of_another_shape_still_fails_with_a_message(opresult: Any, expected: str) -> None:
    job = parse_job(mutate(body("job-os-create-failed.json"), "opresult/0", opresult), 29)
    assert job.status == "error" and job.failure() == expected


def test_a_canceled_job_is_a_failure() -> None:
    doc = mutate(mutate(running(), "status", "canceled"), "opstatus/0", "canceled")
    assert parse_job(doc, 15).failure() == "Ganeti job 15 was canceled"


# -- small answers, error bodies ---------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("error-401.json", "Unauthorized"),
        ("error-403.json", "Forbidden"),
        ("error-404.json", "Not Found"),
        ("error-501.json", "Method DELETE is unsupported for path /2/info"),
        # HTML-escaped by Ganeti's HTTP server
        (
            "error-502.json",
            "Failed to parse request: SubmitJob: Can't parse value for 'disks': Can't parse string 'big'",
        ),
        ("probe-write.json", "The 'fields' parameter should be a list"),
        ("probe-read-only.json", "Forbidden"),
    ],
)
def test_error_bodies(name: str, message: str) -> None:
    assert error_message(body(name)) == message


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        ({"message": "two\nlines &amp; \x1b[0m"}, "two\\x0alines & \\x1b[0m"),
        ({"message": "&#x202e;txt.exe"}, "\\u202etxt.exe"),  # a control made by unescaping is caught too
        ({"message": ""}, None),
        ({"message": 42}, None),
        ([1, 2], None),
        ("<html>", None),
    ],
)
def test_error_messages_are_one_printable_line(doc: Any, message: str | None) -> None:
    assert error_message(doc) == message


def test_small_answers() -> None:
    assert parse_api_version(body("version.json")) == 2
    assert "instance-create-reqv1" in parse_features(body("features.json"))
    assert parse_job_id(body("submit-create.json")) == 15
    assert parse_instance_names(body("instances.json")) == ("vm-underscore.gntlab.test", "vm2.gntlab.test")
    for bad in ("15", True, -1, 1.5, None, [15]):
        with pytest.raises(MalformedRapiAnswer):
            parse_job_id(bad)
    with pytest.raises(MalformedRapiAnswer):
        parse_features(["ok", "not a word"])


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"<html><body>Bad Gateway</body></html>", "not JSON"),
        (b'{"a": NaN}', "NaN"),
        (b"[" * 100 + b"]" * 100, "nested more than"),
        (b'{"a": 1, "a": 2}', "twice"),
        (b'"\xff"', "not UTF-8"),
        (b"", "not JSON"),
    ],
)
def test_garbage_is_not_json(data: bytes, message: str) -> None:
    with pytest.raises(MalformedRapiAnswer, match=message) as e:
        parse_json(data)
    assert isinstance(e.value, MalformedOutput)


# -- cluster, groups, nodes, instances ---------------------------------------------------


def test_cluster_info() -> None:
    info = parse_cluster_info(body("cluster-info.json"))
    assert (info.name, info.master, info.software_version, info.version) == (
        "cluster.gntlab.test",
        "node1.gntlab.test",
        "3.0.2",
        (3, 0, 2),
    )
    assert info.enabled_disk_templates == ("file",) and info.default_hypervisor == "kvm"
    assert info.default_iallocator == "hail"
    assert (info.nic_link, info.nic_mode) == ("gntbr0", "bridged")
    assert (info.kernel_path, info.initrd_path) == ("", "")
    assert not info.user_shutdown
    ((low, high),) = info.ipolicy.minmax
    assert (low.disk_size, high.disk_size, low.memory_size, high.memory_size) == (1024, 1048576, 128, 32768)
    assert (high.cpu_count, info.ipolicy.vcpu_ratio, info.ipolicy.disk_templates) == (8, 4.0, ("file",))


@pytest.mark.parametrize(
    ("path", "value", "message"),
    [
        ("ipolicy", None, "the instance policy is null"),
        ("ipolicy/minmax", [], "no minmax bounds"),
        ("ipolicy/minmax/0/max/disk-size", "1T", "disk-size is a string"),
        ("ipolicy/minmax/0/min/disk-size", 2**40, "not a count from 0 to"),
        ("ipolicy/vcpu-ratio", "4", "vcpu-ratio is a string"),
        ("software_version", "x.y", "does not start with numbers"),
        ("name", "", "empty, not a name"),
        ("name", "n" * 300, "300 characters"),
        ("enabled_disk_templates", "file", "is a string, not a list"),
        ("enabled_user_shutdown", "no", "not true or false"),
    ],
)
def test_malformed_cluster_info(path: str, value: Any, message: str) -> None:
    with pytest.raises(MalformedRapiAnswer, match=message):
        parse_cluster_info(mutate(body("cluster-info.json"), path, value))


def test_no_default_iallocator_and_a_hostile_name() -> None:
    doc = mutate(mutate(body("cluster-info.json"), "default_iallocator", ""), "name", "evil\x1b[2J")
    info = parse_cluster_info(doc)
    assert info.default_iallocator is None and info.name == "evil\\x1b[2J"


def test_group_and_nodes() -> None:
    group = parse_group(body("group-default.json"))
    assert (group.name, group.nodes, group.alloc_policy) == ("default", ("node1.gntlab.test",), "preferred")
    assert group.ipolicy.minmax[0][0].disk_size == 1024
    (node,) = parse_nodes(body("nodes-bulk.json"))
    assert (node.name, node.memory_free, node.disk_free, node.usable) == (
        "node1.gntlab.test",
        20060,
        71009,
        True,
    )
    assert node.group_uuid == group.uuid
    drained = parse_nodes([mutate(body("nodes-bulk.json")[0], "drained", True)])
    assert not drained[0].usable
    offline = parse_nodes([mutate(body("nodes-bulk.json")[0], "mfree", None)])
    assert offline[0].memory_free is None
    with pytest.raises(MalformedRapiAnswer, match="mfree is a string"):
        parse_nodes([mutate(body("nodes-bulk.json")[0], "mfree", "20060")])


RAMBOOT_KERNEL = "/var/lib/ganeti-instance-p2v-target/p2v-bootstrap-vmlinuz"


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("instance-vm2-down.json", ("ADMIN_down", "down", False, None, "/tmp/rr/boot/vmlinuz")),
        ("instance-p2v1-running.json", ("running", "up", True, "labnet", RAMBOOT_KERNEL)),
        # the guest powered itself off: Ganeti still wants it up
        ("instance-p2v1-error-down.json", ("ERROR_down", "up", False, "labnet", RAMBOOT_KERNEL)),
    ],
)
def test_instances(name: str, expected: tuple[str, str, bool, str | None, str]) -> None:
    status, admin, oper, network, kernel = expected
    inst = parse_instance(body(name))
    assert (inst.status, inst.admin_state, inst.oper_state, inst.kernel_path) == (status, admin, oper, kernel)
    assert inst.memory == 256 and inst.vcpus == 1 and inst.disk_template == "file"
    (nic,) = inst.nics
    assert nic.network == network and nic.link == "gntbr0" and nic.mode == "bridged"
    assert (
        nic.ip in ("198.51.100.30", "198.51.100.31")
        and nic.mac is not None
        and nic.mac.startswith("aa:00:00:")
    )


@pytest.mark.parametrize(
    ("path", "value", "message"),
    [
        ("nic.macs", ["aa:00:00:11:22:33", "aa:00:00:11:22:34"], "different lengths"),
        ("nic.macs/0", "aa:00:00:11:22", "not a MAC address"),
        ("nic.ips/0", "198.51.100.300", "not an address"),
        ("disk.sizes/0", True, "size is a boolean"),
        ("admin_state", "sideways", "not up, down or offline"),
        ("status", "\x1b[2J", "status is not a word"),
        ("oper_state", 1, "not true or false"),
        ("beparams", [], "beparams is a list"),
        ("pnode", None, "pnode is null"),
    ],
)
def test_malformed_instances(path: str, value: Any, message: str) -> None:
    with pytest.raises(MalformedRapiAnswer, match=message):
        parse_instance(mutate(body("instance-vm2-down.json"), path, value))


# -- the pin, the address, the user --------------------------------------------------------

DER = b"\x30\x03\x02\x01\x01"  # what a pin is taken of: the certificate's DER bytes
DIGEST = hashlib.sha256(b"some certificate").digest()


def test_a_pin_is_the_sha256_of_the_der() -> None:
    pin = cert_pin(DER)
    assert pin.matches(DER) and not pin.matches(DER + b"\x00")
    assert len(str(pin)) == 95 and str(pin).count(":") == 31 and str(pin) == str(pin).upper()
    assert parse_cert_pin(str(pin)) == pin


@pytest.mark.parametrize(
    "text",
    [
        "sha256 Fingerprint=" + ":".join(f"{b:02X}" for b in DIGEST),  # openssl 3
        "SHA256 Fingerprint=" + ":".join(f"{b:02x}" for b in DIGEST),  # openssl 1.1
        ":".join(f"{b:02X}" for b in DIGEST),
        DIGEST.hex(),
        "  " + DIGEST.hex().upper() + "\n",
        "SHA256:" + DIGEST.hex(),
        "SHA256:" + base64.b64encode(DIGEST).decode().rstrip("="),
        "SHA256:" + base64.b64encode(DIGEST).decode(),
    ],
)
def test_pin_forms(text: str) -> None:
    assert parse_cert_pin(text) == CertPin(DIGEST)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("sha256//" + "A" * 43 + "=", "public key pin"),
        (DIGEST.hex()[:40], "not a SHA-256 certificate fingerprint"),  # a SHA-1
        (DIGEST.hex() + "00", "not a SHA-256"),
        ("SHA256:" + "!" * 43, "not a SHA-256"),
        ("A" * 43, "not a SHA-256"),  # base64 without SHA256: is not taken for one
        ("", "not a SHA-256"),
    ],
)
def test_bad_pins(text: str, message: str) -> None:
    with pytest.raises(RapiSettingError, match=message) as e:
        parse_cert_pin(text)
    assert "openssl x509" in str(e.value)


def test_a_pin_from_a_pem_file() -> None:
    pem = ssl.DER_cert_to_PEM_cert(DER)
    key = "-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIA==\n-----END PRIVATE KEY-----\n"
    assert cert_pin_from_pem(key + pem) == cert_pin(DER)  # rapi.pem holds the key too
    for bad, message in [
        (key, "no -----BEGIN CERTIFICATE"),
        ("-----BEGIN CERTIFICATE-----\n!!!\n-----END CERTIFICATE-----", "not base64"),
        (ssl.DER_cert_to_PEM_cert(b"hello"), "does not hold a certificate"),
    ]:
        with pytest.raises(RapiSettingError, match=message):
            cert_pin_from_pem(bad)


@pytest.mark.parametrize(
    ("text", "endpoint"),
    [
        ("https://cluster.example.org:5080", RapiEndpoint("cluster.example.org", 5080)),
        ("https://cluster.example.org", RapiEndpoint("cluster.example.org", 5080)),
        ("cluster.example.org:15080/", RapiEndpoint("cluster.example.org", 15080)),
        ("198.51.100.254", RapiEndpoint("198.51.100.254", 5080)),
        ("https://[2001:db8::1]:5080", RapiEndpoint("2001:db8::1", 5080)),
    ],
)
def test_rapi_urls(text: str, endpoint: RapiEndpoint) -> None:
    assert parse_rapi_url(text) == endpoint
    assert parse_rapi_url(str(endpoint)) == endpoint


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("http://cluster.example.org:5080", "HTTPS only"),
        ("https://cluster.example.org/2/info", "without a path"),
        ("https://cluster.example.org:99999", "port"),
        ("https://under_score.example.org", "RAPI host"),
        ("https://a\nb", "newline"),
        ("", "needed"),
        ("https://[2001:db8::5:5080", "IPv6 address in brackets"),  # urlsplit's own ValueError
        ("https://[cluster]:5080", "IPv6 address in brackets"),
        ("https://p2v:s3cret@[2001:db8::5", r"^a RAPI address is https://HOST\[:PORT\], an IPv6"),
    ],
)
def test_bad_rapi_urls(text: str, message: str) -> None:
    with pytest.raises(RapiSettingError, match=message):
        parse_rapi_url(text)


def test_a_password_in_the_url_is_refused_without_repeating_it() -> None:
    with pytest.raises(RapiSettingError) as e:
        parse_rapi_url("https://p2v:s3cret-pw@cluster.example.org:5080")
    assert "s3cret" not in str(e.value) and "user or password" in str(e.value)


@pytest.mark.parametrize(
    ("user", "ok"), [("p2v", True), ("p2v-migrate.team@x", True), ("", False), ("a:b", False), ("a b", False)]
)
def test_rapi_users(user: str, ok: bool) -> None:
    assert (rapi_user_problem(user) is None) == ok


# -- paths and bodies ------------------------------------------------------------------------


def test_paths_spell_dry_run_with_a_hyphen() -> None:
    assert DRY_RUN == "dry-run"
    assert create_instance_path(dry_run=True) == "/2/instances?dry-run=1"
    assert create_instance_path(dry_run=False) == "/2/instances"
    assert (
        instance_path("web1.example.org", "startup", dry_run=True)
        == "/2/instances/web1.example.org/startup?dry-run=1"
    )
    assert instance_path("vm2", "reboot", type="hard") == "/2/instances/vm2/reboot?type=hard"
    assert instance_path("a/../b?x") == "/2/instances/a%2F..%2Fb%3Fx"
    assert job_path(15) == "/2/jobs/15"
    with pytest.raises(RapiSettingError):
        instance_path("")


def p2v_target_spec(**changes: Any) -> InstanceSpec:
    """The p2v-target create the lab cluster accepted (request-create-p2v-target.json)."""
    sent = record("request-create-p2v-target.json")["request_body"]
    spec = InstanceSpec(
        name="p2v1.gntlab.test",
        os_type="p2v-target+default",
        disk_template="file",
        disks=(2048,),
        nics=(NicSpec(network="labnet", ip="198.51.100.31"),),
        memory=256,
        pnode="node1.gntlab.test",
        osparams=dict(sent["osparams"]),
    )
    return InstanceSpec(**{**spec.__dict__, **changes})


def test_the_create_body_is_the_one_the_cluster_accepted() -> None:
    rec = record("request-create-p2v-target.json")
    assert rec["status"] == 200 and rec["path"] == "/2/instances"
    assert create_instance_body(p2v_target_spec()) == rec["request_body"]


def test_a_secret_goes_to_osparams_secret_and_never_into_a_repr() -> None:
    secret = "-----BEGIN OPENSSH PRIVATE KEY-----\nNOT-A-REAL-KEY\n-----END OPENSSH PRIVATE KEY-----\n"
    spec = p2v_target_spec(osparams_secret={"host_key": secret}, iallocator="hail", pnode=None)
    built = create_instance_body(spec)
    assert built["osparams_secret"] == {"host_key": secret}
    assert built["iallocator"] == "hail" and "pnode" not in built
    assert "NOT-A-REAL-KEY" not in repr(spec)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"nics": (NicSpec(network="labnet", link="br0"),)}, "cannot both be given"),
        ({"nics": (NicSpec(link="br0", ip="pool"),)}, "needs a network"),
        ({"nics": (NicSpec(link="br0", ip="198.51.100.300"),)}, "not an IP address"),
        ({"nics": (NicSpec(link="br0", mac="aa:bb"),)}, "is not aa:bb:cc:dd:ee:ff"),
        ({"nics": (NicSpec(link="br 0"),)}, "is not a name"),
        ({"nics": (NicSpec(network="-net"),)}, "is not a name"),
        ({"os_type": "p2v target"}, "OS"),
        ({"iallocator": "hail"}, "exactly one"),
        ({"pnode": None}, "exactly one"),
        ({"disks": ()}, "needs a disk"),
        ({"disks": (0,)}, "disk 0's size"),
        ({"disks": (True,)}, "disk 0's size"),
        ({"memory": 2**40}, "memory"),
        ({"vcpus": 0}, "vcpus"),
        ({"name": "web_1"}, "instance name"),
        ({"pnode": "node\n1"}, "node"),
        ({"osparams_secret": {"ssh_key": "x"}}, "both as secret and not"),
        ({"osparams": {"Bad-Key": "x"}}, "not a parameter name"),
        ({"hvparams": {"kernel_path": 1}}, "not a text"),
    ],
)
def test_create_bodies_that_cannot_be_sent(changes: dict[str, Any], message: str) -> None:
    with pytest.raises(RapiSettingError, match=message):
        create_instance_body(p2v_target_spec(**changes))


def test_a_nic_with_a_fixed_mac_and_a_link() -> None:
    built = create_instance_body(
        p2v_target_spec(nics=(NicSpec(link="br0", ip="192.0.2.20", mac="AA:00:00:11:22:33"),))
    )
    assert built["nics"] == [{"link": "br0", "ip": "192.0.2.20", "mac": "aa:00:00:11:22:33"}]
    pool = create_instance_body(p2v_target_spec(nics=(NicSpec(network="10net", ip="pool"),)))
    assert pool["nics"] == [{"network": "10net", "ip": "pool"}]


def test_modify_shutdown_and_reboot_bodies() -> None:
    rec = record("request-modify-ramboot.json")
    hv = rec["request_body"]["hvparams"]
    assert modify_hvparams_body(hv) == rec["request_body"]
    assert modify_hvparams_body({"kernel_path": "", "initrd_path": ""}) == {
        "hvparams": {"kernel_path": "", "initrd_path": ""}
    }
    with pytest.raises(RapiSettingError):
        modify_hvparams_body({})
    assert shutdown_body(0) == {"timeout": 0}
    assert reboot_body(0) == {"shutdown_timeout": 0}
    with pytest.raises(RapiSettingError):
        shutdown_body(-1)
