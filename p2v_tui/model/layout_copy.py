"""Mount steps and copy jobs for a laid-out target.

A btrfs filesystem that stays btrfs is copied subvolume by subvolume into a
side mount of its top level (``SIDE_MOUNTS/vda3``), so that every subvolume
lands in the subvolume of the same path; its tree is also mounted under
TARGET_ROOT as the source's fstab mounts it, for the fixups and the
bootloader. Everything else is copied into the assembled tree.
"""

from __future__ import annotations

import posixpath
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace

from .layout_sources import holder, is_under, mount_order
from .machine import Filesystem, Subvolume
from .plan import SIDE_MOUNTS, TARGET_ROOT, CopyJob, MountStep, PlannedPartition


@dataclass(frozen=True)
class Placed:
    """A planned partition with the source filesystems whose files it gets."""

    part: PlannedPartition
    source: Filesystem | None = None
    merged: tuple[Filesystem, ...] = ()


def target_path(mountpoint: str) -> str:
    return TARGET_ROOT if mountpoint == "/" else TARGET_ROOT + mountpoint


def side_path(device: str) -> str:
    return f"{SIDE_MOUNTS}/{posixpath.basename(device)}"


def default_subvolume_path(fs: Filesystem) -> str:
    """Path of the default subvolume, "" for the top level (id 5)."""
    for s in fs.subvolumes:
        if s.id == fs.default_subvolume:
            return s.path
    return ""


def btrfs_trees(fs: Filesystem) -> list[tuple[str, str]]:
    """(subvolume path, "" for the top level; mount point) for every part of
    ``fs`` the source's fstab mounts. ``fs.mountpoint`` without a subvolume
    of its own is a mount without ``subvol=``: the default subvolume."""
    trees = [(s.path, s.mountpoint) for s in fs.subvolumes if s.mountpoint]
    if fs.mountpoint and fs.mountpoint not in {mp for _, mp in trees}:
        trees.append((default_subvolume_path(fs), fs.mountpoint))
    return trees


def locate(path: str, filesystems: Iterable[Filesystem]) -> tuple[Filesystem, str] | None:
    """The source filesystem holding absolute ``path``, and the path inside
    it relative to its top (for btrfs: to the top-level subvolume, through
    whichever subvolume the source mounts there); "" for the top itself."""
    found = holder(path, filesystems)
    if found is None:
        return None
    fs, mp = found
    rest = (path if mp == "/" else path[len(mp) :]).strip("/")
    if fs.fstype == "btrfs":
        sub = next((p for p, m in btrfs_trees(fs) if m == mp), "")
        rest = "/".join(x for x in (sub, rest) if x)
    return fs, rest


def _join(mountpoint: str, rest: str) -> str:
    if not rest:
        return mountpoint
    return "/" + rest if mountpoint == "/" else f"{mountpoint}/{rest}"


def reachable(path: str, trees: Sequence[tuple[str, str]]) -> str | None:
    """Where subvolume ``path`` appears in the migrated system: its own
    mount point, else inside the deepest mounted subvolume containing it."""
    for p, mp in trees:
        if p == path:
            return mp
    best: tuple[str, str] | None = None
    for p, mp in trees:
        if (p == "" or path.startswith(p + "/")) and (best is None or len(p) > len(best[0])):
            best = (p, mp)
    if best is None:
        return None
    return _join(best[1], path[len(best[0]) :].lstrip("/"))


def _parent(path: str, subvolumes: Sequence[Subvolume]) -> str:
    """Path of the subvolume directly containing ``path`` ("" for the top)."""
    parents = [s.path for s in subvolumes if path.startswith(s.path + "/")]
    return max(parents, key=len, default="")


def kept_subvolumes(fs: Filesystem) -> tuple[tuple[Subvolume, ...], tuple[Subvolume, ...]]:
    """(subvolumes to recreate, parents first; read-only ones skipped with
    everything inside them)."""
    ordered = sorted(fs.subvolumes, key=lambda s: s.path.split("/"))
    kept: list[Subvolume] = []
    skipped: list[Subvolume] = []
    for s in ordered:
        if s.readonly or any(s.path.startswith(k.path + "/") for k in skipped):
            skipped.append(s)
        else:
            kept.append(s)
    return tuple(kept), tuple(skipped)


