"""In which order the target is mounted and filled.

A filesystem is copied before anything is mounted on top of it: the root
job then writes the real mount point directories (owner, mode and times
from the source's root filesystem) instead of writing through them into the
root directories of the filesystems mounted there, and rsync's --delete can
never reach into another filesystem. btrfs subvolumes are filled through
their side mounts before any of the tree is mounted.
"""

from __future__ import annotations

from dataclasses import dataclass

from .layout_sources import is_under
from .plan import SIDE_MOUNTS, TARGET_ROOT, CopyJob, MountStep, Plan


@dataclass(frozen=True)
class Stage:
    mount: MountStep | None
    """Mounted first; None for the jobs that write through side mounts."""
    jobs: tuple[CopyJob, ...]


def side_mounts(plan: Plan) -> tuple[MountStep, ...]:
    return tuple(m for m in plan.mounts if is_under(m.path, SIDE_MOUNTS))


def copy_stages(plan: Plan) -> tuple[Stage, ...]:
    """Side-mounted jobs first, then each tree mount (parents first) with
    the jobs whose destination lies in that filesystem."""
    tree = [m for m in plan.mounts if is_under(m.path, TARGET_ROOT)]

    def home(job: CopyJob) -> int | None:
        inside = [i for i, m in enumerate(tree) if is_under(job.dest, m.path)]
        return max(inside, key=lambda i: len(tree[i].path)) if inside else None

    homes = {id(job): home(job) for job in plan.copies}
    stages = [Stage(None, tuple(j for j in plan.copies if homes[id(j)] is None))]
    stages += [Stage(m, tuple(j for j in plan.copies if homes[id(j)] == i)) for i, m in enumerate(tree)]
    return tuple(stages)
