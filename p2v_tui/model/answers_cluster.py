"""The answers file's ``cluster:`` section: p2v creates the bootstrap
instance itself, through the cluster's remote API (RAPI), instead of an
admin running ``gnt-instance add``.

The section says where the cluster is and how p2v proves it is the
cluster (``rapi``, ``certificate``), who p2v is there (``user``,
``password_file``: the password itself is never in an answers file), and
what to create (``instance``). Its values are checked, with the other
answers, by :mod:`p2v_tui.model.answers_checks`, using the parsers that
build the requests (:mod:`p2v_tui.model.rapi_requests`);
:func:`cluster_from_doc` converts a section that passed them.

With a ``cluster:`` section, ``target.host`` and ``target.host_key`` are
not given: the address is the created instance's, and its host key the one
p2v generates for it. ``target.identity`` (the key p2v logs in with; its
public half becomes the instance's ``ssh_key``), ``port``, ``user`` and
``connect_timeout`` stay. The top-level ``instance:`` facts are not given
either: the instance p2v creates reports its own.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from .rapi_requests import CertPin, RapiEndpoint, parse_cert_pin, parse_rapi_url
from .target import normalize_mac
from .units import GiB, MiB, TiB, exact_size_text, parse_size

DISK_TEMPLATES = ("plain", "drbd", "file", "sharedfile", "rbd", "ext", "gluster")
"""Ganeti's disk templates p2v can create an instance with: not
``diskless`` (nothing to migrate onto) nor ``blockdev`` (it adopts
existing devices, it creates none). The schema holds the same list."""

MEMORY_DEFAULT = 256 * MiB
MEMORY_MIN = 256 * MiB
"""The bootstrap OS copies itself into RAM: with less it stops on the
console (README, "Memory: 256 MiB": 192, 160 and 128 MiB measured)."""
RUN_MEMORY_DEFAULT = 1 * GiB
"""The migrated server's memory unless the answers say: what a small
server of the kind p2v migrates runs in; ``gnt-instance modify -B`` changes
it later."""
MEMORY_MAX = 4 * TiB
"""More than a Ganeti node has; beyond it the value is a typo."""

DISK_MIN = 1 * GiB
"""The bootstrap OS is unpacked onto disk 0 (194 MB) before it copies
itself into RAM; Ganeti's stock instance policy's smallest disk is 1 GiB."""

DISKS_MAX = 16
NICS_MAX = 8
"""Ganeti's limits (``constants.MAX_DISKS``, ``MAX_NICS``); the schema holds them too."""

OS_NAME = "p2v-target"
"""The OS definition an admin installs once (``osdef/``)."""

IMAGE_DIR = "/var/lib/ganeti-instance-p2v-target"
RAMBOOT_KERNEL = f"{IMAGE_DIR}/p2v-bootstrap-vmlinuz"
RAMBOOT_INITRD = f"{IMAGE_DIR}/p2v-bootstrap-initrd.img"
"""Where ``osdef/install`` puts the bootstrap's kernel and ramboot initrd
on every node (``IMAGE_DIR`` of /etc/default/ganeti-instance-p2v-target)."""

KEEP_MAC = "keep"

BOOT_TIMEOUT = 900
"""Seconds the migrated server has, from its start, to answer SSH with its
own host key (a first boot may run fsck and regenerate its initramfs)."""


@dataclass(frozen=True)
class NicAnswers:
    """One NIC of the instance to create."""

    link: str | None = None
    """A bridge; with neither a link nor a network: the cluster's default link."""
    network: str | None = None
    """A Ganeti network (it brings its link and mode)."""
    ip: str | None = None
    """The NIC's address as Ganeti records it, ``pool`` (a free one of
    the network), or None."""
    mac: str | None = None
    """``keep`` (the source's MAC, so that licences and DHCP leases bound
    to it still match), a MAC (lower case, colons), or None: Ganeti makes one."""


@dataclass(frozen=True)
class RambootAnswers:
    """Paths on the nodes of what the bootstrap instance boots."""

    kernel: str = RAMBOOT_KERNEL
    initrd: str = RAMBOOT_INITRD


@dataclass(frozen=True)
class ClusterInstanceAnswers:
    """``cluster.instance``: the instance p2v creates (sizes in bytes)."""

    name: str
    """Fully qualified; the migrated server's default hostname."""
    disk_template: str | None = None
    """None: the first of the cluster's enabled templates p2v can create."""
    disks: tuple[int, ...] | None = None
    """None: one disk per disk the plan needs, sized by
    :func:`p2v_tui.model.cluster_plan.default_disk_size`."""
    memory: int = MEMORY_DEFAULT
    vcpus: int = 1
    pnode: str | None = None
    iallocator: str | None = None
    """At most one of ``pnode`` and ``iallocator``; neither: the cluster's default iallocator."""
    nics: tuple[NicAnswers, ...] = (NicAnswers(),)
    os_variant: str = "default"
    ramboot: RambootAnswers = field(default_factory=RambootAnswers)
    address: str | None = None
    """The bootstrap's address on NIC 0 with its prefix (``198.51.100.20/24``):
    the ``address`` OS parameter, and NIC 0's Ganeti IP unless it has one.
    None: NIC 0's Ganeti network gives it (``ip`` an address or ``pool``)."""
    gateway: str | None = None
    dns: tuple[str, ...] = ()
    run_memory: int = RUN_MEMORY_DEFAULT
    """The migrated server's memory, set when p2v hands the instance over
    (``memory`` is the bootstrap's)."""

    @property
    def os_type(self) -> str:
        return f"{OS_NAME}+{self.os_variant}"