def plan_mounts(placed: Sequence[Placed]) -> tuple[MountStep, ...]:
    """Side mounts first (outside the tree), then the tree, parents first."""
    side: list[MountStep] = []
    tree: list[tuple[str, MountStep]] = []
    for pl in placed:
        p = pl.part
        if p.mountpoint is None or p.fstype in (None, "swap"):
            continue
        src = pl.source
        if p.fstype == "btrfs" and src is not None and src.fstype == "btrfs":
            side.append(MountStep(p.device, side_path(p.device), "btrfs", "subvolid=5"))
            kept = {s.path for s in p.subvolumes}
            for path, mp in btrfs_trees(src):
                if path == "":
                    tree.append((mp, MountStep(p.device, target_path(mp), "btrfs", "subvolid=5")))
                elif path in kept:
                    tree.append((mp, MountStep(p.device, target_path(mp), "btrfs", f"subvol={path}")))
        else:
            tree.append(
                (p.mountpoint, MountStep(p.device, target_path(p.mountpoint), p.fstype, _options(p.fstype)))
            )
    tree.sort(key=lambda t: mount_order(t[0]))
    return (*side, *(step for _, step in tree))


def _options(fstype: str) -> str:
    # XFS refuses to mount a second filesystem with a UUID it already has
    # mounted; the copy keeps the source's UUID, so say it is expected.
    return "nouuid" if fstype == "xfs" else "defaults"


def rsync_pattern(path: str, mountpoint: str, *, literal: bool = True) -> str:
    """Exclude pattern for absolute ``path`` in a job rooted at
    ``mountpoint``, anchored at the job's root. A ``literal`` path (a swap
    file, a mount point) has its wildcard characters escaped (rsync treats
    ``\\`` as an escape once a pattern holds one); the user's exclusions are
    patterns and keep theirs (``/home/*/Downloads``). Excluding the job's
    root itself excludes everything in it."""
    rel = path if mountpoint == "/" else path[len(mountpoint) :]
    if not rel:
        return "/*"
    if literal and any(c in rel for c in "*?["):
        rel = "".join("\\" + c if c in "*?[\\" else c for c in rel)
    return rel


def _btrfs_jobs(
    fs: Filesystem, dest_root: str | None, used: int, not_copied: Sequence[str], patterns: Collection[str]
) -> tuple[list[CopyJob], list[str]]:
    """Jobs for the top level and every kept subvolume of ``fs``; into the
    side mount ``dest_root``, or, when ``fs`` is merged (None), into the tree
    where each appears."""
    notes: list[str] = []
    trees = btrfs_trees(fs)
    kept, skipped = kept_subvolumes(fs)
    if skipped:
        names = ", ".join(s.path for s in skipped)
        notes.append(f"read-only btrfs subvolumes (snapshots) of {fs.mountpoint} are not copied: {names}")
    entries: list[tuple[str, str | None]] = [("", reachable("", trees))]
    entries += [(s.path, reachable(s.path, trees)) for s in kept]
    if dest_root is None:
        lost = [p for p, mp in entries if mp is None and p]
        if lost:
            notes.append(
                f"btrfs subvolumes of {fs.mountpoint} that no mount point reaches are lost "
                f"when it is merged: {', '.join(lost)}"
            )
        entries = [(p, mp) for p, mp in entries if mp is not None]
    jobs: list[CopyJob] = []
    for path, mp in entries:
        children = [s.path for s in fs.subvolumes if _parent(s.path, fs.subvolumes) == path]
        excludes = ["/" + (c[len(path) + 1 :] if path else c) for c in sorted(children)]
        for skip in not_copied:
            owner = _deepest([e for e in entries if e[1] is not None], skip)
            if owner is not None and owner[0] == path and mp is not None:
                excludes.append(rsync_pattern(skip, mp, literal=skip not in patterns))
        if dest_root is not None:
            dest = dest_root + ("/" + path if path else "")
        else:
            assert mp is not None
            dest = target_path(mp)
        jobs.append(CopyJob(fs.device, "/" + path, dest, mp, tuple(excludes), 0))
    if jobs:
        main = next((i for i, j in enumerate(jobs) if j.mountpoint == fs.mountpoint), 0)
        jobs[main] = replace(jobs[main], bytes=used)
    return jobs, notes


