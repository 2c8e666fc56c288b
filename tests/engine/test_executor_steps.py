"""The executor's steps at unit level, without root, disks or rsync.

The one Executor runs a plan of the demo's machine (with /home moved to a
btrfs subvolume and swap into a file, so that every step has work) against
the simulated bootstrap OS, told to fail chosen commands
(tests/engine/doubles.py), and a transfer that copies nothing but records
its jobs. Each step starts and finishes in order; a command failing in any
step fails that step, ends the run with its error, still unmounts and runs
nothing after it; a cancel or a lost link stops the run at once, the
unmount aside; a target that already holds the plan is resumed.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from p2v_tui.demo import FILESYSTEMS, demo_machine, example_file
from p2v_tui.engine import executor as executor_module
from p2v_tui.engine.executor import AFTER_COMMANDS, ExecutionError, Executor, Migration
from p2v_tui.engine.prepare import Prepared, make_plan
from p2v_tui.model.events import Event, FileChanged, Log, Progress, StepFinished, StepStarted
from p2v_tui.model.fixups import plan_fixups
from p2v_tui.model.fstab_syntax import parse_fstab
from p2v_tui.model.machine import Machine, Subvolume, SwapArea
from p2v_tui.model.parsers import MountEntry
from p2v_tui.model.plan import CopyJob
from p2v_tui.model.target import facts_from_json
from p2v_tui.system.answers_io import load_answers
from p2v_tui.system.runner import CommandError, CommandResult
from p2v_tui.system.simulated import SimulatedTarget
from p2v_tui.system.sources import DirectorySources
from p2v_tui.system.target import Target, TargetLost
from p2v_tui.system.transfer import Cancelled, Transfer, TransferError

from .doubles import Answer, Lie, LyingTarget, QuietTransfer, no_lie
from .linkcut import LOST, CuttingTransfer, Link, LosingTarget

STEPS = ("preflight", "partition", "mkfs", "mount", "copy", "swapfiles", "fixups", "bootloader",
         "unmount", "after")  # fmt: skip
RAM_ROOT = [MountEntry("tmpfs", "/", "tmpfs", "rw")]
"""What the simulated bootstrap OS has mounted when nothing else is."""
SWAP_UUID = "11111111-2222-3333-4444-555555555555"
SIDE = "/run/p2v-target/vda3"
"""Where the btrfs top level of /home is mounted while it is filled."""
JOBS = [SIDE, f"{SIDE}/@home", "/target", "/target/boot"]
"""The copy jobs' destinations, in the order they are copied."""
Mounted = tuple[tuple[str, str, str], ...]
"""(device, mount point, type) mounted on the target before the run."""


@pytest.fixture(scope="module")
def machine(tmp_path_factory: pytest.TempPathFactory) -> Machine:
    """The demo's machine with /home on btrfs (its subvolume @home) and a
    swap file on / instead of the swap partition."""
    base = tmp_path_factory.mktemp("source")
    dirs = {mp: base / (mp.strip("/") or "root") for _, mp, *_ in FILESYSTEMS}
    for d in dirs.values():
        d.mkdir()
    demo = demo_machine(dirs)
    home = Subvolume(256, "@home", mountpoint="/home")
    filesystems = tuple(
        dataclasses.replace(fs, fstype="btrfs", features=(), subvolumes=(home,))
        if fs.mountpoint == "/home"
        else fs
        for fs in demo.filesystems
    )
    files = dict(demo.config.files)
    files["/etc/fstab"] = (
        files["/etc/fstab"]
        .replace("/dev/sda5       /home           ext4    defaults",
                 "/dev/sda5       /home           btrfs   subvol=@home")
        .replace("/dev/sda2       none            swap    sw",
                 "/swapfile       none            swap    sw")
    )  # fmt: skip
    swapfile = SwapArea("file", "/swapfile", 64 * 2**20, SWAP_UUID, on_device="/dev/sda3")
    return dataclasses.replace(
        demo,
        filesystems=filesystems,
        swaps=(swapfile,),
        fstab=parse_fstab(files["/etc/fstab"]),
        config=dataclasses.replace(demo.config, files=files),
    )


