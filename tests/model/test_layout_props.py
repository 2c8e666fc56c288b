"""Properties of the layout planner on random machines and disks: either a
LayoutError that says how much is missing (and adding that much makes it
fit), or partitions that are aligned, disjoint, inside the disk and big
enough for every byte copied."""

from __future__ import annotations

from dataclasses import dataclass, replace

from hypothesis import given, settings
from hypothesis import strategies as st

from p2v_tui.model.layout import filesystem_floor, plan_layout
from p2v_tui.model.machine import Disk, Filesystem, Machine, Partition, Subvolume, SwapArea, TableType
from p2v_tui.model.plan import BootMode, LayoutChoices, LayoutError, Plan, SwapPolicy
from p2v_tui.model.target import TargetDisk
from p2v_tui.model.units import SECTOR, GiB, MiB, align_up

MOUNTPOINTS = ["/boot", "/home", "/var", "/srv", "/opt", "/var/log", "/home/data", "/tmp"]
FSTYPES = ["ext2", "ext3", "ext4", "xfs", "btrfs"]


@dataclass(frozen=True)
class Case:
    machine: Machine
    choices: LayoutChoices
    disk: TargetDisk
    copied: int
    """Bytes the plan must copy: used minus exclusions and swap files."""


def _in(mountpoint: str, name: str) -> str:
    return f"/{name}" if mountpoint == "/" else f"{mountpoint}/{name}"