def _deepest(entries: Sequence[tuple[str, str | None]], path: str) -> tuple[str, str | None] | None:
    inside = [(mount_order(mp), e) for e in entries if (mp := e[1]) is not None and is_under(path, mp)]
    return max(inside)[1] if inside else None


def _jobs_for(
    fs: Filesystem,
    part: PlannedPartition,
    *,
    merged: bool,
    used: int,
    not_copied: Sequence[str],
    patterns: Collection[str],
) -> tuple[list[CopyJob], list[str]]:
    """``patterns``: those of ``not_copied`` that are the user's exclusions."""
    if fs.fstype == "btrfs" and part.fstype == "btrfs" and not merged:
        return _btrfs_jobs(fs, side_path(part.device), used, not_copied, patterns)
    if fs.fstype == "btrfs":
        return _btrfs_jobs(fs, None, used, not_copied, patterns)
    assert fs.mountpoint is not None
    excludes = tuple(rsync_pattern(p, fs.mountpoint, literal=p not in patterns) for p in not_copied)
    return [CopyJob(fs.device, "/", target_path(fs.mountpoint), fs.mountpoint, excludes, used)], []


def plan_copies(
    placed: Sequence[Placed],
    mounts: Sequence[MountStep],
    used: Mapping[str, int],
    not_copied: Mapping[str, tuple[str, ...]],
    exclusions: Collection[str] = (),
) -> tuple[tuple[CopyJob, ...], tuple[str, ...]]:
    """Copy jobs in mount order (by the mount each job writes into).
    ``exclusions`` (the user's, among ``not_copied``) keep their directory."""
    jobs: list[CopyJob] = []
    notes: list[str] = []
    for pl in placed:
        sources = [(pl.source, False)] if pl.source is not None else []
        sources += [(m, True) for m in sorted(pl.merged, key=lambda f: mount_order(f.mountpoint or "/"))]
        for fs, merged in sources:
            j, n = _jobs_for(
                fs,
                pl.part,
                merged=merged,
                used=used.get(fs.device, 0),
                not_copied=not_copied.get(fs.device, ()),
                patterns=exclusions,
            )
            jobs += j
            notes += n

    def mount_index(job: CopyJob) -> int:
        inside = [i for i, m in enumerate(mounts) if is_under(job.dest, m.path)]
        return max(inside, key=lambda i: len(mounts[i].path), default=len(mounts))

    jobs = [_keep_dirs(job, exclusions) for job in _protect_merged(jobs, mount_index)]
    return tuple(sorted(jobs, key=mount_index)), tuple(notes)


def _keep_dirs(job: CopyJob, exclusions: Collection[str]) -> CopyJob:
    if job.mountpoint is None:
        return job
    mine = {
        rsync_pattern(p, job.mountpoint, literal=False)
        for p in exclusions
        if is_under(p, job.mountpoint) and p != job.mountpoint
    }
    keep = tuple(e for e in job.excludes if e in mine)
    return replace(job, keep_dirs=keep) if keep else job


def _protect_merged(jobs: Sequence[CopyJob], mount_index: Callable[[CopyJob], int]) -> list[CopyJob]:
    """A job whose tree receives a merged filesystem (its files copied into
    a directory of the same target filesystem) excludes that directory's
    contents: it holds only an empty mount point on the source, and
    ``--delete`` would otherwise empty it again when a copy is resumed."""
    out = []
    for job in jobs:
        inner = [
            other.dest[len(job.dest.rstrip("/")) :]
            for other in jobs
            if other.source_device != job.source_device
            and other.dest != job.dest
            and is_under(other.dest, job.dest)
            and mount_index(other) == mount_index(job)
        ]
        extra = tuple(f"{rel}/**" for rel in sorted(inner) if f"{rel}/**" not in job.excludes)
        out.append(replace(job, excludes=job.excludes + extra) if extra else job)
    return out