@pytest.fixture(scope="module")
def prepared(machine: Machine) -> Prepared:
    facts = facts_from_json(json.loads(example_file("instance.json").read_text()))
    answers = load_answers(str(example_file("answers.yaml")))
    return make_plan(
        machine,
        facts,
        disks=facts.disks,
        layout=answers.layout,
        fixup_choices=answers.fixups,
        exclude_sizes={},
    )


@dataclass
class Run:
    """One executor run over the simulated target, and what it did."""

    prepared: Prepared
    target: LyingTarget
    transfer: QuietTransfer
    cancel: threading.Event = field(default_factory=threading.Event)
    events: list[Event] = field(default_factory=list)
    cancel_after: str = ""
    """Set :attr:`cancel` when this step finishes (a person pressing Cancel)."""
    marks: dict[str, int] = field(default_factory=dict)
    """Step -> how many commands the target had run when it finished."""
    mounted_at_copy: list[tuple[str, list[str]]] = field(default_factory=list)
    """Each job's destination, with what was mounted below /target and
    /run/p2v-target when it was copied."""

    def execute(
        self,
        after: str = "none",
        *,
        target: Target | None = None,
        transfer: Transfer | None = None,
        migration: Migration | None = None,
    ) -> Migration:
        machine, facts, choices = self.prepared.machine, self.prepared.facts, self.prepared.fixup_choices
        executor = Executor(
            target=target or self.target,
            source=DirectorySources({dev: f"/source{dev}" for dev, *_ in FILESYSTEMS}),
            transfer=transfer or self.transfer,
            emit=self._emit,
            replan_fixups=lambda plan: plan_fixups(machine, plan, facts, choices),
            cancel=self.cancel,
            progress_interval=0.0,
        )
        return executor.run(migration or Migration(machine, self.prepared.plan, self.prepared.fixups, after))

    def _emit(self, event: Event) -> None:
        self.events.append(event)
        if isinstance(event, StepFinished):
            self.marks[event.step] = len(self.target.commands)
            if event.step == self.cancel_after:
                self.cancel.set()

    def started(self) -> list[str]:
        return [e.step for e in self.events if isinstance(e, StepStarted)]

    def finished(self) -> dict[str, StepFinished]:
        return {e.step: e for e in self.events if isinstance(e, StepFinished)}

    def logged(self, level: str) -> list[str]:
        return [e.message for e in self.events if isinstance(e, Log) and e.level == level]

    def commands_after(self, step: str) -> list[tuple[str, ...]]:
        """What the target ran once ``step`` had finished."""
        return self.target.commands[self.marks[step] :]


During = Callable[[Run, CopyJob, threading.Event], None]
"""Called half-way through each copy job: fails or cancels it."""


def make_run(
    tmp_path: Path,
    prepared: Prepared,
    lie: Lie = no_lie,
    *,
    files: Mapping[str, bytes] | None = None,
    mounted: Mounted = (),
    during: During | None = None,
    kind: type[LyingTarget] = LyingTarget,
) -> Run:
    """The target as the copy leaves it (the migrated tree holds the
    source's configuration: the transfer copies nothing), with ``files``
    changed and ``mounted`` mounted."""
    copied = {f"/target{path}": text.encode() for path, text in prepared.machine.config.files.items()}
    target = kind(tmp_path / "target", {**copied, **(files or {})}, lie)
    for device, path, fstype in mounted:
        SimulatedTarget.run(target, ["mount", "-t", fstype, device, path])
    target.commands.clear()
    run = Run(prepared, target, QuietTransfer(current="file.txt"))

    def record(job: CopyJob, cancel: threading.Event) -> None:
        below = [m.target for m in target.mounts() if m.target.startswith(("/target", "/run/p2v-target"))]
        run.mounted_at_copy.append((job.dest, below))
        if during is not None:
            during(run, job, cancel)

    run.transfer.during = record
    return run


def fails(
    program: str,
    *words: str,
    err: str = "it failed",
    code: int = 1,
    when: Callable[[tuple[str, ...]], bool] | None = None,
) -> Lie:
    """A command of ``program`` with each of ``words`` among its arguments
    (and for which ``when`` holds) exits ``code`` saying ``err``."""

    def lie(target: LyingTarget, args: tuple[str, ...]) -> Answer | None:
        if args[0] != program or not all(w in args for w in words) or (when and not when(args)):
            return None
        return code, "", err

    return lie


