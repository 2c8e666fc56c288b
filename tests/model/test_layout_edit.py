"""Plan + edit -> layout choices, checked by planning the result with the
real planner on the built-in demo machine (10 GiB target disk)."""

from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path

import pytest

from p2v_tui.demo import build_sample_tree, demo_machine
from p2v_tui.model.layout import plan_layout
from p2v_tui.model.layout_edit import (
    Edit,
    Fit,
    Move,
    Rest,
    SetSize,
    Step,
    SwapPolicyEdit,
    apply_edit,
    requests_from_plan,
    step_size,
)
from p2v_tui.model.machine import Machine
from p2v_tui.model.plan import LayoutChoices, LayoutError, LayoutRequest, Plan
from p2v_tui.model.target import TargetDisk
from p2v_tui.model.units import GiB, MiB

if not shutil.which("du"):
    pytest.skip("needs du (the demo measures its sample tree)", allow_module_level=True)

DISKS = (TargetDisk(0, "/dev/vda", 10 * GiB), TargetDisk(1, "/dev/vdb", 8 * GiB))
ONE = DISKS[:1]
ROOT, BOOT, HOME, SWAP = 0, 1, 2, 3  # request order: the plan's filesystems, then swap


@pytest.fixture(scope="module")
def machine(tmp_path_factory: pytest.TempPathFactory) -> Machine:
    return demo_machine(build_sample_tree(Path(tmp_path_factory.mktemp("demo"))))


def size_at(plan: Plan, mountpoint: str) -> int:
    part = plan.partition_at(mountpoint)
    assert part is not None
    return part.size


def test_no_edit_replans_to_the_automatic_plan(machine: Machine) -> None:
    for disks, choices in [
        (ONE, LayoutChoices()),
        (ONE, LayoutChoices(swap="keep", headroom=0.5)),
        (ONE, LayoutChoices(table="gpt", exclude=("/var/cache",), exclude_sizes={"/var/cache": 12 * MiB})),
        (DISKS, LayoutChoices()),
    ]:
        automatic = plan_layout(machine, disks, choices)
        again = apply_edit(None, plan=automatic, choices=choices, machine=machine, disks=disks)
        assert again.explicit is not None
        assert plan_layout(machine, disks, again) == automatic


def test_requests_keep_mount_fstype_disk_and_the_planned_sizes(machine: Machine) -> None:
    plan = plan_layout(machine, ONE, LayoutChoices())
    assert [(r.mountpoint, r.mode, r.fstype, r.disk) for r in requests_from_plan(plan, machine)] == [
        ("/", "size", "ext4", 0),
        ("/boot", "size", "ext3", 0),
        ("/home", "size", "ext4", 0),
        ("swap", "size", None, 0),
    ]


@pytest.mark.parametrize(
    ("edit", "mountpoint", "expect"),
    [
        # the others keep their planned sizes
        (Step(HOME, -1), "/home", lambda auto: auto - GiB),
        (SetSize(ROOT, 2 * GiB), "/", lambda auto: 2 * GiB),
        (SetSize(HOME, 3 * GiB + 1), "/home", lambda auto: 3 * GiB + MiB),  # rounded up to 1 MiB
    ],
)
def test_resizing(machine: Machine, edit: Edit, mountpoint: str, expect: object) -> None:
    auto = plan_layout(machine, ONE, LayoutChoices())
    choices = apply_edit(edit, plan=auto, choices=LayoutChoices(), machine=machine, disks=ONE)
    plan = plan_layout(machine, ONE, choices)
    assert size_at(plan, mountpoint) == expect(size_at(auto, mountpoint))  # type: ignore[operator]
    others = [p for p in plan.partitions if p.mountpoint not in (mountpoint, None)]
    assert all(p.size == size_at(auto, p.mountpoint) for p in others if p.mountpoint)


def test_growing_a_full_disk_does_not_fit_by_the_step(machine: Machine) -> None:
    auto = plan_layout(machine, ONE, LayoutChoices())
    choices = apply_edit(Step(ROOT, 1), plan=auto, choices=LayoutChoices(), machine=machine, disks=ONE)
    with pytest.raises(LayoutError) as e:
        plan_layout(machine, ONE, choices)
    assert e.value.missing == GiB


def test_an_edit_that_did_not_fit_stays_while_another_is_made(machine: Machine) -> None:
    auto = plan_layout(machine, ONE, LayoutChoices())
    grown = apply_edit(Step(ROOT, 1), plan=auto, choices=LayoutChoices(), machine=machine, disks=ONE)
    both = apply_edit(Step(HOME, -1), plan=auto, choices=grown, machine=machine, disks=ONE)
    plan = plan_layout(machine, ONE, both)
    assert size_at(plan, "/") == size_at(auto, "/") + GiB
    assert size_at(plan, "/home") == size_at(auto, "/home") - GiB


