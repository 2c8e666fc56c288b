"""The one executor: runs a :class:`Migration` against a target, emitting
events. The wizard and ``--answers-file`` both end here.

Steps, in order (each emits StepStarted/StepFinished):

1. preflight  - target disks exist, are big enough and unused; tools exist
2. partition  - sfdisk with the plan's script, then make the kernel see it
3. mkfs       - filesystems and swap with the source's UUIDs and features;
                when a UUID cannot be kept, fixups are re-planned with the
                real one so fstab matches what exists
4. mount      - btrfs top levels on side mounts, subvolumes created
5. copy       - the tree under /target mounted filesystem by filesystem,
                each copied (system/transfer: sparse, tar and rsync passes)
                before anything is mounted on it; progress events
6. swapfiles  - recreated without holes
7. fixups     - each FileEdit written, its diff emitted
8. bootloader - chroot commands (initramfs, grub) when booting its own kernel
9. unmount    - always, also after a failure or a cancel (bounded when the
                link to the target is lost: the next run unmounts instead)
10. after     - poweroff / reboot / nothing

A step that fails while the target no longer answers ends the run with
TargetLost, whichever channel noticed first (rsync's ssh, a command, SFTP):
the run can be resumed once the link is back.
"""

from __future__ import annotations

import logging
import shlex
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import TypeVar

from ..model.commands import (
    DeviceNode,
    chroot_argv,
    chroot_dev_script,
    chroot_mount_argvs,
    mkfs_argv,
    mount_argv,
    swapfile_script,
)
from ..model.edits import FixupSet, ImagesHold
from ..model.events import EventSink, FileChanged, Log, Progress, StepFinished, StepStarted
from ..model.fixups.initramfs import kept_because
from ..model.machine import Machine
from ..model.parsers import MountEntry
from ..model.partitioning import sfdisk_script
from ..model.plan import SIDE_MOUNTS, TARGET_ROOT, CopyJob, MountStep, Plan, PlannedPartition
from ..model.progress import ProgressTracker
from ..model.resume import leftover_mounts, on_disk, resumable
from ..model.schedule import copy_stages, side_mounts
from ..model.target_output import parse_blkid_export, parse_disk_size, parse_sector_size, parse_stat_devices
from ..model.units import format_size
from ..system.runner import CommandError
from ..system.source_mounts import umount_argv
from ..system.sources import SourceAccess
from ..system.target import Target, TargetError, TargetLost, ask
from ..system.transfer import Cancelled, Transfer
from .target_files import EditError, TargetFiles

log = logging.getLogger(__name__)

T = TypeVar("T")

AFTER_COMMANDS = {
    "poweroff": "sync; sleep 2; systemctl --force --force poweroff || poweroff -f",
    "reboot": "sync; sleep 2; systemctl --force --force reboot || reboot -f",
}
"""Forced, straight to the kernel: the target's disks are unmounted and
synced, and only a bootstrap OS in RAM is ever powered off. A normal
shutdown would swap off the bootstrap's zram swap, which holds most of its
root filesystem in 256 MiB: the pages have nowhere to go and the kernel
panics ("System is deadlocked on memory"), measured under Ganeti/KVM."""


BUSY_TIMEOUT = 90.0
"""Seconds to wait for mounts an earlier run left that are still busy: the
processes of a session whose link was lost end when the target's sshd
gives that session up, at once when the link is back (the client's end
resets the old connection), else after 70-80 s of silence (ClientAlive*
in the bootstrap OS)."""
BUSY_POLL = 2.0
"""Seconds between two tries to unmount them."""
BUILTIN_LIMIT = 4 * 1024 * 1024
"""Bytes read at most of a kernel's modules.builtin."""
PARTX_AGAIN = 3.0
"""Seconds after which partition nodes still missing make ``partx
--update`` run again."""


class ExecutionError(Exception):
    pass


@dataclass(frozen=True)
class Migration:
    machine: Machine
    plan: Plan
    fixups: FixupSet
    after: str = "none"
    warm: bool = False
    """A warm pass: prepare (or resume) and copy, then unmount; the swap
    files, fixups, bootloader and ``after`` are the cutover's."""