def says(argv: tuple[str, ...], out: str) -> Lie:
    """Commands starting with ``argv`` print ``out`` and succeed."""
    return lambda target, args: (0, out, "") if args[: len(argv)] == argv else None


def lies(*all_of: Lie) -> Lie:
    def lie(target: LyingTarget, args: tuple[str, ...]) -> Answer | None:
        return next((a for a in (one(target, args) for one in all_of) if a is not None), None)

    return lie


def script_has(text: str) -> Callable[[tuple[str, ...]], bool]:
    return lambda args: text in args[-1]


# -- every step, in order -------------------------------------------------------------------------


def test_every_step_starts_and_finishes_in_order(tmp_path: Path, prepared: Prepared) -> None:
    run = make_run(tmp_path, prepared)
    done = run.execute(after="poweroff")
    pairs = [(type(e).__name__, e.step) for e in run.events if isinstance(e, StepStarted | StepFinished)]
    assert pairs == [(kind, step) for step in STEPS for kind in ("StepStarted", "StepFinished")]
    assert all(f.ok and not f.skipped and f.message == "" for f in run.finished().values())
    assert done.after == "poweroff"
    assert done.plan == prepared.plan  # every UUID kept
    assert run.logged("warning") == []


def test_the_disk_is_partitioned_then_formatted_with_the_source_uuids(
    tmp_path: Path, prepared: Prepared
) -> None:
    run = make_run(tmp_path, prepared)
    run.execute()
    written = [c for c in run.target.commands if c[0].startswith(("wipefs", "sfdisk", "mkfs"))
               and "--json" not in c and "--dump" not in c]  # fmt: skip
    assert [c[0] for c in written] == ["wipefs", "sfdisk", "mkfs.ext4", "mkfs.ext3", "mkfs.btrfs"]
    source = {mp: uuid for _, mp, _, uuid, *_ in FILESYSTEMS}
    uuids = {c[-1]: c[c.index("-U") + 1] for c in written if c[0].startswith("mkfs")}
    assert uuids == {"/dev/vda1": source["/"], "/dev/vda2": source["/boot"], "/dev/vda3": source["/home"]}


def test_each_filesystem_is_copied_before_anything_is_mounted_on_it(
    tmp_path: Path, prepared: Prepared
) -> None:
    run = make_run(tmp_path, prepared)
    run.execute()
    assert ("btrfs", "-q", "subvolume", "create", f"{SIDE}/@home") in run.target.commands
    assert run.mounted_at_copy == [
        (SIDE, [SIDE]),  # the btrfs top level
        (f"{SIDE}/@home", [SIDE]),  # its subvolume, created there
        ("/target", [SIDE, "/target"]),  # /target/boot is not mounted yet
        ("/target/boot", [SIDE, "/target", "/target/boot"]),
    ]
    assert [(c.source_dir, c.resume) for c in run.transfer.copied] == [
        ("/source/dev/sda5", False),
        ("/source/dev/sda5/@home", False),
        ("/source/dev/sda3", False),
        ("/source/dev/sda1", False),
    ]


def test_copy_progress_is_reported_up_to_the_total(tmp_path: Path, prepared: Prepared) -> None:
    run = make_run(tmp_path, prepared)
    run.execute()
    progress = [e for e in run.events if isinstance(e, Progress)]
    total = sum(job.bytes for job in prepared.plan.copies)
    assert total > 0 and {p.total for p in progress} == {total}
    done = [p.done for p in progress]
    assert done == sorted(done) and done[-1] == total
    # the file in progress, as the migrated system names it
    assert {p.current for p in progress} == {"", "/file.txt", "/home/file.txt", "/boot/file.txt"}


