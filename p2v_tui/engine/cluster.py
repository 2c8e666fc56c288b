"""Self-service on Ganeti: the bootstrap instance p2v creates through the
cluster's remote API, and the hand-over to the migrated server.

1. :func:`check_cluster` (nothing is created): the certificate pin and the
   password (the write probe), the features, that no instance of the name
   exists, the instance policy, the disk sizes the plan needs, a boot the
   cluster can do, a source host key to prove the boot by, then Ganeti's
   own dry run of the creation (which runs the OS definition's verify with
   the generated host key).
2. :func:`create_bootstrap`: the creation (stopped, with the ramboot
   kernel and initrd), its start, and the address p2v connects to with the
   generated host key pinned: nobody reads a console.
3. :func:`hand_over`, after the copy: the bootstrap stopped, the migrated
   server's hypervisor and memory parameters set, the instance started, and
   the proof: the migrated server answers SSH at its address with the
   source's own host key within a bounded time. If it does not, the
   instance is stopped again and the person is told how to go back.

The RAPI client and the clock are the caller's (Session's parts); every
wait is bounded.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Protocol

from ..model.answers_cluster import ClusterAnswers
from ..model.cluster_plan import (
    ClusterPlanError,
    bootstrap_address,
    bootstrap_nics,
    bootstrap_osparams,
    cluster_boot_problem,
    disk_sizes,
    final_hvparams,
    instance_spec,
    needed_disk_size,
    planning_policy,
    run_beparams,
)
from ..model.events import Log
from ..model.hostkey import SOURCE_HOST_KEYS, GeneratedHostKey, HostKeyPin, pin_text, source_host_pins
from ..model.machine import Machine
from ..model.plan import LayoutChoices
from ..model.rapi import Job, JobProgress
from ..model.rapi_cluster import ClusterInfo, GroupInfo, InstanceInfo, NodeInfo
from ..model.rapi_requests import InstanceSpec, RapiSettingError
from ..model.validate import printable
from ..system.rapi_errors import RapiError

log = logging.getLogger(__name__)

CREATE_FEATURE = "instance-create-reqv1"
"""The create body p2v sends (``__version__: 1``) needs it."""

DRY_RUN_TIMEOUT = 300.0
CREATE_TIMEOUT = 1800.0
"""The OS create unpacks the bootstrap (seconds on a file disk; a DRBD
disk's first sync can take far longer)."""
START_TIMEOUT = 300.0
STOP_TIMEOUT = 300.0
SHUTDOWN_GRACE = 30
"""Seconds the bootstrap gets to power off cleanly (everything is already
unmounted and synced by then)."""
MODIFY_TIMEOUT = 300.0
BOOTSTRAP_SSH_TIMEOUT = 600.0
"""From the start job's end until the bootstrap answers SSH (35 s measured
under TCG; the ramboot copy into RAM takes longer on a slow node)."""

HOST_KEY_PARAMETER = "ssh_host_key"
"""The secret OS parameter the generated host key goes in."""


class ClusterRefused(Exception):
    """The cluster, the RAPI user or the answers do not allow the instance;
    nothing was created. One line."""


class HandOverFailed(Exception):
    """The migration is complete, but the migrated server did not come up
    as proven; the instance is left stopped (when p2v could stop it)."""


class Rapi(Protocol):
    """What p2v asks of the cluster's RAPI (system/rapi.RapiClient)."""

    def check_write_access(self) -> None: ...
    def features(self) -> frozenset[str]: ...
    def cluster_info(self) -> ClusterInfo: ...
    def groups(self) -> tuple[GroupInfo, ...]: ...
    def nodes(self) -> tuple[NodeInfo, ...]: ...
    def instance(self, name: str) -> InstanceInfo | None: ...
    def create_instance(self, spec: InstanceSpec, *, dry_run: bool) -> int: ...
    def startup(self, name: str) -> int: ...
    def shutdown(self, name: str, timeout: int = 0) -> int: ...
    def modify(self, name: str, hvparams: Mapping[str, str], beparams: Mapping[str, int]) -> int: ...
    def wait_for_job(
        self,
        job_id: int,
        *,
        deadline: float,
        on_progress: Callable[[JobProgress], None] | None = None,
        poll_interval: float = 1.0,
    ) -> Job: ...


@dataclass(frozen=True)
class ClusterReady:
    """Checked, nothing created yet: the instance as it will be created."""

    rapi: Rapi
    cluster: ClusterAnswers
    info: ClusterInfo
    spec: InstanceSpec
    """Without the secret (that is :attr:`host_key`'s private half)."""
    host_key: GeneratedHostKey = field(repr=False)


@dataclass(frozen=True)
class Created:
    name: str
    address: str
    """Where the bootstrap answers SSH."""
    host_key: str
    """The generated key's public half: the pin."""


@dataclass(frozen=True)
class Proof:
    address: str
    pin: HostKeyPin
    seconds: float


def _one_line(e: BaseException) -> str:
    return printable(str(e)).replace("\n", " ")


def _job(rapi: Rapi, what: str, job_id: int, deadline: float, emit: Callable[[Log], None]) -> Job:
    emit(Log("info", f"Ganeti job {job_id}: {what}"))

    def progress(p: JobProgress) -> None:
        for message in p.messages:
            emit(Log("info", f"Ganeti job {job_id}: {printable(message)}"))

    return rapi.wait_for_job(job_id, deadline=deadline, on_progress=progress)


def _pnode_group(rapi: Rapi, pnode: str | None) -> str | None:
    if pnode is None:
        return None
    nodes = {n.name: n for n in rapi.nodes()}
    node = nodes.get(pnode)
    if node is None:
        known = ", ".join(sorted(nodes)) or "none"
        raise ClusterRefused(f"cluster.instance.pnode: the cluster has no node {pnode} (nodes: {known})")
    if node.offline or node.drained or not node.vm_capable:
        raise ClusterRefused(
            f"cluster.instance.pnode: node {pnode} takes no new instance (offline, drained or not vm_capable)"
        )
    return node.group_uuid


def check_cluster(
    rapi: Rapi,
    cluster: ClusterAnswers,
    machine: Machine,
    layout: LayoutChoices,
    *,
    public_key: str,
    host_key: GeneratedHostKey,
    source_macs: Mapping[int, str],
    emit: Callable[[Log], None],
) -> ClusterReady:
    """Everything that can refuse the instance, before anything is created
    (:class:`ClusterRefused`, one line). ``layout`` holds the measured
    exclusion sizes; ``public_key`` becomes the instance's ``ssh_key``."""
    name = cluster.instance.name
    emit(
        Log(
            "info", f"Ganeti cluster {cluster.rapi}: checking the user {cluster.user} and the instance {name}"
        )
    )
    try:
        rapi.check_write_access()  # the pin first, then the password and the write right
        features = rapi.features()
        if CREATE_FEATURE not in features:
            raise ClusterRefused(
                f"the cluster's RAPI lacks the feature {CREATE_FEATURE} (Ganeti 2.x older than 2.6?):"
                " p2v cannot create instances there"
            )
        info = rapi.cluster_info()
        existing = rapi.instance(name)
        if existing is not None:
            same = "" if existing.name == name else f" (Ganeti matches {name} to it)"
            raise ClusterRefused(
                f"the cluster has an instance {existing.name} already{same}: p2v never reuses or"
                " removes one; choose another cluster.instance.name"
            )
        policy = planning_policy(info, rapi.groups(), _pnode_group(rapi, cluster.instance.pnode))
        problem = cluster_boot_problem(layout.boot, info) or source_key_problem(machine)
        if problem:
            raise ClusterRefused(problem)
        given = cluster.instance.disks
        # one disk: what the plan needs on it; several: the plan checks each
        # against the sizes the created instance reports, before any write
        needed = [0] * len(given) if given and len(given) > 1 else [needed_disk_size(machine, layout)]
        disks = disk_sizes(cluster.instance, needed, policy)
        instance = bootstrap_nics(cluster.instance)
        spec = instance_spec(dataclasses.replace(cluster, instance=instance), info, disks, source_macs)
        spec = dataclasses.replace(spec, osparams=bootstrap_osparams(instance, public_key))
        job = rapi.create_instance(_with_secret(spec, host_key), dry_run=True)
        _job(rapi, f"dry run of creating {name}", job, DRY_RUN_TIMEOUT, emit)
    except ClusterPlanError as e:
        raise ClusterRefused(str(e)) from None
    except (RapiError, RapiSettingError) as e:
        said = _one_line(e)  # the client's errors mostly name the cluster already
        raise ClusterRefused(
            said if str(cluster.rapi) in said else f"Ganeti cluster {cluster.rapi}: {said}"
        ) from None
    emit(Log("info", f"the cluster accepts {name} (dry run): nothing was created"))
    return ClusterReady(rapi, cluster, info, spec, host_key)


def source_key_problem(machine: Machine) -> str | None:
    """Why the hand-over could not prove the migrated server booted: it
    recognises it by one of the source's own host keys, read in the probe.
    Known before anything is created, so said then, not after the copy."""
    if source_host_pins(machine.config.files):
        return None
    return (
        f"the source has no SSH host key ({SOURCE_HOST_KEYS}): p2v recognises the migrated server by"
        " it to prove it booted; create the keys on the source (ssh-keygen -A) and run p2v again"
    )


def _with_secret(spec: InstanceSpec, host_key: GeneratedHostKey) -> InstanceSpec:
    return dataclasses.replace(spec, osparams_secret={HOST_KEY_PARAMETER: host_key.private})


def create_bootstrap(ready: ClusterReady, emit: Callable[[Log], None]) -> Created:
    """Create the instance (stopped), start the bootstrap OS; where it is.
    A failure after the create leaves the instance as it is (p2v never
    removes one); the message names it."""
    rapi, name = ready.rapi, ready.spec.name
    try:
        job = rapi.create_instance(_with_secret(ready.spec, ready.host_key), dry_run=False)
        _job(rapi, f"creating {name}", job, CREATE_TIMEOUT, emit)
    except (RapiError, RapiSettingError) as e:
        raise ClusterRefused(f"creating {name} failed: {_one_line(e)}") from None
    emit(Log("info", f"instance {name} created; starting its bootstrap OS (ramboot)"))
    try:
        _job(rapi, f"starting {name}", rapi.startup(name), START_TIMEOUT, emit)
        created = rapi.instance(name)
        if created is None or created.name != name:
            raise ClusterRefused(f"instance {name} is not on the cluster after its creation")
        address = bootstrap_address(ready.cluster.instance, created)
    except (RapiError, ClusterPlanError) as e:
        raise ClusterRefused(
            f"instance {name} was created but did not start: {_one_line(e)}; remove it"
            f" (gnt-instance remove {name}) or start it by hand"
        ) from None
    emit(
        Log("info", f"bootstrap of {name} started at {address}, host key {ready.host_key.public.split()[0]}")
    )
    return Created(name, address, ready.host_key.public)


ProveBoot = Callable[[str, float], tuple[float, HostKeyPin]]
"""(address, within seconds) -> seconds until the migrated server answered
SSH with one of the source's host keys, and that key (raises otherwise)."""


@dataclass(frozen=True)
class ClusterParts:
    """The side of the world a cluster run talks to (app: the real one)."""

    rapi: Callable[[ClusterAnswers], Rapi]
    new_host_key: Callable[[], GeneratedHostKey]
    public_key: Callable[[str], str]
    """The ``authorized_keys`` line of the private key file p2v logs in with."""
    source_macs: Callable[[], Mapping[int, str]]
    """NIC index -> the MAC of the source interface it replaces (``mac: keep``)."""
    prove: Callable[[str, tuple[HostKeyPin, ...], float], tuple[float, HostKeyPin]]
    """(address, the source's pins, within seconds): see :data:`ProveBoot`."""


def hand_over(
    ready: ClusterReady,
    *,
    boot: str,
    address: str,
    pins: tuple[HostKeyPin, ...],
    prove: ProveBoot,
    emit: Callable[[Log], None],
) -> Proof:
    """Stop the bootstrap, set how the migrated server starts, start it and
    prove it booted (:class:`HandOverFailed` otherwise, the instance then
    stopped)."""
    rapi, name = ready.rapi, ready.spec.name
    back = (
        f"the source's disks were never written: boot the source machine from its own disks again;"
        f" instance {name} keeps the migrated copy (report and console: gnt-instance console {name})"
    )
    if not pins:
        raise HandOverFailed(
            f"the source has no SSH host key (/etc/ssh/ssh_host_*_key.pub) to recognise the migrated"
            f" server by; start it yourself: gnt-instance modify -H kernel_path=,initrd_path= {name};"
            f" gnt-instance start {name}"
        )
    try:
        _job(
            rapi, f"stopping the bootstrap of {name}", rapi.shutdown(name, SHUTDOWN_GRACE), STOP_TIMEOUT, emit
        )
        hv = final_hvparams("own" if boot == "own" else "cluster")
        be = run_beparams(ready.cluster.instance)
        _job(rapi, f"setting how {name} starts", rapi.modify(name, hv, be), MODIFY_TIMEOUT, emit)
        _job(rapi, f"starting the migrated {name}", rapi.startup(name), START_TIMEOUT, emit)
    except (RapiError, RapiSettingError) as e:
        raise HandOverFailed(f"the hand-over of {name} failed: {_one_line(e)}; {back}") from None
    within = float(ready.cluster.boot_timeout)
    emit(
        Log("info", f"waiting up to {within:g} s for {name} to answer SSH at {address} with its own host key")
    )
    try:
        seconds, pin = prove(address, within)
    except Exception as e:  # whatever kept it from answering: said, and the instance stopped
        stopped = _stop(rapi, name, emit)
        raise HandOverFailed(
            f"the migrated {name} did not prove it booted: {_one_line(e)}; {stopped}; {back}"
        ) from None
    emit(Log("info", f"{name} booted and answered SSH at {address} in {seconds:.0f} s"))
    return Proof(address, pin, seconds)


def _stop(rapi: Rapi, name: str, emit: Callable[[Log], None]) -> str:
    try:
        _job(rapi, f"stopping {name}", rapi.shutdown(name, 0), STOP_TIMEOUT, emit)
    except RapiError as e:
        return f"stopping it failed too ({_one_line(e)}): gnt-instance shutdown {name}"
    return "the instance is stopped"


def booted_steps(name: str, proof: Proof) -> str:
    """What the person is told once the migrated server proved it booted."""
    return (
        f"Booted: {name} answered SSH at {proof.address} with the source's host key"
        f" ({pin_text(proof.pin)}) {proof.seconds:.0f} s after its start.\n"
        f"Next:\n  gnt-instance console {name}   (its console)\n"
        f"  the source machine stays as it was: switch it off once the instance serves"
    )