@dataclass
class Executor:
    target: Target
    source: SourceAccess
    transfer: Transfer
    emit: EventSink
    replan_fixups: Callable[[Plan], FixupSet]
    """Fixups for a plan whose UUIDs changed after mkfs."""
    cancel: threading.Event
    progress_interval: float = 0.5
    """Seconds between progress events (the copy is never slowed by them)."""

    def run(self, migration: Migration) -> Migration:
        """Execute; returns the migration as finally applied (real UUIDs).

        A target that already holds this plan's partitions and filesystems
        (an earlier run was cancelled or failed after mkfs) is resumed:
        partitioning and mkfs are skipped, the copy finds what is there.
        """
        plan = migration.plan
        fixups = migration.fixups
        mounted: list[str] = []
        chroot_mounted: list[str] = []
        failed = True
        try:
            self._step("preflight", "Checking the target", lambda: self._preflight(plan, warm=migration.warm))
            resumed = self._resumable(plan)
            if resumed is None:
                self._step("partition", "Partitioning the target disks", lambda: self._partition(plan))
                plan = self._step("mkfs", "Creating filesystems", lambda: self._mkfs(plan))
            else:
                plan = resumed
                for step in ("partition", "mkfs"):
                    self.emit(
                        StepFinished(step, True, "already done by an earlier run: resuming", skipped=True)
                    )
            if plan != migration.plan:
                fixups = self.replan_fixups(plan)
            self._step("mount", "Preparing the target filesystems", lambda: self._mount_side(plan, mounted))
            self._step(
                "copy",
                "Mounting and copying, filesystem by filesystem",
                lambda: self._copy(plan, mounted, resume=resumed is not None),
            )
            if not migration.warm:
                self._step("swapfiles", "Creating swap files", lambda: self._swapfiles(plan))
                self._step("fixups", "Adapting the configuration", lambda: self._apply_edits(fixups))
                self._step(
                    "bootloader",
                    "Regenerating the initramfs and installing the bootloader",
                    lambda: self._chroot_commands(plan, fixups, chroot_mounted),
                )
            failed = False
        finally:
            try:
                self._step(
                    "unmount", "Unmounting the target", lambda: self._unmount(chroot_mounted + mounted)
                )
            except Exception as e:
                if not failed:
                    raise
                # its step said so already (console, wizard)
                log.info("unmounting after the failure failed too: %s", e)
        try:
            self._step(
                "after", f"After the transfer: {migration.after}", lambda: self._after(migration.after)
            )
        except ExecutionError as e:
            # the migration is complete; not powering off is a warning
            self._log(str(e), "warning")
            return replace(migration, plan=plan, fixups=fixups, after="none")
        except (TargetLost, CommandError) as e:
            self._log(f"the migration is complete, but '{migration.after}' was not run on the target: {e}",
                      "warning")  # fmt: skip
            return replace(migration, plan=plan, fixups=fixups, after="none")
        return replace(migration, plan=plan, fixups=fixups)

    # -- plumbing -------------------------------------------------------------

    def _step(self, step: str, title: str, action: Callable[[], T]) -> T:
        if self.cancel.is_set() and step not in ("unmount",):
            raise Cancelled(f"cancelled before {step}")
        self.emit(StepStarted(step, title))
        try:
            result = action()
        except Cancelled as e:
            self.emit(StepFinished(step, False, str(e)))
            raise
        except Exception as e:
            lost = self._link_lost(e)
            self.emit(StepFinished(step, False, str(lost or e)))
            if lost is not None and lost is not e:
                raise lost from e
            raise
        self.emit(StepFinished(step, True))
        return result

    def _link_lost(self, error: Exception) -> TargetLost | None:
        """The lost link behind a step's failure (rsync whose ssh gave up,
        a command cut off), or None while the target still answers."""
        if isinstance(error, TargetLost):
            return error
        try:
            self.target.check_link()
        except TargetLost as lost:
            log.debug("%s; the step failed with: %s", lost, error)
            return lost
        except TargetError:
            return None
        return None

    def _log(self, message: str, level: str = "info") -> None:
        log.log(logging.getLevelName(level.upper()), "%s", message)
        self.emit(Log(level, message))  # type: ignore[arg-type]

    def _run(self, argv: list[str], **kw: object) -> str:
        return self.target.run(argv, **kw).stdout  # type: ignore[arg-type]

    # -- steps ----------------------------------------------------------------

    def _preflight(self, plan: Plan, *, warm: bool = False) -> None:
        tools = {"sfdisk", "partx", "mount", "umount", "rsync", "blkid", "blockdev"}
        for part in plan.partitions:
            if part.fstype and part.fstype != "swap":
                tools.add(mkfs_argv(part)[0])
            if part.fstype == "swap":
                tools.add("mkswap")
            if part.subvolumes:
                tools.add("btrfs")
        if plan.swapfiles:
            tools |= {"mkswap", "fallocate"}
        if warm:
            tools.add("ssh")  # the target's rsync pulls from the running server
        missing = self.target.missing_tools(sorted(tools))
        if missing:
            raise ExecutionError(f"the target lacks {', '.join(missing)}: is it the p2v-target bootstrap OS?")
        mounts = self._unmount_leftovers(plan)
        for dp in plan.disks:
            sector = ask(self.target, ["blockdev", "--getss", dp.disk.path], parse_sector_size)
            if sector != 512:
                raise ExecutionError(
                    f"{dp.disk.path} has {sector}-byte sectors; p2v plans partitions in 512-byte sectors"
                )
            size = ask(self.target, ["blockdev", "--getsize64", dp.disk.path], parse_disk_size)
            last = max((p.start + p.size for p in dp.partitions), default=0)
            if size < last:
                raise ExecutionError(
                    f"{dp.disk.path} has {format_size(size)}, the plan needs {format_size(last)}: "
                    "the instance facts do not match the disk"
                )
            busy = sorted({m.source for m in mounts if on_disk(m.source, dp.disk.path)})
            if busy:
                raise ExecutionError(
                    f"{dp.disk.path} is in use on the target ({', '.join(busy)} mounted): the bootstrap OS "
                    "must run from RAM (start the instance with the ramboot initrd)"
                )

    def _unmount_leftovers(self, plan: Plan) -> list[MountEntry]:
        """Unmount what an earlier run left mounted (its link was lost
        before it could), waiting a bounded time while that run's processes
        still hold it; the target's mounts afterwards."""
        disks = [dp.disk.path for dp in plan.disks]
        mounts = self.target.mounts()
        left = leftover_mounts(mounts, disks)
        if not left:
            return mounts
        self._log(f"unmounting what an earlier run left mounted on the target: {', '.join(left)}")
        deadline = time.monotonic() + BUSY_TIMEOUT
        waiting = False
        while True:
            why = {}
            for path in left:
                result = self.target.run(umount_argv(path), check=False)
                if result.returncode != 0:
                    why[path] = _last_line(result.stderr)
            mounts = self.target.mounts()
            left = leftover_mounts(mounts, disks)
            if not left:
                return mounts
            busy = "; ".join(f"{path}: {why.get(path, 'still mounted')}" for path in left)
            if time.monotonic() >= deadline:
                raise ExecutionError(
                    f"what an earlier run left mounted on the target stays busy after "
                    f"{BUSY_TIMEOUT:.0f} s ({busy}): processes of that run still use it. They end "
                    "when the target's sshd gives up the dead session; 'fuser -vm /target' on the target "
                    "shows them. Run the same command again later."
                )
            if not waiting:
                self._log(f"waiting for processes of the earlier run to end ({busy})")
                waiting = True
            time.sleep(BUSY_POLL)

    def _resumable(self, plan: Plan) -> Plan | None:
        tables = {
            dp.disk.path: self.target.run(["sfdisk", "--json", dp.disk.path], check=False).stdout
            for dp in plan.disks
        }
        signatures = {
            part.device: self.target.run(_blkid_argv(part.device), check=False).stdout
            for part in plan.partitions
            if part.fstype is not None and part.role != "bios_grub"
        }
        resumed, why = resumable(plan, tables, signatures)
        if resumed is not None:
            self._log("the target already holds this plan's filesystems: resuming the copy")
        else:
            log.debug("not resuming: %s", why)
        return resumed

    def _partition(self, plan: Plan) -> None:
        for dp in plan.disks:
            script = sfdisk_script(dp, boot=plan.boot)
            self._log(f"partitioning {dp.disk.path} ({dp.table}, {len(dp.partitions)} partitions)")
            self._run(["wipefs", "--all", "--quiet", dp.disk.path])
            written = self.target.run(
                ["sfdisk", "--wipe", "always", "--wipe-partitions", "always", dp.disk.path],
                input=script.encode(),
                check=False,
            )
            # sfdisk exits non-zero when the kernel cannot re-read the table
            # (loop devices on kernels that do not parse tables) although the
            # table was written: what counts is that it reads back.
            dump = self.target.run(["sfdisk", "--dump", dp.disk.path], check=False)
            if dump.returncode != 0 or "start=" not in dump.stdout:
                raise ExecutionError(f"partitioning {dp.disk.path} failed: {written.stderr.strip()[-1500:]}")
            self.target.run(["partx", "--update", dp.disk.path], check=False)
            self.target.run(["udevadm", "settle", "--timeout=10"], check=False)
            self._wait_for_nodes(dp.disk.path, [p.device for p in dp.partitions])

    def _wait_for_nodes(self, disk: str, devices: list[str], timeout: float = 15.0) -> None:
        """Wait for the partitions' device nodes. Without udev (or when the
        kernel still held partitions of what the disk was before) one
        ``partx --update`` may leave a partition out: it is asked again
        every few seconds until the nodes are there or the time is up."""
        deadline = time.monotonic() + timeout
        again = time.monotonic() + PARTX_AGAIN
        said = ""
        while True:
            missing = self.target.missing_paths(devices)
            if not missing:
                return
            if time.monotonic() > deadline:
                why = f" (partx: {said})" if said else ""
                raise ExecutionError(
                    f"partition devices did not appear on the target: {', '.join(missing)}{why}"
                )
            if time.monotonic() >= again:
                result = self.target.run(["partx", "--update", disk], check=False)
                said = _last_line(result.stderr) if result.returncode else ""
                again = time.monotonic() + PARTX_AGAIN
            time.sleep(0.5)

    def _mkfs(self, plan: Plan) -> Plan:
        disks = []
        for dp in plan.disks:
            parts = []
            for part in dp.partitions:
                parts.append(self._mkfs_one(part))
            disks.append(replace(dp, partitions=tuple(parts)))
        return replace(plan, disks=tuple(disks))

    def _mkfs_one(self, part: PlannedPartition) -> PlannedPartition:
        if part.role == "bios_grub" or part.fstype is None:
            return part
        argv = mkfs_argv(part)
        self._log(f"{argv[0]} {part.device}" + (f" for {part.mountpoint}" if part.mountpoint else ""))
        result = self.target.run(argv, timeout=3600, check=False)
        if result.returncode != 0 and part.uuid:
            # mkfs.btrfs refuses a UUID its kernel already knows (another
            # filesystem with it is attached): a new UUID is the way out,
            # and the fixups follow it.
            self._log(f"{argv[0]} with UUID {part.uuid} failed ({_last_line(result.stderr)}); "
                      "trying with a new UUID", "warning")  # fmt: skip
            result = self.target.run(mkfs_argv(replace(part, uuid="")), timeout=3600, check=False)
        if result.returncode != 0:
            raise CommandError(argv, result.returncode, result.stderr or result.stdout)
        uuid = ask(self.target, _blkid_argv(part.device), parse_blkid_export).get("UUID", "")
        if part.uuid and uuid.lower() != part.uuid.lower():
            self._log(
                f"{part.device}: could not keep UUID {part.uuid} ({part.fstype}); it is {uuid}; "
                "references are rewritten to the new UUID",
                "warning",
            )
        return replace(part, uuid=uuid) if uuid and uuid.lower() != part.uuid.lower() else part

    def _mount(self, mount: MountStep, plan: Plan, mounted: list[str]) -> None:
        self._run(["mkdir", "-p", mount.path])
        self._run(mount_argv(mount.device, mount.path, mount.fstype, mount.options))
        mounted.insert(0, mount.path)
        part = next((p for p in plan.partitions if p.device == mount.device), None)
        if mount.path.startswith(SIDE_MOUNTS) and part is not None and part.subvolumes:
            self._create_subvolumes(part, mount.path)

    def _mount_side(self, plan: Plan, mounted: list[str]) -> None:
        for m in side_mounts(plan):
            self._mount(m, plan, mounted)

    def _create_subvolumes(self, part: PlannedPartition, top: str) -> None:
        for sv in part.subvolumes:  # parents first, as planned
            if sv.path in ("", "/"):
                continue
            self._run(["btrfs", "-q", "subvolume", "create", f"{top}/{sv.path}"])
        if part.default_subvolume:
            self._run(["btrfs", "-q", "subvolume", "set-default", f"{top}/{part.default_subvolume}"])

    def _copy(self, plan: Plan, mounted: list[str], *, resume: bool) -> None:
        stages = copy_stages(plan)
        jobs = [job for stage in stages for job in stage.jobs]
        tracker = ProgressTracker([job.bytes for job in jobs])
        last_emit = 0.0
        index = 0
        for stage in stages:
            if stage.mount is not None:
                self._mount(stage.mount, plan, mounted)
            for job in stage.jobs:
                tracker.start_job(index)
                index += 1
                fs_source = self.source.directory(job.source_device)
                source_dir = fs_source.rstrip("/") + (job.source_path if job.source_path != "/" else "")
                where = job.mountpoint or job.source_path
                self._log(f"copying {where} ({format_size(job.bytes)}) from {job.source_device}")

                def on_progress(done: int, percent: int | None, current: str, job: CopyJob = job) -> None:
                    nonlocal last_emit
                    now = time.monotonic()
                    tracker.update(done, percent, now)
                    if now - last_emit >= self.progress_interval:
                        last_emit = now
                        shown = _join(job.mountpoint, current)
                        self.emit(
                            Progress("copy", tracker.done, tracker.total, tracker.rate, tracker.eta, shown)
                        )

                result = self.transfer.copy(job, source_dir, on_progress, self.cancel, resume=resume)
                for warning in result.warnings:
                    self._log(warning, "warning")
                tracker.finish_job(result.bytes)
                self.emit(Progress("copy", tracker.done, tracker.total, tracker.rate, tracker.eta, ""))

    def _swapfiles(self, plan: Plan) -> None:
        with TargetFiles(self.target).keeping_dir_times([sf.path for sf in plan.swapfiles]):
            for sf in plan.swapfiles:
                self._log(f"swap file {sf.path} ({format_size(sf.size)})")
                self._run(swapfile_script(sf), timeout=3600)

    def _apply_edits(self, fixups: FixupSet) -> None:
        files = TargetFiles(self.target)
        with files.keeping_dir_times([e.path for e in fixups.edits]):
            for edit in fixups.edits:
                try:
                    outcome = files.apply(edit)
                except EditError as e:
                    raise ExecutionError(str(e)) from None
                if outcome == "already applied":
                    self._log(f"{edit.path}: already changed by an earlier run")
                # what is shown and kept everywhere has secrets masked
                self.emit(FileChanged(edit.path, edit.fixup, edit.shown_diff()))
        for note in fixups.notes:
            self._log(note, "info")

    def _device_nodes(self, plan: Plan) -> list[DeviceNode]:
        """The instance's disks and partitions with their numbers and IDs."""
        devices = [d.disk.path for d in plan.disks] + [p.device for p in plan.partitions]
        numbers = ask(
            self.target,
            ["stat", "-L", "--format=%n %t %T", *devices],
            lambda out: parse_stat_devices(out, devices),
        )
        nodes = []
        for path, (major, minor) in numbers.items():
            # (blkid exits 2 where it finds nothing: no tags, no links)
            tags = ask(self.target, _blkid_argv(path), parse_blkid_export, check=False)
            nodes.append(
                DeviceNode(
                    name=path.removeprefix("/dev/"),
                    major=major,
                    minor=minor,
                    uuid=tags.get("UUID", ""),
                    label=tags.get("LABEL", ""),
                    part_uuid=tags.get("PART_ENTRY_UUID", ""),
                )
            )
        return nodes

    def _chroot_commands(self, plan: Plan, fixups: FixupSet, chroot_mounted: list[str]) -> None:
        if not fixups.commands:
            self._log("nothing to run inside the migrated system")
            return
        for argv in chroot_mount_argvs():
            self._run(["mkdir", "-p", argv[-1]])
            self._run(argv)
            chroot_mounted.insert(0, argv[-1])
        self._run(chroot_dev_script(TARGET_ROOT, self._device_nodes(plan)))
        # the initramfs tools make their scratch directories there: the
        # migrated system's temporary directories keep the source's times
        with TargetFiles(self.target).keeping_dir_times(["/var/tmp/-", "/tmp/-"]):
            self._run_chroot_commands(fixups)

    def _run_chroot_commands(self, fixups: FixupSet) -> None:
        for cmd in fixups.commands:
            if cmd.unless is not None:
                why = self._images_kept(cmd.unless, fixups)
                if why is not None:
                    self._log(f"{shlex.join(cmd.argv)} is left out: {why}")
                    continue
            self._log(f"in the migrated system: {shlex.join(cmd.argv)}  ({cmd.reason})")
            result = self.target.run(chroot_argv(cmd.argv), timeout=3600, check=False)
            if result.returncode != 0:
                raise ExecutionError(
                    f"{shlex.join(cmd.argv)} failed inside the migrated system (exit {result.returncode}): "
                    + (result.stderr.strip() or result.stdout.strip())[-1500:]
                )
            for line in (result.stdout + result.stderr).strip().splitlines()[-20:]:
                log.debug("chroot: %s", line)

    def _images_kept(self, hold: ImagesHold, fixups: FixupSet) -> str | None:
        """Why the migrated system's initramfs images need no rebuild
        (listed inside it with its own lsinitramfs), or None."""
        listings: dict[str, str | None] = {}
        builtins: dict[str, str] = {}
        for version, image in hold.images:
            listed = self.target.run(chroot_argv(["lsinitramfs", image]), timeout=900, check=False)
            listings[image] = listed.stdout if listed.returncode == 0 else None
            if listed.returncode != 0:
                log.debug("lsinitramfs %s: %s", image, _last_line(listed.stderr))
            raw = self.target.read_file(
                f"{TARGET_ROOT}/lib/modules/{version}/modules.builtin", limit=BUILTIN_LIMIT
            )
            builtins[version] = (raw or b"").decode(errors="replace")
        return kept_because(hold, listings, builtins, [e.path for e in fixups.edits])

    def _unmount(self, paths: list[str]) -> None:
        failures = []
        try:
            for path in paths:
                result = self.target.run(umount_argv(path), check=False)
                if result.returncode != 0:
                    lazy = self.target.run(umount_argv(path, lazy=True), check=False)
                    failures.append(path if lazy.returncode else f"{path} (lazily)")
            self.target.run(["sync"], check=False)
        except TargetLost as e:
            raise TargetLost(
                "the target could not be unmounted: the link to it is lost; the next run unmounts it"
            ) from e
        paths.clear()
        if failures:
            self._log(f"could not unmount cleanly: {', '.join(failures)}", "warning")

    def _after(self, after: str) -> None:
        if after == "none":
            return
        # Only ever power off a bootstrap OS that runs from RAM: never a
        # machine whose root is on a disk (a mistyped host, a test rig).
        roots = [m.fstype for m in self.target.mounts() if m.target == "/"]
        root_fs = roots[-1] if roots else ""
        if root_fs not in ("tmpfs", "ramfs", "rootfs"):
            raise ExecutionError(
                f"the migration is complete, but '{after}' was not run on the target: its root "
                f"filesystem is {root_fs or 'unknown'}, not the bootstrap OS in RAM"
            )
        self._run(["sh", "-c", f"nohup sh -c '{AFTER_COMMANDS[after]}' >/dev/null 2>&1 &"])


def _blkid_argv(device: str) -> list[str]:
    return ["blkid", "-p", "-o", "export", device]  # -p: the device itself, not blkid's cache


def _last_line(text: str) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return lines[-1] if lines else "no message"


def _join(mountpoint: str | None, name: str) -> str:
    if not name:
        return ""
    base = (mountpoint or "").rstrip("/")
    return f"{base}/{name}"


__all__ = ["ExecutionError", "Executor", "Migration", "TargetError", "TargetLost"]