def test_swap_files_fixups_and_bootloader_are_made_in_the_migrated_system(
    tmp_path: Path, prepared: Prepared
) -> None:
    run = make_run(tmp_path, prepared)
    run.execute()
    (swap,) = [c[-1] for c in run.target.commands if c[:2] == ("sh", "-ec") and "mkswap" in c[-1]]
    assert f"mkswap -f /target/swapfile -U {SWAP_UUID}" in swap
    changed = [e.path for e in run.events if isinstance(e, FileChanged)]
    assert changed == [e.path for e in prepared.fixups.edits] and "/etc/fstab" in changed
    fstab = next(e for e in prepared.fixups.edits if e.path == "/etc/fstab")
    assert (tmp_path / "target/target/etc/fstab").read_text() == fstab.new != fstab.old
    chroot = [c[7:] for c in run.target.commands if c[:3] == ("chroot", "/target", "/usr/bin/env")]
    assert chroot == [
        ("lsinitramfs", "/boot/initrd.img-3.2.0-4-amd64"),  # lists nothing here: rebuilt
        ("update-initramfs", "-u", "-k", "all"),
        ("grub-install", "--target=i386-pc", "--recheck", "/dev/vda"),
        ("update-grub",),
    ]


def _generic_image(target: LyingTarget, args: tuple[str, ...]) -> tuple[int, str, str] | None:
    if args[:2] == ("chroot", "/target") and "lsinitramfs" in args:
        modules = (
            "drivers/virtio/virtio_pci",
            "drivers/block/virtio_blk",
            "drivers/scsi/virtio_scsi",
            "fs/ext4/ext4",
        )
        return 0, "".join(f"usr/lib/modules/3.2.0-4-amd64/kernel/{m}.ko\n" for m in modules), ""
    return None


def test_an_image_that_holds_the_drivers_is_not_rebuilt_and_the_log_says_why(
    tmp_path: Path, prepared: Prepared
) -> None:
    run = make_run(tmp_path, prepared, _generic_image)
    run.execute()
    chroot = [c[7:] for c in run.target.commands if c[:3] == ("chroot", "/target", "/usr/bin/env")]
    assert ("update-initramfs", "-u", "-k", "all") not in chroot and ("update-grub",) in chroot
    said = [e.message for e in run.events if isinstance(e, Log)]
    assert any(
        "update-initramfs -u -k all is left out: the initramfs of 3.2.0-4-amd64 already holds" in m
        for m in said
    ), said


def test_everything_mounted_is_unmounted_the_last_first(tmp_path: Path, prepared: Prepared) -> None:
    run = make_run(tmp_path, prepared)
    run.execute()
    unmounted = [c[-1] for c in run.commands_after("bootloader") if c[0] == "umount"]
    assert unmounted == [
        "/target/run", "/target/sys", "/target/proc", "/target/dev",  # the chroot's
        "/target/home", "/target/boot", "/target", SIDE,
    ]  # fmt: skip
    assert run.target.mounts() == RAM_ROOT


@pytest.mark.parametrize(
    ("umount", "warning"),
    [
        ("busy", "could not unmount cleanly: /target/boot (lazily)"),
        ("stuck", "could not unmount cleanly: /target/boot"),
    ],
)
def test_a_filesystem_that_will_not_unmount_is_a_warning(
    tmp_path: Path, prepared: Prepared, umount: str, warning: str
) -> None:
    lazy_too = umount == "stuck"
    lie = fails("umount", "/target/boot", when=lambda args: lazy_too or "--lazy" not in args, code=32,
                err="umount: /target/boot: target is busy.")  # fmt: skip
    run = make_run(tmp_path, prepared, lie)
    done = run.execute(after="poweroff")
    assert run.finished()["unmount"].ok
    assert run.logged("warning") == [warning]
    assert done.after == "poweroff"


def test_what_an_earlier_run_left_mounted_is_unmounted_first(tmp_path: Path, prepared: Prepared) -> None:
    left = (("/dev/vda1", "/target", "ext4"), ("/dev/vda2", "/target/boot", "ext3"),
            ("proc", "/target/proc", "proc"))  # fmt: skip
    run = make_run(tmp_path, prepared, mounted=left)
    run.execute()
    told = "unmounting what an earlier run left mounted on the target: /target/proc, /target/boot, /target"
    assert told in run.logged("info")
    first = [c for c in run.target.commands[: run.marks["preflight"]] if c[0] in ("umount", "wipefs")]
    assert first == [("umount", "/target/proc"), ("umount", "/target/boot"), ("umount", "/target")]
    assert all(f.ok for f in run.finished().values())


