"""What p2v creates on a Ganeti cluster: the answers' ``cluster:`` section
(:mod:`p2v_tui.model.answers_cluster`) and the cluster's facts
(:mod:`p2v_tui.model.rapi_cluster`) made into the
:class:`~p2v_tui.model.rapi_requests.InstanceSpec` that ``POST
/2/instances`` sends. Pure: the sizes the plan needs come in as numbers.

Sizes: the answers and the plan speak bytes, Ganeti MiB; a size is rounded
up to a whole MiB where it crosses over.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping, Sequence
from dataclasses import replace

from .answers_cluster import DISK_TEMPLATES, KEEP_MAC, ClusterAnswers, ClusterInstanceAnswers
from .edits import StaticAddress
from .layout import plan_layout
from .layout_sizes import with_headroom
from .machine import Machine
from .plan import BootMode, LayoutChoices, LayoutError
from .rapi_cluster import ClusterInfo, GroupInfo, InstanceInfo, IPolicy
from .rapi_requests import InstanceSpec, NicSpec
from .target import InstanceFacts, TargetDisk
from .units import GiB, MiB, align_up, format_size
from .validate import parse_ip

DISK_HEADROOM = 0.10
"""Added to the smallest disk the plan fits on when the answers give no
size. The plan's floors already hold ``layout.headroom`` of free space in
each filesystem; this is room for the disk's own growth (a later resize of
a filesystem needs no new disk)."""

DISK_ROUNDING = GiB
"""A default disk size is a whole number of GiB: a size a person reads and
types again (``gnt-instance grow-disk``)."""


class ClusterPlanError(ValueError):
    """The answers and the cluster's facts do not make an instance p2v can
    create; the message names the answer to change."""


def mib(n: int) -> int:
    """Bytes as Ganeti's MiB, rounded up."""
    return -(-n // MiB)


def policy_disk_bounds(
    policy: IPolicy, *, memory: int, vcpus: int, disk_count: int, nic_count: int
) -> tuple[tuple[int, int], ...]:
    """The (smallest, largest) disk size in MiB that each of the policy's
    (min, max) pairs allows an instance of this memory (MiB), vcpus and
    disk and NIC counts; a pair the instance does not fit otherwise is left
    out (Ganeti checks every value of one pair). Empty: no pair takes it."""
    out = []
    for low, high in policy.minmax:
        fits = (
            low.memory_size <= memory <= high.memory_size
            and low.cpu_count <= vcpus <= high.cpu_count
            and low.disk_count <= disk_count <= high.disk_count
            and low.nic_count <= nic_count <= high.nic_count
        )
        if fits:
            out.append((low.disk_size, high.disk_size))
    return tuple(out)


def default_disk_size(needed: int, bounds: Sequence[tuple[int, int]], headroom: float = DISK_HEADROOM) -> int:
    """The size in MiB of a disk p2v creates when the answers give none.

    ``needed``: bytes, the smallest disk the plan fits on; ``bounds``: the
    (smallest, largest) sizes in MiB the instance policy allows
    (:func:`policy_disk_bounds`).

    1. The wanted size is ``needed`` plus ``headroom``, rounded up to a
       whole GiB.
    2. A range that reaches the wanted size gives it, raised to the
       range's smallest size; of several, the smallest such size wins.
    3. Else a range that reaches ``needed`` itself gives its largest size:
       less headroom than wanted, but the data fits.
    4. Else no disk the policy allows holds the data: ClusterPlanError.
    """
    need = mib(needed)
    wanted = mib(align_up(with_headroom(needed, headroom), DISK_ROUNDING))
    reaching = [max(low, wanted) for low, high in bounds if low <= high and high >= wanted]
    if reaching:
        return min(reaching)
    largest = [high for low, high in bounds if low <= high and high >= need]
    if largest:
        return max(largest)
    if not bounds:
        raise ClusterPlanError(
            "the cluster's instance policy allows no instance of this memory, vcpus and disk and NIC count"
        )
    allowed = max(high for _low, high in bounds)
    raise ClusterPlanError(
        f"the plan needs a disk of {format_size(needed)}; the cluster's instance policy allows at most"
        f" {format_size(allowed * MiB)}"
    )


def disk_sizes(instance: ClusterInstanceAnswers, needed: Sequence[int], policy: IPolicy) -> tuple[int, ...]:
    """The MiB of each disk to create: the answers' own sizes (each at
    least what the plan needs on it), or one default per disk the plan
    needs (``needed``: bytes, disk by disk)."""
    if instance.disks is not None:
        if len(instance.disks) < len(needed):
            raise ClusterPlanError(
                f"cluster.instance.disks: {len(instance.disks)} given, the plan needs {len(needed)} disks"
            )
        for i, (size, need) in enumerate(zip(instance.disks, needed, strict=False)):
            if size < need:
                raise ClusterPlanError(
                    f"cluster.instance.disks[{i}]: {format_size(size)} is less than the"
                    f" {format_size(need)} the plan needs on it"
                )
        return tuple(mib(n) for n in instance.disks)
    if not needed:
        raise ClusterPlanError("the plan needs no disk: nothing to create")
    bounds = policy_disk_bounds(
        policy,
        memory=mib(instance.memory),
        vcpus=instance.vcpus,
        disk_count=len(needed),
        nic_count=len(instance.nics),
    )
    return tuple(default_disk_size(n, bounds) for n in needed)


def _disk_template(instance: ClusterInstanceAnswers, info: ClusterInfo) -> str:
    if instance.disk_template is not None:
        if instance.disk_template not in info.enabled_disk_templates:
            enabled = ", ".join(info.enabled_disk_templates) or "none"
            raise ClusterPlanError(
                f"cluster.instance.disk_template: {instance.disk_template} is not enabled on the"
                f" cluster (enabled: {enabled})"
            )
        return instance.disk_template
    for template in info.enabled_disk_templates:  # Ganeti's own default is the first
        if template in DISK_TEMPLATES:
            return template
    raise ClusterPlanError(
        "cluster.instance.disk_template: the cluster enables no template p2v can create an instance"
        f" with ({', '.join(info.enabled_disk_templates) or 'none'}); give one of {', '.join(DISK_TEMPLATES)}"
    )


def _placement(instance: ClusterInstanceAnswers, info: ClusterInfo) -> tuple[str | None, str | None]:
    """(pnode, iallocator): the answers' one, else the cluster's default allocator."""
    if instance.pnode is not None or instance.iallocator is not None:
        return instance.pnode, instance.iallocator
    if info.default_iallocator is None:
        raise ClusterPlanError(
            "cluster.instance.pnode: the cluster has no default iallocator; name the node (or an iallocator)"
        )
    return None, info.default_iallocator


def instance_spec(
    cluster: ClusterAnswers,
    info: ClusterInfo,
    disks: Sequence[int],
    source_macs: Mapping[int, str] | None = None,
) -> InstanceSpec:
    """The instance to create: the answers' values, the cluster's defaults
    for what they leave out, ``disks`` in MiB (:func:`disk_sizes`), and for
    a NIC whose ``mac`` is ``keep`` the MAC of the source interface it
    replaces (``source_macs``: NIC index -> MAC). Created stopped, with the
    ramboot kernel and initrd as its hypervisor parameters (its first start
    boots the bootstrap OS). The OS parameters (``ssh_key``, the generated
    host key as a secret) are the caller's to add."""
    inst = cluster.instance
    macs = source_macs or {}
    nics = []
    for i, nic in enumerate(inst.nics):
        mac = nic.mac
        if mac == KEEP_MAC:
            if i not in macs:
                raise ClusterPlanError(
                    f"cluster.instance.nics[{i}].mac: keep, but no source interface for NIC {i}"
                )
            mac = macs[i]
        nics.append(NicSpec(link=nic.link, network=nic.network, ip=nic.ip, mac=mac))
    pnode, iallocator = _placement(inst, info)
    return InstanceSpec(
        name=inst.name,
        os_type=inst.os_type,
        disk_template=_disk_template(inst, info),
        disks=tuple(disks),
        nics=tuple(nics),
        memory=mib(inst.memory),
        vcpus=inst.vcpus,
        pnode=pnode,
        iallocator=iallocator,
        hvparams={"kernel_path": inst.ramboot.kernel, "initrd_path": inst.ramboot.initrd},
    )


# --- what the plan needs, where p2v reaches the instance, the hand-over ----------

BOOTSTRAP_DISK = "/dev/vda"
"""How the bootstrap OS sees disk 0 (KVM's virtio, Ganeti's default)."""

_SIZE_ROUNDS = 8


def needed_disk_size(machine: Machine, layout: LayoutChoices) -> int:
    """Bytes of the smallest single disk the plan fits on, swap kept when
    the answers leave it to p2v (``auto`` would drop it on a tight disk).
    ``layout`` holds the measured exclusion sizes. A plan that needs more
    than one disk (explicit partitions on disk 1 and up) must name the
    sizes itself (:class:`ClusterPlanError`)."""
    if any(p.disk for p in layout.explicit or ()):
        raise ClusterPlanError("cluster.instance.disks: needed when layout.partitions use more than one disk")
    choices = replace(layout, swap="keep" if layout.swap == "auto" else layout.swap)
    size = 16 * MiB
    for _ in range(_SIZE_ROUNDS):
        try:
            plan_layout(machine, (TargetDisk(0, BOOTSTRAP_DISK, size),), choices)
            return size
        except LayoutError as e:
            if e.missing <= 0:
                raise ClusterPlanError(f"the plan cannot be made: {e}") from None
            size = align_up(size + e.missing, MiB)
    raise ClusterPlanError("the plan's size does not settle; give cluster.instance.disks")


def planning_policy(info: ClusterInfo, groups: Sequence[GroupInfo], pnode_group: str | None) -> IPolicy:
    """The instance policy a create is checked against: the group of the
    node named, the only group, else the cluster's (an allocator picks the
    group)."""
    if pnode_group is not None:
        found = [g for g in groups if g.uuid == pnode_group]
        if found:
            return found[0].ipolicy
    if len(groups) == 1:
        return groups[0].ipolicy
    return info.ipolicy


def bootstrap_osparams(instance: ClusterInstanceAnswers, public_key: str) -> dict[str, str]:
    """The p2v-target OS parameters that are not secret: who may log in,
    and the bootstrap's network when the answers give it."""
    params = {"ssh_key": public_key}
    if instance.address is not None:
        params["address"] = instance.address
    if instance.gateway is not None:
        params["gateway"] = instance.gateway
    if instance.dns:
        params["dns"] = " ".join(instance.dns)
    return params


def host_ip(address: str) -> str:
    """The host's own address of ``198.51.100.20/24`` (ValueError when it
    is not an address with a prefix)."""
    return str(ipaddress.ip_interface(address.strip()).ip)


def proof_address(cluster: ClusterAnswers, static: StaticAddress | None) -> str:
    """Where the migrated server must answer SSH: the answers'
    ``migrated_address``, else the static address the fixups give it."""
    if cluster.migrated_address:
        return cluster.migrated_address
    return host_ip(static.address) if static else ""


def bootstrap_nics(instance: ClusterInstanceAnswers) -> ClusterInstanceAnswers:
    """NIC 0 gets the bootstrap's address as its Ganeti IP when the answers
    give an address and NIC 0 no ip (Ganeti then knows the address too)."""
    if instance.address is None or instance.nics[0].ip is not None:
        return instance
    ip = host_ip(instance.address)
    return replace(instance, nics=(replace(instance.nics[0], ip=ip), *instance.nics[1:]))


def bootstrap_address(instance: ClusterInstanceAnswers, created: InstanceInfo) -> str:
    """Where the created bootstrap answers SSH: the answers' address, else
    the IP Ganeti gave NIC 0 (its network's ``pool``)."""
    if instance.address is not None:
        return host_ip(instance.address)
    ip = created.nics[0].ip if created.nics else None
    if ip is None:
        raise ClusterPlanError(
            f"instance {created.name}: Ganeti gave NIC 0 no IP; give cluster.instance.address"
        )
    try:
        return str(parse_ip(ip, "NIC 0's IP"))
    except ValueError as e:
        raise ClusterPlanError(f"instance {created.name}: {e}") from None


def final_hvparams(boot: BootMode) -> dict[str, str]:
    """The hypervisor parameters the migrated server starts with: its own
    disk (GRUB) with no kernel given, or the cluster's kernel and initrd
    (the instance's ramboot values dropped)."""
    if boot == "own":
        return {"kernel_path": "", "initrd_path": ""}
    return {"kernel_path": "default", "initrd_path": "default"}


def cluster_boot_problem(boot: BootMode, info: ClusterInfo) -> str | None:
    """Why the cluster cannot start the migrated server as planned."""
    if boot == "cluster" and not info.kernel_path:
        return (
            "boot: cluster, but the cluster's hypervisor parameters name no kernel_path; boot: own,"
            " or ask the admin for a cluster kernel"
        )
    return None


def run_beparams(instance: ClusterInstanceAnswers) -> dict[str, int]:
    """The migrated server's memory (MiB), set at the hand-over."""
    memory = mib(instance.run_memory)
    return {"maxmem": memory, "minmem": memory}


def planned_facts(spec: InstanceSpec) -> InstanceFacts:
    """What the bootstrap of ``spec`` will report, for planning before it
    exists (``--dry-run``, and the checks before anything is created). The
    NICs' MACs are not known yet: the network fixups are planned again
    once the instance reports its own."""
    return InstanceFacts(
        name=spec.name,
        disks=tuple(TargetDisk(i, f"/dev/vd{chr(ord('a') + i)}", n * MiB) for i, n in enumerate(spec.disks)),
        origin="answers",
    )
