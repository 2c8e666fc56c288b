"""The cluster, its node groups, nodes and instances as Ganeti's RAPI
describes them (``GET /2/info``, ``/2/groups``, ``/2/nodes?bulk=1``,
``/2/instances/NAME``), parsed strictly into the fields p2v plans and
acts on; the rest of each answer is left alone. See
:mod:`p2v_tui.model.rapi` for how answers are treated.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping
from dataclasses import dataclass

from .rapi_values import (
    MIB_MAX,
    MalformedRapiAnswer,
    as_bool,
    as_int,
    as_list,
    as_name,
    as_names,
    as_object,
    as_optional_int,
    as_optional_name,
    as_path,
    as_token,
    kind,
)

_MAC = re.compile(r"[0-9a-f]{2}(:[0-9a-f]{2}){5}\Z")


@dataclass(frozen=True)
class ISpec:
    """One bound of an instance policy (sizes in MiB; disk size per disk)."""

    memory_size: int
    disk_size: int
    disk_count: int
    cpu_count: int
    nic_count: int
    spindle_use: int


@dataclass(frozen=True)
class IPolicy:
    """A node group's (or the cluster's) instance policy: an instance must
    fit one (min, max) pair of ``minmax``, and its disk template must be
    in ``disk_templates``."""

    minmax: tuple[tuple[ISpec, ISpec], ...]
    std: ISpec | None
    disk_templates: tuple[str, ...]
    vcpu_ratio: float
    spindle_ratio: float


def _ispec(value: object, what: str) -> ISpec:
    spec = as_object(value, what)

    def get(key: str) -> int:
        return as_int(spec.get(key), f"{what} {key}", MIB_MAX)

    return ISpec(
        get("memory-size"),
        get("disk-size"),
        get("disk-count"),
        get("cpu-count"),
        get("nic-count"),
        get("spindle-use"),
    )


def _ratio(value: object, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1e6:
        raise MalformedRapiAnswer(f"{what} is {kind(value)}, not a ratio")
    return float(value)


def parse_ipolicy(doc: object) -> IPolicy:
    policy = as_object(doc, "the instance policy")
    pairs = []
    for i, pair in enumerate(as_list(policy.get("minmax"), "ipolicy minmax", 100)):
        bounds = as_object(pair, f"ipolicy minmax[{i}]")
        pairs.append(
            (_ispec(bounds.get("min"), f"ipolicy min[{i}]"), _ispec(bounds.get("max"), f"ipolicy max[{i}]"))
        )
    if not pairs:
        raise MalformedRapiAnswer("the instance policy has no minmax bounds")
    std = policy.get("std")
    return IPolicy(
        minmax=tuple(pairs),
        std=None if std is None else _ispec(std, "ipolicy std"),
        disk_templates=tuple(
            as_token(t, "an ipolicy disk template")
            for t in as_list(policy.get("disk-templates"), "disk-templates", 100)
        ),
        vcpu_ratio=_ratio(policy.get("vcpu-ratio"), "vcpu-ratio"),
        spindle_ratio=_ratio(policy.get("spindle-ratio"), "spindle-ratio"),
    )


@dataclass(frozen=True)
class ClusterInfo:
    """``GET /2/info``: what p2v plans an instance with."""

    name: str
    master: str
    software_version: str
    """Ganeti's version as it says it, e.g. ``3.0.2``."""
    version: tuple[int, ...]
    """The leading numbers of ``software_version``: ``(3, 0, 2)``."""
    enabled_disk_templates: tuple[str, ...]
    enabled_hypervisors: tuple[str, ...]
    default_hypervisor: str | None
    default_iallocator: str | None
    """None when the cluster has none (then a node must be named)."""
    ipolicy: IPolicy
    """The cluster's; what create checks is the node group's (:class:`GroupInfo`)."""
    nic_link: str | None
    """The default NIC link (bridge) of ``nicparams``."""
    nic_mode: str | None
    kernel_path: str | None
    """The default hypervisor's cluster-wide ``kernel_path``: what an
    instance boots after its own is reset to ``default`` (``""``: its disk)."""
    initrd_path: str | None
    user_shutdown: bool
    """``enabled_user_shutdown``: a guest's power-off is then USER_down."""


def _version(text: str) -> tuple[int, ...]:
    m = re.match(r"[0-9]{1,6}(\.[0-9]{1,6}){0,3}", text)
    if not m:
        raise MalformedRapiAnswer(f"software version {text[:40]!r} does not start with numbers")
    return tuple(int(n) for n in m.group().split("."))