def test_shrinking_stops_at_the_floor(machine: Machine) -> None:
    auto = plan_layout(machine, ONE, LayoutChoices())
    choices = LayoutChoices()
    for _ in range(10):  # /home is 4.7 GiB; its floor 41 MiB
        choices = apply_edit(Step(HOME, -1), plan=auto, choices=choices, machine=machine, disks=ONE)
        auto = plan_layout(machine, ONE, choices)
    home = auto.partition_at("/home")
    assert home is not None and home.size == home.min_size


def test_fit_then_rest(machine: Machine) -> None:
    auto = plan_layout(machine, ONE, LayoutChoices())
    fit = apply_edit(Fit(ROOT), plan=auto, choices=LayoutChoices(), machine=machine, disks=ONE)
    plan = plan_layout(machine, ONE, fit)
    root = plan.partition_at("/")
    assert root is not None and root.size == root.min_size
    rest = apply_edit(Rest(ROOT), plan=plan, choices=fit, machine=machine, disks=ONE)
    assert size_at(plan_layout(machine, ONE, rest), "/") == size_at(auto, "/")
    # a second rest on the same disk fixes the first at its size
    home_rest = apply_edit(
        Rest(HOME), plan=plan_layout(machine, ONE, rest), choices=rest, machine=machine, disks=ONE
    )
    assert home_rest.explicit is not None
    assert [r.mode for r in home_rest.explicit] == ["size", "size", "rest", "size"]


@pytest.mark.parametrize(
    ("policy", "swaps"),
    [("drop", []), ("keep", [2 * GiB]), (512 * MiB, [512 * MiB]), ("auto", [2 * GiB])],
)
def test_swap_policy(machine: Machine, policy: object, swaps: list[int]) -> None:
    auto = plan_layout(machine, ONE, LayoutChoices())
    choices = apply_edit(
        SwapPolicyEdit(policy),  # type: ignore[arg-type]
        plan=auto,
        choices=LayoutChoices(),
        machine=machine,
        disks=ONE,
    )
    assert choices.swap == policy
    plan = plan_layout(machine, ONE, choices)
    assert [p.size for p in plan.partitions if p.role == "swap"] == swaps


def test_swap_comes_back_after_drop(machine: Machine) -> None:
    auto = plan_layout(machine, ONE, LayoutChoices())
    dropped = apply_edit(
        SwapPolicyEdit("drop"), plan=auto, choices=LayoutChoices(), machine=machine, disks=ONE
    )
    plan = plan_layout(machine, ONE, dropped)
    back = apply_edit(SwapPolicyEdit(GiB), plan=plan, choices=dropped, machine=machine, disks=ONE)
    swap = [p for p in plan_layout(machine, ONE, back).partitions if p.role == "swap"]
    assert [(p.size, p.source) for p in swap] == [(GiB, "/dev/sda2")]


def test_move_to_another_disk(machine: Machine) -> None:
    auto = plan_layout(machine, DISKS, LayoutChoices())
    choices = apply_edit(Move(HOME, 1), plan=auto, choices=LayoutChoices(), machine=machine, disks=DISKS)
    plan = plan_layout(machine, DISKS, choices)
    home = plan.partition_at("/home")
    assert home is not None and home.disk_index == 1 and home.device == "/dev/vdb1"
    assert home.size == size_at(auto, "/home")
    assert dataclasses.replace(choices, explicit=None) == LayoutChoices()


def test_step_size() -> None:
    assert step_size(10 * GiB) == GiB
    assert step_size(5 * GiB) == 512 * MiB
    assert step_size(100 * GiB) == GiB
    assert step_size(0) == MiB


def test_percent_and_fit_requests_from_an_answers_file_are_edited_from_their_planned_size(
    machine: Machine,
) -> None:
    given = LayoutChoices(
        explicit=(
            LayoutRequest("/", "percent", 50),
            LayoutRequest("/home", "fit"),
            LayoutRequest("swap", "size", GiB),
        )
    )
    plan = plan_layout(machine, ONE, given)
    grown = apply_edit(Step(1, 1), plan=plan, choices=given, machine=machine, disks=ONE)
    assert grown.explicit is not None
    assert grown.explicit[0] == LayoutRequest("/", "percent", 50)
    assert grown.explicit[1] == LayoutRequest("/home", "size", size_at(plan, "/home") + GiB)
