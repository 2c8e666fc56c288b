"""What the schema cannot say about an answers file.

The JSON Schema (p2v_tui/data/answers.schema.json) checks keys, types and
the shape of values; :func:`semantic_errors` then checks what each value
*is*, because most of them end up in the migrated system's configuration
files, in commands on the target or on a console: addresses are addresses
(a newline in a gateway would become an ``up`` line in
/etc/network/interfaces, a root command at every boot), host names follow
RFC 1123, sizes are within what a disk can be, paths have no ``..``, and no
string anywhere holds a control character. The ``cluster:`` section's
address, certificate pin, user and Ganeti names are checked by the parsers
that build the RAPI requests (model/rapi_requests). Every problem is one
line starting with its key path.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator, Mapping
from typing import Any

from .answers_cluster import DISK_MIN, KEEP_MAC, MEMORY_MAX, MEMORY_MIN, certificate_form
from .fixups import FIXUPS
from .hostkey import HostKeyPinError, parse_pin
from .rapi_requests import (
    RapiSettingError,
    ganeti_name_problem,
    parse_cert_pin,
    parse_rapi_url,
    rapi_user_problem,
)
from .target import FactsError, normalize_mac
from .units import KiB, MiB, SizeError, format_size, parse_size
from .validate import (
    control_character,
    hostname_problem,
    parse_dns_server,
    parse_gateway,
    parse_interface_address,
    parse_ip,
    quoted,
)

MAX_BYTES = 2**50
"""The largest size p2v takes anywhere (1 PiB): a disk, a partition, swap,
a bandwidth. Beyond it a value is a typo, not a plan."""

MAX_HEADROOM_PERCENT = 1000
MAX_CONNECT_TIMEOUT = 3600.0
MIN_BANDWIDTH = KiB
"""rsync limits bandwidth in KiB per second: less than 1 KiB would be no limit at all."""

OPTIONAL_FIXUPS = tuple(f.id for f in FIXUPS if f.optional)

_USER = re.compile(r"[a-z_][a-z0-9_-]{0,31}\Z")
_INTERFACE = re.compile(r"[A-Za-z0-9_.-]{1,15}\Z")
_DEVICE = re.compile(r"/dev/[A-Za-z0-9._+:/-]+\Z")


def _strings(value: Any, where: str) -> Iterator[tuple[str, str]]:
    """Every string in the document with its key path."""
    if isinstance(value, str):
        yield where, value
    elif isinstance(value, Mapping):
        for key, item in value.items():
            yield from _strings(item, f"{where}.{key}" if where else str(key))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from _strings(item, f"{where}[{i}]")


def path_problem(path: str) -> str | None:
    """Why an absolute path (or rsync pattern) from the answers is not
    usable: ``.`` or ``..`` components would reach outside the filesystem
    being copied, empty ones are a typo."""
    if not path.startswith("/"):
        return f"{path!r} is not an absolute path"
    if len(path) > 4096:
        return f"a path of {len(path)} characters"
    parts = path.rstrip("/").split("/")[1:] if path != "/" else []
    if any(p in (".", "..") for p in parts):
        return f"{path!r} has a '.' or '..' component"
    if any(p == "" for p in parts):
        return f"{path!r} has an empty component ('//')"
    return None


def _size(
    text: str, where: str, *, minimum: int = 1, maximum: int = MAX_BYTES
) -> tuple[int | None, str | None]:
    try:
        n = parse_size(text)
    except SizeError as e:
        return None, f"{where}: {e}"
    if n < minimum:
        return None, f"{where}: {text!r} is less than {format_size(minimum)}"
    if n > maximum:
        return None, f"{where}: {text!r} is more than {format_size(maximum)}"
    return n, None


def _target(t: Mapping[str, Any], where: str = "target") -> Iterator[str]:
    """An SSH destination: the target, or the running source (``where``)."""
    host = t.get("host")
    if isinstance(host, str):
        try:
            parse_ip(host, f"{where}.host")
        except ValueError:
            problem = hostname_problem(host)
            if problem:
                yield f"{where}.host: neither an IP address nor a host name ({problem})"
    user = t.get("user")
    if isinstance(user, str) and not _USER.match(user):
        yield f"{where}.user: {user!r} is not a user name (lower-case letters, digits, '_' and '-')"
    pin = t.get("host_key")
    if isinstance(pin, str):
        try:
            parse_pin(pin)
        except HostKeyPinError as e:
            yield f"{where}.host_key: {e}"
    timeout = t.get("connect_timeout")
    if isinstance(timeout, float) and not math.isfinite(timeout):
        yield f"{where}.connect_timeout: expected a number of seconds, got {timeout}"
    elif isinstance(timeout, int | float) and timeout > MAX_CONNECT_TIMEOUT:
        yield f"{where}.connect_timeout: {timeout} s is more than {MAX_CONNECT_TIMEOUT:.0f} s"


def _network(net: Mapping[str, Any]) -> Iterator[str]:
    name = net.get("interface")
    if isinstance(name, str) and not _INTERFACE.match(name):
        yield (
            f"network.interface: {name!r} is not an interface name "
            "(letters, digits, '_', '.', '-'; 15 at most)"
        )
    address = None
    if isinstance(net.get("address"), str):
        try:
            address = parse_interface_address(net["address"])
        except ValueError as e:
            yield f"network.address: {e}"
    if isinstance(net.get("gateway"), str) and address is not None:
        try:
            parse_gateway(net["gateway"], address)
        except ValueError as e:
            yield f"network.gateway: {e}"
    for i, server in enumerate(net.get("dns", ())):
        if isinstance(server, str):
            try:
                parse_dns_server(server)
            except ValueError as e:
                yield f"network.dns[{i}]: {e}"


def _layout(doc: Mapping[str, Any]) -> Iterator[str]:
    layout = doc.get("layout", {})
    headroom = layout.get("headroom")
    if isinstance(headroom, str) and float(headroom.rstrip("%")) > MAX_HEADROOM_PERCENT:
        yield f"layout.headroom: {headroom} is more than {MAX_HEADROOM_PERCENT}%"
    for i, path in enumerate(layout.get("drop", ())):
        problem = path_problem(path)
        if problem:
            yield f"layout.drop[{i}]: {problem}"
    for i, item in enumerate(layout.get("partitions", ())):
        mount = item.get("mount", "")
        problem = path_problem(mount) if mount != "swap" else None
        if problem:
            yield f"layout.partitions[{i}].mount: {problem}"
        size = str(item.get("size", "fit"))
        if size.endswith("%"):
            if not 0 < float(size[:-1]) <= 100:
                yield f"layout.partitions[{i}].size: {size} is not a share of the disk (over 0%, up to 100%)"
        elif size not in ("fit", "rest"):
            _n, problem = _size(size, f"layout.partitions[{i}].size", minimum=1024 * KiB)
            if problem:
                yield problem
    for i, path in enumerate(doc.get("exclude", ())):
        problem = path_problem(path)
        if problem:
            yield f"exclude[{i}]: {problem}"
    swap = doc.get("swap")
    if isinstance(swap, str) and swap not in ("keep", "auto", "drop"):
        n, problem = _size(swap, "swap")
        if problem:
            yield problem + ("; for no swap write 'drop'" if n is None and _is_zero(swap) else "")
    limit = doc.get("bandwidth_limit")
    if isinstance(limit, str):
        n, problem = _size(limit, "bandwidth_limit", minimum=MIN_BANDWIDTH)
        if problem:
            yield problem + " per second (rsync's smallest limit is 1K; give a unit, e.g. 500K or 50M)"


_NOT_WITH_CLUSTER = {
    "target.host": "the address is the one of the instance p2v creates",
    "target.host_key": "the host key is the one p2v generates for the instance it creates",
    "instance": "the instance p2v creates reports its own facts",
    "after": "p2v stops the bootstrap and starts the migrated server itself",
}


def _with_cluster(doc: Mapping[str, Any]) -> Iterator[str]:
    """What a ``cluster:`` section replaces is not given beside it."""
    target = doc.get("target", {})
    given = {
        "target.host": "host" in target,
        "target.host_key": "host_key" in target,
        "instance": "instance" in doc,
        "after": "after" in doc,
    }
    for key, why in _NOT_WITH_CLUSTER.items():
        if given[key]:
            yield f"{key}: not with a cluster section: {why} (remove {key})"


def _cluster(c: Mapping[str, Any]) -> Iterator[str]:
    try:
        parse_rapi_url(c.get("rapi", ""))
    except RapiSettingError as e:
        yield f"cluster.rapi: {e}"
    problem = rapi_user_problem(c.get("user", ""))
    if problem:
        yield f"cluster.user: {problem}"
    if path_problem(c.get("password_file", "/")):
        # not quoted: a password typed here instead of a path is not shown
        yield (
            "cluster.password_file: expected the absolute path of a file whose first line is the"
            " password, without '.', '..' or '//' (the value is not shown)"
        )
    certificate = c.get("certificate", "/")
    if certificate_form(certificate) == "file":
        problem = path_problem(certificate)
        if problem:
            yield f"cluster.certificate: {problem}"
    elif certificate.lower().endswith((".pem", ".crt")):
        yield f"cluster.certificate: {quoted(certificate)} is a relative path; give the file's absolute path"
    else:
        try:
            parse_cert_pin(certificate)
        except RapiSettingError as e:
            yield f"cluster.certificate: {e}"
    yield from _cluster_instance(c.get("instance", {}), "cluster.instance")
    if "migrated_address" in c:
        try:
            parse_ip(c["migrated_address"])
        except ValueError as e:
            yield f"cluster.migrated_address: {e}"


def _cluster_reach(doc: Mapping[str, Any]) -> Iterator[str]:
    """p2v must know where the bootstrap and, later, the migrated server
    answer SSH: it reaches both itself."""
    c = doc["cluster"]
    inst = c.get("instance", {})
    nic0 = (inst.get("nics") or [{}])[0]
    if "address" not in inst and not ("network" in nic0 and "ip" in nic0):
        yield (
            "cluster.instance.address: needed (the bootstrap's address with its prefix, e.g."
            " 198.51.100.20/24) unless NIC 0 has a Ganeti network and an ip: p2v connects to it"
        )
    if "migrated_address" not in c and "address" not in doc.get("network", {}):
        yield (
            "cluster.migrated_address: needed unless network.address is given: the address the"
            " migrated server answers SSH at (p2v proves it booted there)"
        )


def _cluster_instance(inst: Mapping[str, Any], where: str) -> Iterator[str]:
    name = inst.get("name", "")
    problem = hostname_problem(name)
    if problem:
        yield f"{where}.name: {problem}"
    elif "." not in name:
        yield f"{where}.name: {name!r} is not fully qualified (Ganeti names instances so: {name}.example.org)"
    for i, text in enumerate(inst.get("disks", ())):
        _n, problem = _size(text, f"{where}.disks[{i}]", minimum=DISK_MIN)
        if problem:
            yield problem
    if "memory" in inst:
        n, problem = _size(inst["memory"], f"{where}.memory", minimum=0, maximum=MEMORY_MAX)
        if problem:
            yield problem
        elif n is not None and n < MEMORY_MIN:
            yield (
                f"{where}.memory: {inst['memory']!r} is less than {format_size(MEMORY_MIN)}, the least"
                " the bootstrap OS runs in (it copies itself into RAM)"
            )
    if "run_memory" in inst:
        _n, problem = _size(inst["run_memory"], f"{where}.run_memory", minimum=64 * MiB, maximum=MEMORY_MAX)
        if problem:
            yield problem
    if "pnode" in inst and "iallocator" in inst:
        yield f"{where}: pnode and iallocator both given; give one (neither: the cluster's default allocator)"
    problem = hostname_problem(inst["pnode"]) if "pnode" in inst else None
    if problem:
        yield f"{where}.pnode: {problem}"
    for key in ("iallocator", "os_variant"):
        problem = ganeti_name_problem(inst[key]) if key in inst else None
        if problem:
            yield f"{where}.{key}: {problem}"
    for i, nic in enumerate(inst.get("nics", ())):
        yield from _cluster_nic(nic, f"{where}.nics[{i}]")
    yield from _bootstrap_network(inst, where)
    for key, path in inst.get("ramboot", {}).items():
        problem = path_problem(path)
        if problem:
            yield f"{where}.ramboot.{key}: {problem} on the nodes"


def _bootstrap_network(inst: Mapping[str, Any], where: str) -> Iterator[str]:
    if "address" not in inst:
        for key in ("gateway", "dns"):
            if key in inst:
                yield f"{where}.{key}: only with {where}.address (else NIC 0's Ganeti network gives it)"
        return
    try:
        address = parse_interface_address(inst["address"])
    except ValueError as e:
        yield f"{where}.address: {e}"
        return
    ip = (inst.get("nics") or [{}])[0].get("ip")
    if ip is not None and ip != str(address.ip):
        yield f"{where}.nics[0].ip: {quoted(ip)} is not the address's {address.ip} (leave it out)"
    if "gateway" in inst:
        try:
            parse_gateway(inst["gateway"], address)
        except ValueError as e:
            yield f"{where}.gateway: {e}"
    for i, server in enumerate(inst.get("dns", ())):
        try:
            parse_dns_server(server)
        except ValueError as e:
            yield f"{where}.dns[{i}]: {e}"


def _cluster_nic(nic: Mapping[str, Any], where: str) -> Iterator[str]:
    if "link" in nic and "network" in nic:
        yield f"{where}: a link and a network both given; give one (a network brings its link)"
    for key in ("link", "network"):
        problem = ganeti_name_problem(nic[key]) if key in nic else None
        if problem:
            yield f"{where}.{key}: {problem}"
    ip = nic.get("ip")
    if ip == "pool":
        if "network" not in nic:
            yield f"{where}.ip: pool (a free address of the network) needs a network"
    elif ip is not None:
        try:
            parse_ip(ip)
        except ValueError as e:
            yield f"{where}.ip: {e}"
    mac = nic.get("mac")
    if mac is not None and mac != KEEP_MAC:
        try:
            normalize_mac(mac)
        except FactsError:
            yield f"{where}.mac: {quoted(mac)} is neither keep (the source's) nor a MAC (aa:00:5e:00:53:01)"


def _is_zero(text: str) -> bool:
    try:
        return parse_size(text) == 0
    except SizeError:
        return False


def semantic_errors(doc: Mapping[str, Any]) -> list[str]:
    """Problems of a document that passed the schema, one line each, by key
    path; empty when every value is usable."""
    errors = [
        f"{where}: contains {bad}" for where, text in _strings(doc, "") if (bad := control_character(text))
    ]
    if errors:
        return errors  # the checks below would only repeat them
    if "cluster" in doc:
        errors += _with_cluster(doc)
        errors += _cluster(doc["cluster"])
        errors += _cluster_reach(doc)
    errors += _target(doc.get("target", {}))
    if "running" in doc.get("source", {}):
        errors += _target(doc["source"]["running"], "source.running")
        if doc.get("cluster") is not None:
            errors.append("source.running: a warm pass goes into an instance that exists; not with cluster")
    errors += _network(doc.get("network", {}))
    errors += _layout(doc)
    name = doc.get("hostname")
    if isinstance(name, str):
        problem = hostname_problem(name)
        if problem:
            errors.append(f"hostname: {problem}")
    for i, fixup in enumerate(doc.get("fixups", {}).get("disable", ())):
        if fixup not in OPTIONAL_FIXUPS:
            known = ", ".join(OPTIONAL_FIXUPS)
            errors.append(f"fixups.disable[{i}]: {fixup!r} is not an optional fixup; known: {known}")
    for i, disk in enumerate(doc.get("source", {}).get("disks", ())):
        if not _DEVICE.match(disk) or "/../" in disk + "/":
            errors.append(f"source.disks[{i}]: {disk!r} is not a device path such as /dev/sda")
    return errors
