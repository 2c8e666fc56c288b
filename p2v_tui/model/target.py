"""The target instance: its disks and the Ganeti facts the engine needs.

Facts come from ``/etc/p2v-target/instance.json`` written by the p2v-target
OS definition into the bootstrap OS, or, without that file, from the answers
file. :func:`facts_from_json` validates and converts that document.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

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


def _req(doc: Mapping[str, Any], key: str, kind: type, where: str) -> Any:
    if key not in doc:
        raise FactsError(f"{where}{key}: required")
    value = doc[key]
    if kind is int and isinstance(value, bool):
        raise FactsError(f"{where}{key}: expected an integer")
    if not isinstance(value, kind):
        raise FactsError(f"{where}{key}: expected {kind.__name__}, got {type(value).__name__}")
    return value


def _opt(doc: Mapping[str, Any], key: str, kind: type, default: Any, where: str) -> Any:
    if doc.get(key) is None:
        return default
    return _req(doc, key, kind, where)


def normalize_mac(mac: str) -> str:
    parts = mac.replace("-", ":").lower().split(":")
    if len(parts) != 6 or not all(len(p) == 2 and all(c in "0123456789abcdef" for c in p) for p in parts):
        raise FactsError(f"not a MAC address: {mac!r}")
    return ":".join(parts)


def facts_from_json(doc: Mapping[str, Any], origin: Literal["target", "answers"] = "target") -> InstanceFacts:
    """Convert an instance.json document (schema version 1) to facts.

    The schema is documented in README ("Instance facts"): a flat object with
    ``version``, ``name``, ``hypervisor``, ``serial_console``, ``kernel_path``,
    ``initrd_path``, ``root_path``, ``kernel_args``, ``os_variant``, ``disks``
    (``index``, ``size`` in bytes, ``path``) and ``nics`` (``index``, ``mac``,
    ``ip``, ``mode``, ``link``, ``network``).
    """
    if not isinstance(doc, Mapping):
        raise FactsError("instance facts: expected an object")
    version = _opt(doc, "version", int, INSTANCE_FACTS_VERSION, "")
    if version != INSTANCE_FACTS_VERSION:
        raise FactsError(f"version: unsupported instance facts version {version}")
    hv = _opt(doc, "hypervisor", str, "kvm", "")
    if hv not in ("kvm", "xen-pvm", "xen-hvm", "lxc", "fake"):
        hv = "unknown"
    disks = []
    for i, d in enumerate(_opt(doc, "disks", list, [], "")):
        where = f"disks[{i}]."
        if not isinstance(d, Mapping):
            raise FactsError(f"disks[{i}]: expected an object")
        disks.append(
            TargetDisk(
                index=_opt(d, "index", int, i, where),
                path=_req(d, "path", str, where),
                size=_req(d, "size", int, where),
            )
        )
    nics = []
    for i, n in enumerate(_opt(doc, "nics", list, [], "")):
        where = f"nics[{i}]."
        if not isinstance(n, Mapping):
            raise FactsError(f"nics[{i}]: expected an object")
        try:
            mac = normalize_mac(_req(n, "mac", str, where))
        except FactsError as e:
            raise FactsError(f"{where}mac: {e}") from None
        nics.append(
            Nic(
                index=_opt(n, "index", int, i, where),
                mac=mac,
                ip=_opt(n, "ip", str, None, where) or None,
                mode=_opt(n, "mode", str, "", where),
                link=_opt(n, "link", str, "", where),
                network=_opt(n, "network", str, None, where) or None,
            )
        )
    return InstanceFacts(
        name=_req(doc, "name", str, ""),
        hypervisor=hv,
        serial_console=_opt(doc, "serial_console", bool, True, ""),
        kernel_path=_opt(doc, "kernel_path", str, "", ""),
        initrd_path=_opt(doc, "initrd_path", str, "", ""),
        root_path=_opt(doc, "root_path", str, "/dev/vda1", ""),
        kernel_args=_opt(doc, "kernel_args", str, "", ""),
        os_variant=_opt(doc, "os_variant", str, "default", ""),
        disks=tuple(sorted(disks, key=lambda d: d.index)),
        nics=tuple(sorted(nics, key=lambda n: n.index)),
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