@st.composite
def cases(draw: st.DrawFn) -> Case:
    count = draw(st.integers(1, 6))
    mountpoints = [
        "/",
        *draw(st.lists(st.sampled_from(MOUNTPOINTS), min_size=count - 1, max_size=count - 1, unique=True)),
    ]
    filesystems: list[Filesystem] = []
    swaps: list[SwapArea] = []
    exclude: dict[str, int] = {}
    copied = 0
    for i, mp in enumerate(mountpoints):
        fstype = draw(st.sampled_from(FSTYPES))
        used = draw(st.integers(0, 30 * GiB))
        subvolumes: tuple[Subvolume, ...] = ()
        if fstype == "btrfs" and draw(st.booleans()):
            subvolumes = (
                Subvolume(256, "@data", mountpoint=mp),
                Subvolume(257, "@data/nested"),
                Subvolume(258, "snapshots/1", readonly=True),
            )
        filesystems.append(
            Filesystem(
                f"/dev/sda{i + 1}",
                fstype,
                uuid=f"uuid-{i}",
                size=used + draw(st.integers(0, 30 * GiB)),
                used=used,
                mountpoint=mp,
                inodes_used=draw(st.none() | st.integers(0, 2_000_000)) if fstype.startswith("ext") else None,
                subvolumes=subvolumes,
                default_subvolume=256 if subvolumes else 5,
            )
        )
        left = used
        if left and draw(st.booleans()):
            size = draw(st.integers(1, left))
            swaps.append(SwapArea("file", _in(mp, "swapfile"), size, uuid=f"uuid-swapfile-{i}"))
            left -= size
        if draw(st.booleans()):
            size = draw(st.integers(0, left))
            exclude[_in(mp, "cache")] = size
            left -= size
        copied += left
    swap_size = draw(st.sampled_from([None, 100 * MiB, 1 * GiB, 4 * GiB]) | st.integers(1 * MiB, 8 * GiB))
    if swap_size is not None:
        swaps.append(SwapArea("partition", f"/dev/sda{count + 1}", swap_size, uuid="uuid-swap"))
    table: TableType = draw(st.sampled_from(["gpt", "msdos"]))
    partitions = tuple(Partition(fs.device, i + 1, 0, fs.size) for i, fs in enumerate(filesystems))
    machine = Machine(
        disks=(Disk("/dev/sda", 1 << 40, table=table, partitions=partitions),),
        filesystems=tuple(filesystems),
        swaps=tuple(swaps),
    )
    boot: BootMode = draw(st.sampled_from(["own", "cluster"]))
    policies: list[SwapPolicy] = ["keep", "auto", "drop"]
    choices = LayoutChoices(
        headroom=draw(st.sampled_from([0, 0.1, 0.2, 0.5])),
        swap=draw(st.sampled_from(policies) | st.integers(1 * MiB, 4 * GiB)),
        table=draw(st.sampled_from(["auto", "gpt", "msdos"])),
        exclude=tuple(exclude),
        exclude_sizes=exclude,
        boot=boot,
        firmware=draw(st.sampled_from(["bios", "efi"])),
    )
    disk = TargetDisk(0, "/dev/vda", draw(st.integers(64 * MiB // SECTOR, 400 * GiB // SECTOR)) * SECTOR)
    return Case(machine, choices, disk, copied)


def check_plan(plan: Plan, case: Case) -> None:
    (dp,) = plan.disks
    size = dp.disk.size
    end = align_up(size - 33 * SECTOR + 1) - MiB if dp.table == "gpt" else size - size % MiB
    if dp.table == "gpt":
        assert end <= size - 33 * SECTOR  # the backup GPT stays free
    cursor = 0
    for p in sorted(dp.partitions, key=lambda p: p.start):
        assert p.start % MiB == 0 and p.size % MiB == 0 and p.size > 0
        gap = MiB if (p.logical or cursor == 0) else 0  # first at 1 MiB; EBR before a logical
        assert p.start >= cursor + gap
        cursor = p.start + p.size
        assert cursor <= end
        assert p.size >= p.min_size >= p.used
        if p.role == "filesystem":
            fs = next(f for f in case.machine.filesystems if f.device == p.source)
            floor = filesystem_floor(p.fstype or "", p.used, case.choices.headroom, fs.inodes_used)
            assert p.min_size >= floor
    # the disk is used up to its last usable MiB
    assert cursor == end
    numbers = [p.number for p in dp.partitions]
    assert len(set(numbers)) == len(numbers)
    if dp.extended is not None:
        ext_start, ext_size = dp.extended
        assert dp.table == "msdos" and ext_start % MiB == 0 and ext_start + ext_size == end
        for p in dp.partitions:
            inside = ext_start < p.start and p.start + p.size <= ext_start + ext_size
            assert inside == p.logical == (p.number > 4)
    else:
        assert not any(p.logical for p in dp.partitions) and max(numbers) == len(numbers)
    assert plan.total_bytes == case.copied
    if case.choices.boot == "cluster":
        root = plan.partition_at("/")
        assert root is not None and root.device == "/dev/vda1"


@settings(max_examples=400, deadline=None)
@given(cases())
def test_plan_fits_or_says_what_is_missing(case: Case) -> None:
    try:
        plan = plan_layout(case.machine, [case.disk], case.choices)
    except LayoutError as e:
        assert e.missing > 0, str(e)
        # no slack needed: usable space grows by exactly what the disk grows by
        bigger = replace(case.disk, size=case.disk.size + align_up(e.missing))
        check_plan(plan_layout(case.machine, [bigger], case.choices), case)
    else:
        check_plan(plan, case)


@settings(max_examples=200, deadline=None)
@given(cases(), st.data())
def test_swap_auto_between_dropped_and_kept(case: Case, data: st.DataObject) -> None:
    """From the smallest disk the filesystems fit on (swap dropped) to one
    with room for every swap area, auto swap only ever shrinks to between
    256 MiB and the source's size, and keeps it all once there is room."""
    choices = replace(case.choices, swap="auto")
    tiny = replace(case.disk, size=MiB)
    try:
        plan_layout(case.machine, [tiny], choices)
    except LayoutError as e:
        smallest = MiB + align_up(e.missing)
    else:
        raise AssertionError("nothing fits on 1 MiB")
    keep = {s.path: s.size for s in case.machine.swaps if s.kind == "partition"}
    room = sum(align_up(k) for k in keep.values()) + MiB  # + an EBR gap
    percent = data.draw(st.integers(0, 100))  # small ranges are drawn evenly, large ones favour 0
    extra = (room + GiB) * percent // 100 // MiB * MiB
    plan = plan_layout(case.machine, [replace(case.disk, size=smallest + extra)], choices)
    check_plan(plan, case)
    for p in plan.partitions:
        if p.role == "swap":
            assert p.source is not None
            assert min(256 * MiB, keep[p.source]) <= p.size <= align_up(keep[p.source])
    files = [s for s in case.machine.swaps if s.kind == "file"]
    if extra >= room and not files:
        assert sorted(p.size for p in plan.partitions if p.role == "swap") == sorted(
            align_up(k) for k in keep.values()
        )
