"""What the schema cannot say about an answers file.

The JSON Schema (p2v_tui/data/answers.schema.json) checks keys, types and
the shape of values; :func:`semantic_errors` then checks what each value
*is*, because most of them end up in the migrated system's configuration
files, in commands on the target or on a console: addresses are addresses
(a newline in a gateway would become an ``up`` line in
/etc/network/interfaces, a root command at every boot), host names follow
RFC 1123, sizes are within what a disk can be, paths have no ``..``, and no
string anywhere holds a control character. Every problem is one line
starting with its key path.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator, Mapping
from typing import Any

from .fixups import FIXUPS
from .hostkey import HostKeyPinError, parse_pin
from .units import KiB, SizeError, format_size, parse_size
from .validate import (
    control_character,
    hostname_problem,
    parse_dns_server,
    parse_gateway,
    parse_interface_address,
    parse_ip,
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


def _size(text: str, where: str, *, minimum: int = 1) -> tuple[int | None, str | None]:
    try:
        n = parse_size(text)
    except SizeError as e:
        return None, f"{where}: {e}"
    if n < minimum:
        return None, f"{where}: {text!r} is less than {format_size(minimum)}"
    if n > MAX_BYTES:
        return None, f"{where}: {text!r} is more than {format_size(MAX_BYTES)}"
    return n, None


def _target(t: Mapping[str, Any]) -> Iterator[str]:
    host = t.get("host")
    if isinstance(host, str):
        try:
            parse_ip(host, "target.host")
        except ValueError:
            problem = hostname_problem(host)
            if problem:
                yield f"target.host: neither an IP address nor a host name ({problem})"
    user = t.get("user")
    if isinstance(user, str) and not _USER.match(user):
        yield f"target.user: {user!r} is not a user name (lower-case letters, digits, '_' and '-')"
    pin = t.get("host_key")
    if isinstance(pin, str):
        try:
            parse_pin(pin)
        except HostKeyPinError as e:
            yield f"target.host_key: {e}"
    timeout = t.get("connect_timeout")
    if isinstance(timeout, float) and not math.isfinite(timeout):
        yield f"target.connect_timeout: expected a number of seconds, got {timeout}"
    elif isinstance(timeout, int | float) and timeout > MAX_CONNECT_TIMEOUT:
        yield f"target.connect_timeout: {timeout} s is more than {MAX_CONNECT_TIMEOUT:.0f} s"


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
    errors += _target(doc.get("target", {}))
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