def _defaults(info: Mapping[str, object], key: str, section: str | None) -> dict[str, object]:
    """``info[key][section]``, an object; ``{}`` when either is missing."""
    outer = info.get(key)
    inner = outer.get(section) if isinstance(outer, dict) and section is not None else None
    return as_object(inner, f"{key}.{section}") if inner is not None else {}


def parse_cluster_info(doc: object) -> ClusterInfo:
    info = as_object(doc, "the cluster info")
    software = as_name(info.get("software_version"), "software_version")
    hypervisor = as_optional_name(info.get("default_hypervisor"), "default_hypervisor")
    nic = _defaults(info, "nicparams", "default")
    hv = _defaults(info, "hvparams", hypervisor)
    return ClusterInfo(
        name=as_name(info.get("name"), "the cluster's name"),
        master=as_name(info.get("master"), "the master's name"),
        software_version=software,
        version=_version(software),
        enabled_disk_templates=tuple(
            as_token(t, "a disk template")
            for t in as_list(info.get("enabled_disk_templates"), "enabled_disk_templates", 100)
        ),
        enabled_hypervisors=as_names(info.get("enabled_hypervisors") or [], "enabled_hypervisors"),
        default_hypervisor=hypervisor,
        default_iallocator=as_optional_name(info.get("default_iallocator"), "default_iallocator"),
        ipolicy=parse_ipolicy(info.get("ipolicy")),
        nic_link=as_optional_name(nic.get("link"), "the default NIC link"),
        nic_mode=as_optional_name(nic.get("mode"), "the default NIC mode"),
        kernel_path=None if "kernel_path" not in hv else as_path(hv["kernel_path"], "kernel_path"),
        initrd_path=None if "initrd_path" not in hv else as_path(hv["initrd_path"], "initrd_path"),
        user_shutdown=as_bool(info.get("enabled_user_shutdown", False), "enabled_user_shutdown"),
    )


@dataclass(frozen=True)
class GroupInfo:
    """``GET /2/groups/NAME`` (or one entry of ``?bulk=1``)."""

    name: str
    uuid: str
    alloc_policy: str
    nodes: tuple[str, ...]
    ipolicy: IPolicy
    """The group's effective policy: the one an instance-create checks."""


def parse_group(doc: object) -> GroupInfo:
    group = as_object(doc, "the node group")
    return GroupInfo(
        name=as_name(group.get("name"), "the group's name"),
        uuid=as_name(group.get("uuid"), "the group's uuid"),
        alloc_policy=as_token(group.get("alloc_policy"), "the group's alloc_policy"),
        nodes=as_names(group.get("node_list") or [], "the group's node_list"),
        ipolicy=parse_ipolicy(group.get("ipolicy")),
    )


def parse_groups(doc: object) -> tuple[GroupInfo, ...]:
    """``GET /2/groups?bulk=1``."""
    return tuple(parse_group(g) for g in as_list(doc, "the node groups"))


@dataclass(frozen=True)
class NodeInfo:
    """One node of ``GET /2/nodes?bulk=1`` (memory and disk in MiB; None
    when the node did not answer)."""

    name: str
    group_uuid: str | None
    offline: bool
    drained: bool
    vm_capable: bool
    memory_free: int | None
    memory_total: int | None
    disk_free: int | None

    @property
    def usable(self) -> bool:
        """Whether an instance may be placed on it."""
        return self.vm_capable and not self.offline and not self.drained


def parse_nodes(doc: object) -> tuple[NodeInfo, ...]:
    out = []
    for i, entry in enumerate(as_list(doc, "the nodes")):
        node = as_object(entry, f"node {i}")
        name = as_name(node.get("name"), f"node {i}'s name")
        out.append(
            NodeInfo(
                name=name,
                group_uuid=as_optional_name(node.get("group.uuid"), f"node {name}'s group"),
                offline=as_bool(node.get("offline"), f"node {name}'s offline"),
                drained=as_bool(node.get("drained"), f"node {name}'s drained"),
                vm_capable=as_bool(node.get("vm_capable"), f"node {name}'s vm_capable"),
                memory_free=as_optional_int(node.get("mfree"), f"node {name}'s mfree", MIB_MAX),
                memory_total=as_optional_int(node.get("mtotal"), f"node {name}'s mtotal", MIB_MAX),
                disk_free=as_optional_int(node.get("dfree"), f"node {name}'s dfree", MIB_MAX),
            )
        )
    return tuple(out)


# -- instances ---------------------------------------------------------------------


INSTANCE_STATUSES = frozenset(
    {
        "running",
        "ADMIN_down",
        "ADMIN_offline",
        "ERROR_down",
        "ERROR_up",
        "USER_down",
        "ERROR_nodedown",
        "ERROR_nodeoffline",
        "ERROR_wrongnode",
    }
)
"""Ganeti 3.0's instance statuses; another word is kept as said (a newer
Ganeti may add one)."""


