"""p2v's RAPI client, run inside the Ganeti lab's namespaces (where the
cluster's addresses exist) by :func:`tests.lab.ganeti_rapi.rapi_calls`.

stdin: ``{"url", "pin", "user", "password_file", "calls": [CALL, ...]}``.
stdout: one ``{"value": ...}`` or ``{"error": {"kind", "kinds", "message",
"status", "job"}}`` per call, in order, as a JSON list. A CALL is one of

* ``{"call": "version" | "features" | "cluster_info" | "check_write_access"}``
* ``{"call": "group", "name": NAME}``
* ``{"call": "create", "spec": INSTANCE_SPEC, "dry_run": BOOL, "deadline": S}``:
  ``create_instance`` then ``wait_for_job``; the value is the finished job.

The client is built once, from the password file, as p2v builds it.
"""

from __future__ import annotations

import dataclasses
import json
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from p2v_tui.model.rapi_requests import InstanceSpec, NicSpec, parse_cert_pin, parse_rapi_url
from p2v_tui.system.rapi import RapiClient, read_password_file
from p2v_tui.system.rapi_errors import RapiHttpError, RapiJobFailed


def plain(value: object) -> object:
    """Dataclasses, tuples and sets as JSON values."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, frozenset | set):
        return sorted((plain(v) for v in value), key=str)
    if isinstance(value, tuple | list):
        return [plain(v) for v in value]
    if isinstance(value, Mapping):
        return {str(k): plain(v) for k, v in value.items()}
    return value


def instance_spec(doc: Mapping[str, Any]) -> InstanceSpec:
    fields = dict(doc)
    fields["disks"] = tuple(fields["disks"])
    fields["nics"] = tuple(NicSpec(**nic) for nic in fields["nics"])
    return InstanceSpec(**fields)


def call(client: RapiClient, request: Mapping[str, Any]) -> object:
    name = request["call"]
    if name == "version":
        return client.version()
    if name == "features":
        return client.features()
    if name == "cluster_info":
        return client.cluster_info()
    if name == "check_write_access":
        client.check_write_access()
        return None
    if name == "group":
        return client.group(request["name"])
    if name == "create":
        job_id = client.create_instance(instance_spec(request["spec"]), dry_run=request["dry_run"])
        return client.wait_for_job(job_id, deadline=request["deadline"], poll_interval=0.25)
    raise ValueError(f"no such call {name!r}")


def error(e: BaseException) -> dict[str, object]:
    return {
        "kind": type(e).__name__,
        "kinds": [c.__name__ for c in type(e).__mro__],
        "message": str(e),
        "status": e.status if isinstance(e, RapiHttpError) else None,
        "job": plain(e.job) if isinstance(e, RapiJobFailed) else None,
    }


def main() -> None:
    request = json.load(sys.stdin)
    calls = request["calls"]
    try:
        client = RapiClient(
            parse_rapi_url(request["url"]),
            parse_cert_pin(request["pin"]),
            request["user"],
            read_password_file(Path(request["password_file"])),
        )
    except Exception as e:  # every call reports why there is no client
        json.dump([{"error": error(e)} for _ in calls], sys.stdout)
        return
    out: list[dict[str, object]] = []
    for one in calls:
        try:
            out.append({"value": plain(call(client, one))})
        except Exception as e:  # reported to the test, which asserts on it
            out.append({"error": error(e)})
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
