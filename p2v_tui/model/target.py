"""The target instance: its disks and the Ganeti facts the engine needs.

Facts come from ``/etc/p2v-target/instance.json`` written by the p2v-target
OS definition into the bootstrap OS, or, without that file, from the answers
file. :func:`facts_from_json` validates and converts that document.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from .validate import device_path_problem, disk_size_problem, hostname_problem, parse_ip, quoted, text_problem

INSTANCE_FACTS_VERSION = 1

Hypervisor = Literal["kvm", "xen-pvm", "xen-hvm", "lxc", "fake", "unknown"]


@dataclass(frozen=True)
class TargetDisk:
    index: int
    path: str
    """Device node as the instance (and its bootstrap OS) sees it: /dev/vda."""
    size: int


@dataclass(frozen=True)
class Nic:
    index: int
    mac: str
    """Lower-case colon form ``aa:00:00:12:34:56``."""
    ip: str | None = None
    mode: str = ""
    link: str = ""
    network: str | None = None


@dataclass(frozen=True)
class InstanceFacts:
    name: str
    """Instance name as Ganeti knows it, usually the FQDN."""
    hypervisor: Hypervisor = "kvm"
    serial_console: bool = True
    kernel_path: str = ""
    """Cluster kernel; empty means the instance boots its own (bootloader)."""
    initrd_path: str = ""
    root_path: str = "/dev/vda1"
    kernel_args: str = ""
    os_variant: str = "default"
    disks: tuple[TargetDisk, ...] = ()
    nics: tuple[Nic, ...] = ()
    origin: Literal["target", "answers"] = "target"

    @property
    def short_name(self) -> str:
        return self.name.split(".", 1)[0]


class FactsError(ValueError):
    """instance.json (or the answers' instance section) is malformed."""


MAX_DEVICES = 64
"""Disks, and NICs, an instance may list (Ganeti allows far fewer)."""

NIC_MODES = ("", "bridged", "routed", "openvswitch")


def _req(doc: Mapping[str, Any], key: str, kind: type, where: str) -> Any:
    if key not in doc:
        raise FactsError(f"{where}{key}: required")
    value = doc[key]
    if kind is int and isinstance(value, bool):
        raise FactsError(f"{where}{key}: expected an integer")
    if not isinstance(value, kind):
        raise FactsError(f"{where}{key}: expected {kind.__name__}, got {type(value).__name__}")
    if isinstance(value, str):
        _check(where + key, text_problem(value))
    return value


def _opt(doc: Mapping[str, Any], key: str, kind: type, default: Any, where: str) -> Any:
    if doc.get(key) is None:
        return default
    return _req(doc, key, kind, where)


def _check(key: str, problem: str | None) -> None:
    if problem:
        raise FactsError(f"{key}: {problem}")


def _path_problem(path: str) -> str | None:
    """A path on a Ganeti node (kernel_path, initrd_path): empty or absolute."""
    return None if not path or path.startswith("/") else f"{path!r} is not an absolute path"


def _word_problem(text: str) -> str | None:
    """A Ganeti name (NIC link, network, OS variant): no blanks, at most 255."""
    if len(text) > 255 or any(c.isspace() for c in text):
        return f"{text[:40]!r} is not a name (no blanks, at most 255 characters)"
    return None


def _index(doc: Mapping[str, Any], default: int, where: str, seen: set[int]) -> int:
    index: int = _opt(doc, "index", int, default, where)
    if not 0 <= index < MAX_DEVICES or index in seen:
        raise FactsError(f"{where}index: {index} is not a new index from 0 to {MAX_DEVICES - 1}")
    seen.add(index)
    return index


def _list(doc: Mapping[str, Any], key: str) -> list[Any]:
    items: list[Any] = _opt(doc, key, list, [], "")
    if len(items) > MAX_DEVICES:
        raise FactsError(f"{key}: {len(items)} entries (at most {MAX_DEVICES})")
    for i, item in enumerate(items):
        if not isinstance(item, Mapping):
            raise FactsError(f"{key}[{i}]: expected an object")
    return items


def normalize_mac(mac: str) -> str:
    parts = mac.replace("-", ":").lower().split(":")
    if len(parts) != 6 or not all(len(p) == 2 and all(c in "0123456789abcdef" for c in p) for p in parts):
        raise FactsError(f"not a MAC address: {mac!r}")
    return ":".join(parts)


def _disks(doc: Mapping[str, Any]) -> list[TargetDisk]:
    disks: list[TargetDisk] = []
    indices: set[int] = set()
    for i, d in enumerate(_list(doc, "disks")):
        where = f"disks[{i}]."
        path: str = _req(d, "path", str, where)
        if path:  # empty: a disk the bootstrap OS does not see (README)
            _check(where + "path", device_path_problem(path))
            if any(path == other.path for other in disks):
                raise FactsError(f"{where}path: {path} is listed twice")
        size = _req(d, "size", int, where)
        _check(where + "size", disk_size_problem(size))
        disks.append(TargetDisk(index=_index(d, i, where, indices), path=path, size=size))
    return disks


def _nics(doc: Mapping[str, Any]) -> list[Nic]:
    nics = []
    indices: set[int] = set()
    for i, n in enumerate(_list(doc, "nics")):
        where = f"nics[{i}]."
        text = _req(n, "mac", str, where)
        try:
            mac = normalize_mac(text)
        except FactsError as e:
            raise FactsError(f"{where}mac: {e}") from None
        ip = _opt(n, "ip", str, None, where) or None
        if ip is not None:
            try:
                parse_ip(ip, "address")
            except ValueError as e:
                raise FactsError(f"{where}ip: {e}") from None
        mode = _opt(n, "mode", str, "", where)
        if mode not in NIC_MODES:
            raise FactsError(f"{where}mode: {mode[:40]!r} is not one of {', '.join(NIC_MODES[1:])}")
        link = _opt(n, "link", str, "", where)
        _check(where + "link", _word_problem(link))
        network = _opt(n, "network", str, None, where) or None
        _check(where + "network", _word_problem(network or ""))
        nics.append(Nic(_index(n, i, where, indices), mac, ip=ip, mode=mode, link=link, network=network))
    return nics


def facts_from_json(doc: Mapping[str, Any], origin: Literal["target", "answers"] = "target") -> InstanceFacts:
    """Convert an instance.json document (schema version 1) to facts,
    checking every value for what it is: it comes from the target (or a
    file) and ends up in configuration files, commands and on the console.

    The schema is documented in README ("Instance facts"): a flat object with
    ``version``, ``name``, ``hypervisor``, ``serial_console``, ``kernel_path``,
    ``initrd_path``, ``root_path``, ``kernel_args``, ``os_variant``, ``disks``
    (``index``, ``size`` in bytes, ``path``) and ``nics`` (``index``, ``mac``,
    ``ip``, ``mode``, ``link``, ``network``). Names are host names, paths
    ``/dev/...`` of plain characters, sizes from 1 byte to 2^50 (1 PiB), at
    most 64 disks and NICs; no string holds a control character.
    """
    if not isinstance(doc, Mapping):
        raise FactsError("instance facts: expected an object")
    version = _opt(doc, "version", int, INSTANCE_FACTS_VERSION, "")
    if version != INSTANCE_FACTS_VERSION:
        raise FactsError(f"version: unsupported instance facts version {version}")
    name = _req(doc, "name", str, "")
    problem = hostname_problem(name)
    _check("name", f"{quoted(name)} is not a host name: {problem}" if problem else None)
    hv = _opt(doc, "hypervisor", str, "kvm", "")
    if hv not in ("kvm", "xen-pvm", "xen-hvm", "lxc", "fake"):
        hv = "unknown"
    root_path = _opt(doc, "root_path", str, "/dev/vda1", "")
    _check("root_path", device_path_problem(root_path))
    paths = {key: _opt(doc, key, str, "", "") for key in ("kernel_path", "initrd_path")}
    for key, path in paths.items():
        _check(key, _path_problem(path))
    os_variant = _opt(doc, "os_variant", str, "default", "")
    _check("os_variant", _word_problem(os_variant))
    return InstanceFacts(
        name=name,
        hypervisor=hv,
        serial_console=_opt(doc, "serial_console", bool, True, ""),
        kernel_path=paths["kernel_path"],
        initrd_path=paths["initrd_path"],
        root_path=root_path,
        kernel_args=_opt(doc, "kernel_args", str, "", ""),
        os_variant=os_variant,
        disks=tuple(sorted(_disks(doc), key=lambda d: d.index)),
        nics=tuple(sorted(_nics(doc), key=lambda n: n.index)),
        origin=origin,
    )


def facts_to_json(facts: InstanceFacts) -> dict[str, Any]:
    """The inverse of :func:`facts_from_json` (for reports and tests)."""
    return {
        "version": INSTANCE_FACTS_VERSION,
        "name": facts.name,
        "hypervisor": facts.hypervisor,
        "serial_console": facts.serial_console,
        "kernel_path": facts.kernel_path,
        "initrd_path": facts.initrd_path,
        "root_path": facts.root_path,
        "kernel_args": facts.kernel_args,
        "os_variant": facts.os_variant,
        "disks": [{"index": d.index, "path": d.path, "size": d.size} for d in facts.disks],
        "nics": [
            {"index": n.index, "mac": n.mac, "ip": n.ip, "mode": n.mode, "link": n.link, "network": n.network}
            for n in facts.nics
        ],
    }