@dataclass(frozen=True)
class After:
    after: str
    ran: str
    """What the bootstrap OS was really told to do."""
    warning: str = ""
    mounted: Mounted = ()
    lie: Lie = no_lie
    tried: bool = False
    """The command was sent although it did not run (besides when it ran)."""


def lose_link(target: LyingTarget, args: tuple[str, ...]) -> Answer | None:
    if args[:2] == ("sh", "-c"):
        raise TargetLost(LOST)
    return None


NOT_RUN = "the migration is complete, but 'poweroff' was not run on the target: "
AFTERS = [
    After("none", "none"),
    After("poweroff", "poweroff"),
    After("reboot", "reboot"),
    # never a machine whose root is on a disk (a mistyped host, a test rig)
    After("poweroff", "none", f"{NOT_RUN}its root filesystem is ext4, not the bootstrap OS in RAM",
          mounted=(("/dev/sda1", "/", "ext4"),)),
    After("poweroff", "none", f"{NOT_RUN}{LOST}", lie=lose_link),
    After("poweroff", "none",
          f"{NOT_RUN}sh -c 'nohup sh -c '\"'\"'{AFTER_COMMANDS['poweroff']}'\"'\"' >/dev/null 2>&1 &' failed "
          "with exit status 126: sh: nohup: Permission denied",
          lie=fails("sh", "-c", code=126, err="sh: nohup: Permission denied"), tried=True),
]  # fmt: skip


@pytest.mark.parametrize("case", [pytest.param(c, id=f"{c.after}-{i}") for i, c in enumerate(AFTERS)])
def test_after_the_transfer_the_bootstrap_os_is_told_what_to_do(
    tmp_path: Path, prepared: Prepared, case: After
) -> None:
    run = make_run(tmp_path, prepared, case.lie, mounted=case.mounted)
    done = run.execute(after=case.after)  # the migration is complete, whatever happens here
    assert done.after == case.ran
    assert run.finished()["after"].ok is (case.warning == "")
    assert run.logged("warning") == ([case.warning] if case.warning else [])
    told = [c for c in run.commands_after("unmount") if c[0] == "sh"]
    sent = case.after if case.ran != "none" or case.tried else "none"
    assert told == (
        [] if sent == "none" else [("sh", "-c", f"nohup sh -c '{AFTER_COMMANDS[sent]}' >/dev/null 2>&1 &")]
    )


# -- a failure at each step -----------------------------------------------------------------------


@dataclass(frozen=True)
class Failure:
    id: str
    step: str
    error: type[Exception]
    says: str
    """The start of the error's message (which the failed step shows)."""
    lie: Lie = no_lie
    files: Mapping[str, bytes] = field(default_factory=dict)
    mounted: Mounted = ()
    during: During | None = None


def rsync_fails(run: Run, job: CopyJob, cancel: threading.Event) -> None:
    if job.dest == "/target":
        raise TransferError("copying / failed: rsync error in file IO (code 11)\nNo space left (28)")


