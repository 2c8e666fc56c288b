"""Everything before the first write: facts, target disks, exclusion sizes,
the plan and the fixups. Shared by headless mode and the wizard."""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from ..model.answers import Answers
from ..model.edits import FixupChoices, FixupSet
from ..model.fixups import plan_fixups
from ..model.fixups.bootloader import own_boot_problem
from ..model.layout import plan_layout
from ..model.machine import Machine
from ..model.plan import LayoutChoices, Plan
from ..model.target import FactsError, InstanceFacts, TargetDisk, facts_from_json
from ..model.target_output import MalformedOutput, load_json, parse_disk_size
from ..system.runner import CommandError
from ..system.target import Target, TargetError, ask

log = logging.getLogger(__name__)

FACTS_PATH = "/etc/p2v-target/instance.json"
FACTS_LIMIT = 256 * 1024
"""instance.json is well under 4 KiB; what is larger is not read."""
BOOT_ID = "/proc/sys/kernel/random/boot_id"


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

    @property
    def refusal(self) -> str | None:
        """Why this plan must not be executed, checked before anything is
        written; None when it may."""
        if self.plan.boot == "own":
            return own_boot_problem(self.machine.os, self.plan)
        return None


def read_facts(target: Target, answers: Answers) -> InstanceFacts:
    """instance.json from the bootstrap OS, else the answers' instance
    section; the target's file wins because Ganeti wrote it."""
    raw = target.read_file(FACTS_PATH, limit=FACTS_LIMIT)
    if raw is not None:
        try:
            return facts_from_json(load_json(raw), origin="target")
        except (MalformedOutput, FactsError) as e:
            raise PrepareError(f"{FACTS_PATH} on the target is malformed: {e}") from None
    if answers.instance is not None:
        log.info("no %s on the target: using the answers' instance section", FACTS_PATH)
        return answers.instance
    raise PrepareError(
        f"the target has no {FACTS_PATH} (is it the p2v-target bootstrap OS?) and the answers file "
        "has no 'instance' section: cannot know the instance's name, disks and NICs"
    )


def ensure_other_machine(target: Target, local_boot_id: str) -> None:
    """Refuse a target that is the machine p2v runs on (a mistyped address
    or a pinned key of this very live system): its disks are the source."""
    raw = target.read_file(BOOT_ID, limit=4096)
    if raw is not None and local_boot_id and raw.decode(errors="replace").strip() == local_boot_id:
        raise PrepareError(
            f"the target {target.description} is this machine itself (same boot id): "
            "check target.host; p2v never writes to the machine it migrates"
        )


def target_disks(target: Target, facts: InstanceFacts) -> tuple[TargetDisk, ...]:
    """The instance's disks with their real sizes, as the target sees them
    (a disk without a path is none the bootstrap OS can partition)."""
    disks = []
    for d in facts.disks:
        if not d.path:
            log.warning("instance disk %d has no device path in the bootstrap OS: not used", d.index)
            continue
        try:
            size = ask(target, ["blockdev", "--getsize64", d.path], parse_disk_size)
        except CommandError as e:
            raise PrepareError(f"instance disk {d.path} does not exist on the target: {e}") from None
        if size != d.size:
            log.warning("%s: facts say %d bytes, the device has %d; using the device", d.path, d.size, size)
        disks.append(dataclasses.replace(d, size=size))
    if not disks:
        raise PrepareError("the instance facts list no disks the bootstrap OS can partition")
    return tuple(disks)


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
    "ensure_other_machine",
    "make_plan",
    "read_facts",
    "target_disks",
]
