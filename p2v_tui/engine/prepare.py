"""Everything before the first write: facts, target disks, exclusion sizes,
the plan and the fixups. Shared by headless mode and the wizard."""

from __future__ import annotations

import dataclasses
import glob
import json
import logging
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from ..model.answers import Answers
from ..model.edits import FixupChoices, FixupSet
from ..model.fixups import plan_fixups
from ..model.layout import plan_layout
from ..model.machine import Machine
from ..model.plan import LayoutChoices, LayoutError, Plan
from ..model.target import FactsError, InstanceFacts, TargetDisk, facts_from_json
from ..model.units import format_size
from ..system.du import largest_dirs, tree_size
from ..system.sources import SourceAccess
from ..system.target import Target, TargetError

log = logging.getLogger(__name__)

FACTS_PATH = "/etc/p2v-target/instance.json"


class PrepareError(Exception):
    pass


@dataclass(frozen=True)
class Prepared:
    machine: Machine
    facts: InstanceFacts
    disks: tuple[TargetDisk, ...]
    layout: LayoutChoices
    fixup_choices: FixupChoices
    plan: Plan
    fixups: FixupSet


def read_facts(target: Target, answers: Answers) -> InstanceFacts:
    """instance.json from the bootstrap OS, else the answers' instance
    section; the target's file wins because Ganeti wrote it."""
    raw = target.read_file(FACTS_PATH)
    if raw is not None:
        try:
            return facts_from_json(json.loads(raw), origin="target")
        except (ValueError, FactsError) as e:
            raise PrepareError(f"{FACTS_PATH} on the target is malformed: {e}") from None
    if answers.instance is not None:
        log.info("no %s on the target: using the answers' instance section", FACTS_PATH)
        return answers.instance
    raise PrepareError(
        f"the target has no {FACTS_PATH} (is it the p2v-target bootstrap OS?) and the answers file "
        "has no 'instance' section: cannot know the instance's name, disks and NICs"
    )


def target_disks(target: Target, facts: InstanceFacts) -> tuple[TargetDisk, ...]:
    """The instance's disks with their real sizes, as the target sees them."""
    if not facts.disks:
        raise PrepareError("the instance facts list no disks")
    disks = []
    for d in facts.disks:
        result = target.run(["blockdev", "--getsize64", d.path], check=False)
        if result.returncode != 0:
            raise PrepareError(
                f"instance disk {d.path} does not exist on the target: {result.stderr.strip()}"
            )
        size = int(result.stdout.strip())
        if size != d.size:
            log.warning("%s: facts say %d bytes, the device has %d; using the device", d.path, d.size, size)
        disks.append(dataclasses.replace(d, size=size))
    return tuple(disks)


def holder(machine: Machine, path: str) -> tuple[str, str] | None:
    """(device, path inside that filesystem) of the filesystem holding
    ``path`` in the source system: the deepest mount point above it."""
    best = None
    for fs in machine.filesystems:
        mp = fs.mountpoint
        if mp is None:
            continue
        if (path == mp or path.startswith(mp.rstrip("/") + "/")) and (best is None or len(mp) > len(best[1])):
            best = (fs.device, mp)
    if best is None:
        return None
    device, mp = best
    rel = path[len(mp.rstrip("/")) :] or "/"
    return device, rel


def measure_exclusions(machine: Machine, sources: SourceAccess, excludes: Sequence[str]) -> dict[str, int]:
    """Bytes under each excluded path (glob patterns allowed), read through
    read-only mounts."""
    sizes = {}
    for pattern in excludes:
        found = holder(machine, pattern.rstrip("/") or "/")
        if found is None:
            sizes[pattern] = 0
            continue
        device, rel = found
        fs = next(f for f in machine.filesystems if f.device == device)
        top = sources.directory(device, toplevel=False)
        if fs.fstype == "btrfs" and fs.mountpoint is not None:
            top = _btrfs_tree_dir(machine, device, sources, fs.mountpoint)
        total = 0
        for match in glob.glob(os.path.join(top, rel.lstrip("/"))):
            total += tree_size(match)
        sizes[pattern] = total
    return sizes


def _btrfs_tree_dir(machine: Machine, device: str, sources: SourceAccess, mountpoint: str) -> str:
    fs = next(f for f in machine.filesystems if f.device == device)
    top = sources.directory(device, toplevel=True)
    for sv in fs.subvolumes:
        if sv.mountpoint == mountpoint:
            return os.path.join(top, sv.path)
    return top


def space_hint(machine: Machine, sources: SourceAccess, error: LayoutError, top: int = 8) -> str:
    """Which big directories could be excluded to make the data fit."""
    lines = [f"It needs {format_size(error.missing)} more. Largest directories that could be excluded:"]
    found = []
    for fs in machine.filesystems:
        if fs.mountpoint is None or fs.used is None or fs.fstype in ("swap", "vfat"):
            continue
        try:
            root = sources.directory(fs.device, toplevel=False)
            if fs.fstype == "btrfs":
                root = _btrfs_tree_dir(machine, fs.device, sources, fs.mountpoint)
            for path, size in largest_dirs(root, depth=2, top=top):
                rel = os.path.relpath(path, root)
                found.append((size, os.path.normpath(os.path.join(fs.mountpoint, rel))))
        except (OSError, KeyError) as e:
            log.debug("no size hint for %s: %s", fs.device, e)
    for size, path in sorted(found, reverse=True)[:top]:
        lines.append(f"  {format_size(size):>10}  {path}")
    lines.append("Add paths to 'exclude:' in the answers file, or give the instance a bigger disk.")
    return "\n".join(lines)


def make_plan(
    machine: Machine,
    facts: InstanceFacts,
    *,
    disks: Sequence[TargetDisk],
    layout: LayoutChoices,
    fixup_choices: FixupChoices,
    exclude_sizes: Mapping[str, int],
) -> Prepared:
    """Pure planning (raises LayoutError)."""
    layout = dataclasses.replace(layout, exclude_sizes=dict(exclude_sizes), root_path=facts.root_path)
    plan = plan_layout(machine, disks, layout)
    fixups = plan_fixups(machine, plan, facts, fixup_choices)
    return Prepared(machine, facts, tuple(disks), layout, fixup_choices, plan, fixups)


__all__ = [
    "PrepareError",
    "Prepared",
    "TargetError",
    "make_plan",
    "measure_exclusions",
    "read_facts",
    "space_hint",
    "target_disks",
]