FAILURES = [
    Failure("blockdev-fails", "preflight", CommandError,
            "blockdev --getss /dev/vda failed with exit status 1: blockdev: cannot open /dev/vda",
            fails("blockdev", "--getss", err="blockdev: cannot open /dev/vda")),
    Failure("sectors-of-4k", "preflight", ExecutionError,
            "/dev/vda has 4096-byte sectors; p2v plans partitions in 512-byte sectors",
            says(("blockdev", "--getss"), "4096\n")),
    Failure("disk-smaller-than-planned", "preflight", ExecutionError,
            "/dev/vda has 1.00 GiB, the plan needs 10.0 GiB: the instance facts do not match the disk",
            says(("blockdev", "--getsize64"), f"{2**30}\n")),
    Failure("disk-in-use", "preflight", ExecutionError,
            "/dev/vda is in use on the target (/dev/vda1 mounted): the bootstrap OS must run from RAM",
            mounted=(("/dev/vda1", "/", "ext4"),)),
    Failure("wipefs-fails", "partition", CommandError,
            "wipefs --all --quiet /dev/vda failed with exit status 1: wipefs: error: probing failed",
            fails("wipefs", err="wipefs: error: probing failed")),
    Failure("table-not-written", "partition", ExecutionError,
            "partitioning /dev/vda failed: sfdisk: Failed to write disklabel.",
            lies(fails("sfdisk", "--wipe", err="sfdisk: Failed to write disklabel."),
                 fails("sfdisk", "--dump"))),
    Failure("mkfs-fails", "mkfs", CommandError, "mkfs.ext4 ",
            fails("mkfs.ext4", err="mkfs.ext4: Device size reported to be zero.")),
    Failure("side-mount-fails", "mount", CommandError,
            f"mount -t btrfs -o subvolid=5 /dev/vda3 {SIDE} failed with exit status 32: wrong fs type",
            fails("mount", "subvolid=5", code=32, err="wrong fs type")),
    Failure("subvolume-not-created", "mount", CommandError,
            f"btrfs -q subvolume create {SIDE}/@home failed with exit status 1: ERROR: cannot create",
            fails("btrfs", "create", err="ERROR: cannot create")),
    Failure("tree-mount-fails", "copy", CommandError,
            "mount -t ext4 -o defaults /dev/vda1 /target failed with exit status 32: bad superblock",
            fails("mount", "/target", code=32, err="bad superblock")),
    Failure("rsync-fails", "copy", TransferError, "copying / failed: rsync error in file IO (code 11)",
            during=rsync_fails),
    Failure("swapfile-fails", "swapfiles", CommandError, "sh -ec 'rm -f /target/swapfile",
            fails("sh", "-ec", when=script_has("mkswap"), err="mkswap: error: swap area needs 40 KiB")),
    Failure("file-changed-on-target", "fixups", ExecutionError,
            "/etc/fstab on the target differs from the source snapshot the fixup was planned on",
            files={"/target/etc/fstab": b"# not the source's\n"}),
    Failure("chroot-mount-fails", "bootloader", CommandError, "mount -t proc proc /target/proc failed",
            fails("mount", "proc")),
    Failure("grub-install-fails", "bootloader", ExecutionError,
            "grub-install --target=i386-pc --recheck /dev/vda failed inside the migrated system "
            "(exit 1): grub-install: error: disk not found",
            fails("chroot", "grub-install", err="grub-install: error: disk not found")),
]  # fmt: skip


@pytest.mark.parametrize("case", [pytest.param(c, id=c.id) for c in FAILURES])
def test_a_failure_fails_its_step_still_unmounts_and_runs_nothing_after(
    tmp_path: Path, prepared: Prepared, case: Failure
) -> None:
    run = make_run(tmp_path, prepared, case.lie, files=case.files, mounted=case.mounted, during=case.during)
    with pytest.raises(Exception) as raised:  # the type is checked exactly below
        run.execute(after="poweroff")
    assert type(raised.value) is case.error, repr(raised.value)
    assert str(raised.value).startswith(case.says), str(raised.value)
    before = list(STEPS[: STEPS.index(case.step)])
    assert run.started() == [*before, case.step, "unmount"]
    finished = run.finished()
    assert [s for s, f in finished.items() if f.ok] == [*before, "unmount"]
    assert finished[case.step].message == str(raised.value)
    # after it only the unmount ran, and only what was there before is still mounted
    assert {c[0] for c in run.commands_after(case.step)} <= {"umount", "sync"}
    assert run.target.mounts() == RAM_ROOT + [MountEntry(d, p, t, "") for d, p, t in case.mounted]
    if STEPS.index(case.step) < STEPS.index("copy"):
        assert run.transfer.copied == []


def test_a_mkfs_that_cannot_keep_a_uuid_gets_a_new_one_and_the_fixups_follow(
    tmp_path: Path, prepared: Prepared
) -> None:
    """mkfs.btrfs refuses a UUID its kernel already knows: the filesystem
    gets a new one, and fstab names it by that."""
    new = "0d5f4b0e-9c1a-4a7e-8f3b-2e6d7c9a1b55"
    home = next(p for p in prepared.plan.partitions if p.mountpoint == "/home")
    lie = lies(
        fails("mkfs.btrfs", "-U", err=f"ERROR: non-unique UUID: {home.uuid}"),
        says(("blkid", "-p", "-o", "export", home.device), f"UUID={new}\nTYPE=btrfs\n"),
    )
    run = make_run(tmp_path, prepared, lie)
    done = run.execute()
    assert all(f.ok for f in run.finished().values())
    assert [p.uuid for p in done.plan.partitions if p.device == home.device] == [new]
    assert run.logged("warning")[-1].startswith(f"{home.device}: could not keep UUID {home.uuid} (btrfs)")
    fstab = (tmp_path / "target/target/etc/fstab").read_text()
    assert f"UUID={new}" in fstab and home.uuid not in fstab
    assert done.fixups != prepared.fixups