@dataclass(frozen=True)
class InstanceNic:
    ip: str | None
    mac: str | None
    """Lower case, ``aa:00:00:11:22:33``."""
    link: str | None
    mode: str | None
    network: str | None
    """The Ganeti network's name, None when the NIC is in none."""


@dataclass(frozen=True)
class InstanceInfo:
    """``GET /2/instances/NAME``: the fields p2v acts on (sizes in MiB)."""

    name: str
    status: str
    """``running``, ``ADMIN_down``, ``ERROR_down`` (the guest stopped by
    itself while Ganeti wants it up), ...: see :data:`INSTANCE_STATUSES`."""
    admin_state: str
    """What Ganeti wants: ``up``, ``down`` or ``offline``."""
    oper_state: bool
    """Whether the hypervisor runs it."""
    os: str
    pnode: str
    disk_template: str
    disk_sizes: tuple[int, ...]
    nics: tuple[InstanceNic, ...]
    memory: int | None
    vcpus: int | None
    kernel_path: str | None
    """The effective hvparams it boots with next (``""``: its own disk)."""
    initrd_path: str | None


def _nic_column(inst: Mapping[str, object], key: str) -> list[object] | None:
    value = inst.get(key)
    return None if value is None else as_list(value, key, 64)


def _ip(value: object) -> str | None:
    if value is None:
        return None
    text = as_name(value, "a NIC's ip")
    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        raise MalformedRapiAnswer(f"a NIC's ip {text[:40]!r} is not an address") from None


def _mac(value: object) -> str | None:
    if value is None:
        return None
    text = as_name(value, "a NIC's mac").lower()
    if not _MAC.match(text):
        raise MalformedRapiAnswer(f"a NIC's mac {text[:40]!r} is not a MAC address")
    return text


def _nics(inst: Mapping[str, object]) -> tuple[InstanceNic, ...]:
    """The ``nic.*`` fields: parallel lists, one entry per NIC."""
    columns = {
        k: _nic_column(inst, k)
        for k in ("nic.ips", "nic.macs", "nic.links", "nic.modes", "nic.networks.names")
    }
    lengths = {len(c) for c in columns.values() if c is not None}
    if len(lengths) > 1:
        raise MalformedRapiAnswer(f"the nic.* lists have different lengths {sorted(lengths)}")
    count = lengths.pop() if lengths else 0

    def cell(key: str, i: int) -> object:
        column = columns[key]
        return None if column is None else column[i]

    return tuple(
        InstanceNic(
            ip=_ip(cell("nic.ips", i)),
            mac=_mac(cell("nic.macs", i)),
            link=as_optional_name(cell("nic.links", i), f"nic {i}'s link"),
            mode=as_optional_name(cell("nic.modes", i), f"nic {i}'s mode"),
            network=as_optional_name(cell("nic.networks.names", i), f"nic {i}'s network"),
        )
        for i in range(count)
    )


def parse_instance(doc: object) -> InstanceInfo:
    inst = as_object(doc, "the instance")
    name = as_name(inst.get("name"), "the instance's name")
    be = inst.get("beparams")
    be = as_object(be, "beparams") if be is not None else {}
    hv = inst.get("hvparams")
    hv = as_object(hv, "hvparams") if hv is not None else {}
    admin = as_token(inst.get("admin_state"), "admin_state")
    if admin not in ("up", "down", "offline"):
        raise MalformedRapiAnswer(f"admin_state {admin!r} is not up, down or offline")
    return InstanceInfo(
        name=name,
        status=as_token(inst.get("status"), "the instance's status"),
        admin_state=admin,
        oper_state=as_bool(inst.get("oper_state"), "oper_state"),
        os=as_name(inst.get("os"), "the instance's os"),
        pnode=as_name(inst.get("pnode"), "the instance's pnode"),
        disk_template=as_token(inst.get("disk_template"), "disk_template"),
        disk_sizes=tuple(
            as_int(s, f"disk {i}'s size", MIB_MAX)
            for i, s in enumerate(as_list(inst.get("disk.sizes") or [], "disk.sizes", 64))
        ),
        nics=_nics(inst),
        memory=as_optional_int(be.get("maxmem", be.get("memory")), "the instance's memory", MIB_MAX),
        vcpus=as_optional_int(be.get("vcpus"), "the instance's vcpus", 4096),
        kernel_path=None if "kernel_path" not in hv else as_path(hv["kernel_path"], "kernel_path"),
        initrd_path=None if "initrd_path" not in hv else as_path(hv["initrd_path"], "initrd_path"),
    )
