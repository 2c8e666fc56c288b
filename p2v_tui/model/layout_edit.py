"""Turning the plan on screen and one edit into layout choices.

The layout screen shows a plan; every edit (grow, shrink, a typed size, fit,
take the rest, swap, move to another disk) is expressed as an explicit
layout, one request per target filesystem and swap partition, which the
planner then plans again. Without an edit the explicit layout reproduces
the automatic plan (the sizes it chose become fixed sizes), so the first
edit changes only what the person touched.

Pure: plain data in, plain data out; the layout screen only calls these.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass

from .machine import Machine
from .plan import LayoutChoices, LayoutRequest, Plan, PlannedPartition, SwapPolicy
from .target import TargetDisk
from .units import GiB, MiB, align_up

SWAP = "swap"


@dataclass(frozen=True)
class Step:
    """Grow (``sign`` 1) or shrink (-1) by :func:`step_size` of its disk."""

    index: int
    sign: int


@dataclass(frozen=True)
class SetSize:
    index: int
    size: int


@dataclass(frozen=True)
class Fit:
    """Used bytes plus headroom (for swap: the policy's or the source's size)."""

    index: int


@dataclass(frozen=True)
class Rest:
    """What the other partitions leave of the disk."""

    index: int


@dataclass(frozen=True)
class Move:
    index: int
    disk: int


@dataclass(frozen=True)
class SwapPolicyEdit:
    policy: SwapPolicy


Edit = Step | SetSize | Fit | Rest | Move | SwapPolicyEdit


def step_size(disk_size: int) -> int:
    """1 GiB, or a tenth of a disk smaller than 10 GiB (at least 1 MiB)."""
    return max(MiB, min(GiB, disk_size // 10 // MiB * MiB))


def _source_swaps(machine: Machine) -> list[str]:
    return [s.path for s in machine.swaps if s.kind == "partition"]


def _swap_partitions(plan: Plan, machine: Machine) -> list[PlannedPartition]:
    """The plan's swap partitions in the order of the source's: the k-th
    swap request replaces the k-th source swap partition."""
    order = {path: i for i, path in enumerate(_source_swaps(machine))}
    swaps = [p for p in plan.partitions if p.role == "swap"]
    return sorted(swaps, key=lambda p: order.get(p.source or "", len(order)))


def requests_from_plan(plan: Plan, machine: Machine) -> tuple[LayoutRequest, ...]:
    """One fixed-size request per filesystem (and ESP) in the plan's order,
    then one per swap partition, each keeping its filesystem type and disk."""
    fss = [
        LayoutRequest(p.mountpoint, "size", p.size, p.fstype, p.disk_index)
        for p in plan.partitions
        if p.role in ("filesystem", "esp") and p.mountpoint
    ]
    swaps = [LayoutRequest(SWAP, "size", p.size, None, p.disk_index) for p in _swap_partitions(plan, machine)]
    return (*fss, *swaps)


def explicit_from_plan(plan: Plan, choices: LayoutChoices, machine: Machine) -> LayoutChoices:
    """``choices`` with the plan written out as an explicit layout."""
    return dataclasses.replace(choices, explicit=requests_from_plan(plan, machine))


def current_requests(plan: Plan, choices: LayoutChoices, machine: Machine) -> tuple[LayoutRequest, ...]:
    """What the person asked for so far: the explicit layout, else the plan."""
    if choices.explicit is not None:
        return choices.explicit
    return requests_from_plan(plan, machine)


def partition_for(
    requests: Sequence[LayoutRequest], index: int, plan: Plan, machine: Machine
) -> PlannedPartition | None:
    """The partition of ``plan`` that request ``index`` became (if any)."""
    r = requests[index]
    if r.mountpoint != SWAP:
        return plan.partition_at(r.mountpoint)
    k = sum(1 for q in requests[:index] if q.mountpoint == SWAP)
    sources = _source_swaps(machine)
    if k < len(sources):
        found = plan.partition_for_source(sources[k])
        if found is not None:
            return found
    swaps = _swap_partitions(plan, machine)
    return swaps[k] if k < len(swaps) and swaps[k].source is None else None


def shown_size(r: LayoutRequest, part: PlannedPartition | None, disk_size: int, planned: bool) -> int:
    """The size to show for a request: the plan's when ``planned`` (the plan
    is the outcome of these requests), else what was asked (``fit``: the
    floor the plan reported; ``rest``: nothing known, 0)."""
    if planned and part is not None:
        return part.size
    if r.mode == "size":
        return align_up(r.size)
    if r.mode == "percent":
        return disk_size * r.size // 100 // MiB * MiB
    if r.mode == "fit" and part is not None:
        return part.min_size or part.size
    return 0


def _disk_size(disks: Sequence[TargetDisk], index: int) -> int:
    return next((d.size for d in disks if d.index == index), 0)


def apply_edit(
    edit: Edit | None,
    *,
    plan: Plan,
    choices: LayoutChoices,
    machine: Machine,
    disks: Sequence[TargetDisk],
) -> LayoutChoices:
    """The choices after ``edit``, as an explicit layout.

    ``plan`` is the last plan the planner made (it gives the current size of
    ``fit``/``rest`` requests and the floors); ``choices`` the choices in
    force, whose explicit layout, if any, is edited (so an edit that did not
    fit is kept until the person corrects it). ``None`` only writes the
    layout out: planning that gives ``plan`` again.
    """
    reqs = list(current_requests(plan, choices, machine))
    swap = choices.swap

    def size_now(i: int) -> int:
        part = partition_for(reqs, i, plan, machine)
        if reqs[i].mode in ("fit", "rest") and part is not None:
            return part.size
        return shown_size(reqs[i], part, _disk_size(disks, reqs[i].disk), planned=False)

    def fixed(i: int) -> LayoutRequest:
        return dataclasses.replace(reqs[i], mode="size", size=size_now(i))

    def no_other_rest(i: int, disk: int) -> None:
        for j, q in enumerate(reqs):
            if j != i and q.disk == disk and q.mode == "rest":
                reqs[j] = fixed(j)

    match edit:
        case None:
            pass
        case Step(index=i, sign=sign):
            now = size_now(i)
            step = step_size(_disk_size(disks, reqs[i].disk))
            part = partition_for(reqs, i, plan, machine)
            floor = align_up(part.min_size) if part is not None and part.min_size else MiB
            new = now + step if sign > 0 else max(min(now, floor), now - step)
            reqs[i] = dataclasses.replace(reqs[i], mode="size", size=new)
        case SetSize(index=i, size=n):
            reqs[i] = dataclasses.replace(reqs[i], mode="size", size=n)
        case Fit(index=i):
            reqs[i] = dataclasses.replace(reqs[i], mode="fit", size=0)
        case Rest(index=i):
            no_other_rest(i, reqs[i].disk)
            reqs[i] = dataclasses.replace(reqs[i], mode="rest", size=0)
        case Move(index=i, disk=d):
            if reqs[i].mode == "rest" and any(q.mode == "rest" and q.disk == d for q in reqs):
                reqs[i] = fixed(i)
            reqs[i] = dataclasses.replace(reqs[i], disk=d)
        case SwapPolicyEdit(policy=policy):
            swap = policy
            reqs = _swap_requests(reqs, policy, plan, machine)
    return dataclasses.replace(choices, explicit=tuple(reqs), swap=swap)


def _swap_requests(
    reqs: list[LayoutRequest], policy: SwapPolicy, plan: Plan, machine: Machine
) -> list[LayoutRequest]:
    """Swap requests for a new policy: none for ``drop``; ``fit`` (the
    policy's size: the source's for keep, the given one for a size) for
    keep and a size; ``auto`` keeps sizes already chosen. Swap partitions
    the plan left out come back on the disk holding /."""
    fss = [r for r in reqs if r.mountpoint != SWAP]
    swaps = [r for r in reqs if r.mountpoint == SWAP]
    if policy == "drop":
        return fss
    root = next((r.disk for r in fss if r.mountpoint == "/"), 0)
    wanted = len(_source_swaps(machine))
    swaps += [LayoutRequest(SWAP, "fit", 0, None, root) for _ in range(wanted - len(swaps))]
    if policy == "auto":
        return fss + swaps
    return fss + [dataclasses.replace(r, mode="fit", size=0) for r in swaps]