# -- cancel ---------------------------------------------------------------------------------------


def cancel_in_copy(run: Run, job: CopyJob, cancel: threading.Event) -> None:
    if job.dest == "/target":
        cancel.set()
        raise Cancelled("copy of / cancelled")  # as RsyncTransfer does


@dataclass(frozen=True)
class Cancel:
    at: str
    """The step at whose end Cancel is pressed; "" before the run; "copy"
    during the copy of /."""
    says: str
    steps: tuple[str, ...]
    """Those started before the unmount."""
    copied: tuple[str, ...]


CANCELS = [
    Cancel("", "cancelled before preflight", (), ()),
    Cancel("mkfs", "cancelled before mount", STEPS[:3], ()),
    Cancel("copy", "copy of / cancelled", STEPS[:5], tuple(JOBS[:3])),
    # the migration is complete, but nothing is powered off once Cancel is pressed
    Cancel("bootloader", "cancelled before after", STEPS[:8], tuple(JOBS)),
]


@pytest.mark.parametrize("case", [pytest.param(c, id=c.at or "start") for c in CANCELS])
def test_a_cancel_stops_the_run_and_still_unmounts(tmp_path: Path, prepared: Prepared, case: Cancel) -> None:
    run = make_run(tmp_path, prepared, during=cancel_in_copy if case.at == "copy" else None)
    if not case.at:
        run.cancel.set()
    elif case.at != "copy":
        run.cancel_after = case.at
    with pytest.raises(Cancelled, match=f"^{case.says}$"):
        run.execute(after="poweroff")
    assert run.started() == [*case.steps, "unmount"]
    finished = run.finished()
    assert finished["unmount"].ok and "after" not in finished
    if case.at == "copy":
        assert finished["copy"] == StepFinished("copy", False, "copy of / cancelled")
    assert [c.job.dest for c in run.transfer.copied] == list(case.copied)
    assert run.target.mounts() == RAM_ROOT
    assert not [c for c in run.target.commands if c[:2] == ("sh", "-c")]  # not powered off
    if not case.at:
        assert run.target.writes == []


# -- a lost link ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("link", "step", "left"),
    [
        # rsync's ssh gives up in the first job: the btrfs top level stays mounted
        (Link(hang=0, cut_in_copy=True), "copy", [SIDE]),
        # a command cut off: the whole tree and the chroot's filesystems stay
        (Link(hang=0, cut_at_command="chroot"), "bootloader",
         [SIDE, "/target", "/target/boot", "/target/home",
          "/target/dev", "/target/proc", "/target/sys", "/target/run"]),
    ],
    ids=["mid-copy", "in-a-command"],
)  # fmt: skip
def test_a_lost_link_fails_its_step_and_leaves_the_mounts_to_the_next_run(
    tmp_path: Path, prepared: Prepared, link: Link, step: str, left: list[str]
) -> None:
    link = dataclasses.replace(link, cut=threading.Event(), commands=[])
    run = make_run(tmp_path, prepared)
    with pytest.raises(TargetLost, match=f"^{LOST}$"):
        run.execute(
            after="poweroff",
            target=LosingTarget(run.target, link),
            transfer=CuttingTransfer(run.transfer, link),
        )
    before = list(STEPS[: STEPS.index(step)])
    assert run.started() == [*before, step, "unmount"]
    finished = run.finished()
    assert finished[step] == StepFinished(step, False, LOST)  # not rsync's broken pipe
    unmount = "the target could not be unmounted: the link to it is lost; the next run unmounts it"
    assert finished["unmount"] == StepFinished("unmount", False, unmount)
    assert [m.target for m in run.target.mounts()] == ["/", *left]
    if step == "copy":
        assert run.transfer.copied == []  # no job after the one the link died in