@dataclass(frozen=True)
class ClusterAnswers:
    rapi: RapiEndpoint
    user: str
    password_file: str
    """Path of the file whose first line is the RAPI password (read where
    p2v runs, when the run starts; never copied, logged or reported)."""
    pin: CertPin | None
    """The SHA-256 of the cluster's RAPI certificate, when the answers give it ..."""
    certificate_file: str | None
    """... or the path of a copy of the master's ``/var/lib/ganeti/rapi.pem``
    (read when the run starts). Exactly one of the two."""
    instance: ClusterInstanceAnswers
    migrated_address: str | None = None
    """Where the migrated server answers SSH once started (p2v proves it
    booted there); None: the answers' ``network.address``."""
    boot_timeout: int = BOOT_TIMEOUT


CertificateForm = Literal["pin", "file"]


def certificate_form(text: str) -> CertificateForm:
    """``certificate`` is the path of a PEM file when absolute, otherwise a
    fingerprint (none starts with ``/``: hex, ``SHA256:`` or openssl's
    ``sha256 Fingerprint=``)."""
    return "file" if text.startswith("/") else "pin"


def _nic(doc: Mapping[str, Any]) -> NicAnswers:
    mac = doc.get("mac")
    return NicAnswers(
        link=doc.get("link"),
        network=doc.get("network"),
        ip=doc.get("ip"),
        mac=None if mac is None else mac if mac == KEEP_MAC else normalize_mac(mac),
    )


def _instance(doc: Mapping[str, Any]) -> ClusterInstanceAnswers:
    ramboot = doc.get("ramboot", {})
    return ClusterInstanceAnswers(
        name=doc["name"],
        disk_template=doc.get("disk_template"),
        disks=tuple(parse_size(s) for s in doc["disks"]) if "disks" in doc else None,
        memory=parse_size(doc["memory"]) if "memory" in doc else MEMORY_DEFAULT,
        vcpus=doc.get("vcpus", 1),
        pnode=doc.get("pnode"),
        iallocator=doc.get("iallocator"),
        nics=tuple(_nic(n) for n in doc["nics"]) if "nics" in doc else (NicAnswers(),),
        os_variant=doc.get("os_variant", "default"),
        ramboot=RambootAnswers(
            kernel=ramboot.get("kernel", RAMBOOT_KERNEL), initrd=ramboot.get("initrd", RAMBOOT_INITRD)
        ),
        run_memory=parse_size(doc["run_memory"]) if "run_memory" in doc else RUN_MEMORY_DEFAULT,
        address=doc.get("address"),
        gateway=doc.get("gateway"),
        dns=tuple(doc.get("dns", ())),
    )


def cluster_from_doc(doc: Mapping[str, Any]) -> ClusterAnswers:
    """The ``cluster`` section of a document that passed the schema and
    the semantic checks (a value they refuse raises ValueError here)."""
    certificate: str = doc["certificate"]
    is_file = certificate_form(certificate) == "file"
    return ClusterAnswers(
        rapi=parse_rapi_url(doc["rapi"]),
        user=doc["user"],
        password_file=doc["password_file"],
        pin=None if is_file else parse_cert_pin(certificate),
        certificate_file=certificate if is_file else None,
        instance=_instance(doc["instance"]),
        migrated_address=doc.get("migrated_address"),
        boot_timeout=doc.get("boot_timeout", BOOT_TIMEOUT),
    )


def cluster_to_doc(c: ClusterAnswers) -> dict[str, Any]:
    """The section that reads back as ``c`` (inverse of :func:`cluster_from_doc`)."""
    i = c.instance
    inst: dict[str, Any] = {"name": i.name}
    if i.disk_template is not None:
        inst["disk_template"] = i.disk_template
    if i.disks is not None:
        inst["disks"] = [exact_size_text(n) for n in i.disks]
    inst["memory"] = exact_size_text(i.memory)
    inst["run_memory"] = exact_size_text(i.run_memory)
    inst["vcpus"] = i.vcpus
    for key in ("pnode", "iallocator"):
        if getattr(i, key) is not None:
            inst[key] = getattr(i, key)
    inst["nics"] = [
        {k: v for k, v in (("link", n.link), ("network", n.network), ("ip", n.ip), ("mac", n.mac)) if v}
        for n in i.nics
    ]
    inst["os_variant"] = i.os_variant
    inst["ramboot"] = {"kernel": i.ramboot.kernel, "initrd": i.ramboot.initrd}
    for key, value in (("address", i.address), ("gateway", i.gateway)):
        if value is not None:
            inst[key] = value
    if i.dns:
        inst["dns"] = list(i.dns)
    return {
        "rapi": str(c.rapi),
        "user": c.user,
        "password_file": c.password_file,
        "certificate": str(c.pin) if c.pin is not None else c.certificate_file,
        **({"migrated_address": c.migrated_address} if c.migrated_address is not None else {}),
        "boot_timeout": c.boot_timeout,
        "instance": inst,
    }