# -- resume ---------------------------------------------------------------------------------------


def test_a_target_holding_the_plan_is_resumed_without_partitioning(
    tmp_path: Path, prepared: Prepared
) -> None:
    run = make_run(tmp_path, prepared)
    run.target.earlier = prepared.plan
    done = run.execute()
    resumed = StepFinished("partition", True, "already done by an earlier run: resuming", skipped=True)
    assert run.finished()["partition"] == resumed
    assert run.finished()["mkfs"] == dataclasses.replace(resumed, step="mkfs")
    assert run.started() == [s for s in STEPS if s not in ("partition", "mkfs")]
    assert not [w for w in run.target.writes if w.startswith(("wipefs", "sfdisk", "mkfs"))]
    assert [c.resume for c in run.transfer.copied] == [True] * len(JOBS)  # only what is missing is sent
    assert "the target already holds this plan's filesystems: resuming the copy" in run.logged("info")
    assert done.plan == prepared.plan


def test_a_resumed_run_takes_the_uuids_the_earlier_one_made(tmp_path: Path, prepared: Prepared) -> None:
    """A filesystem whose UUID the plan left to mkfs (here /boot's) has the
    one the earlier run's mkfs chose; the fixups are planned again with it."""
    boot = next(p for p in prepared.plan.partitions if p.mountpoint == "/boot")
    plan = dataclasses.replace(
        prepared.plan,
        disks=tuple(
            dataclasses.replace(
                dp,
                partitions=tuple(dataclasses.replace(p, uuid="") if p == boot else p for p in dp.partitions),
            )
            for dp in prepared.plan.disks
        ),
    )
    m, facts, choices = prepared.machine, prepared.facts, prepared.fixup_choices
    run = make_run(tmp_path, prepared)
    run.target.earlier = prepared.plan
    done = run.execute(migration=Migration(m, plan, plan_fixups(m, plan, facts, choices)))
    assert run.finished()["mkfs"].skipped
    assert done.plan == prepared.plan
    assert done.fixups == prepared.fixups
    assert f"UUID={boot.uuid}" in (tmp_path / "target/target/etc/fstab").read_text()


def test_a_target_holding_another_plan_is_prepared_afresh(
    tmp_path: Path, prepared: Prepared, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="p2v_tui.engine.executor")
    root = prepared.plan.partitions[0]
    other = "9f1e2d3c-4b5a-4978-8695-a4b3c2d1e0f9"
    disk = dataclasses.replace(
        prepared.plan.disks[0],
        partitions=(dataclasses.replace(root, uuid=other), *prepared.plan.disks[0].partitions[1:]),
    )
    run = make_run(tmp_path, prepared)
    run.target.earlier = dataclasses.replace(prepared.plan, disks=(disk,))
    run.execute()
    assert f"not resuming: {root.device} has UUID {other}, not {root.uuid}" in caplog.text
    assert run.started() == list(STEPS)
    assert [c.resume for c in run.transfer.copied] == [False] * len(JOBS)
    assert run.target.writes[0].startswith("wipefs")


class StalePartitions(LyingTarget):
    """A kernel that still held partitions of what the disk was before: the
    first ``partx --update`` leaves the first partition out."""

    partx_runs = 0

    def run(self, argv: Sequence[str], **kwargs: Any) -> CommandResult:
        if argv[0] == "partx":
            self.partx_runs += 1
        return super().run(argv, **kwargs)

    def missing_paths(self, paths: Sequence[str]) -> list[str]:
        missing = super().missing_paths(paths)
        return [*missing, "/dev/vda1"] if self.partx_runs < 2 and "/dev/vda1" in paths else missing


def test_a_partition_partx_left_out_is_asked_for_again(
    tmp_path: Path, prepared: Prepared, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(executor_module, "PARTX_AGAIN", 0.0)
    run = make_run(tmp_path, prepared, kind=StalePartitions)
    run.execute()
    assert isinstance(run.target, StalePartitions) and run.target.partx_runs >= 2
    assert run.finished()["partition"].ok
