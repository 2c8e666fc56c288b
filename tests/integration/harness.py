"""Real migrations for the integration tests.

A *source* is a loop-device disk image with real partitions and
filesystems holding the lab's realistic tree; a *target* is an empty loop
device behind a real sshd in a network namespace (tests/lab), which knows it
through /etc/p2v-target/instance.json. ``run_p2v`` runs the real program in
the client namespace; the ``check_*`` functions assert what a user would.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from p2v_tui.model.fstab_syntax import parse_fstab
from p2v_tui.model.units import GiB, MiB
from tests.lab.compare import compare_trees
from tests.lab.disks import DiskSpec, LoopDisk, PartSpec, image_sha256, loop_disk, mounted
from tests.lab.netns import NetnsPair, netns_pair
from tests.lab.sshd import TargetHost, make_client_key, target_sshd
from tests.lab.tree import (
    TreeInfo,
    TreeSpec,
    fstab_by_device,
    fstab_by_label,
    fstab_by_uuid,
    populate_tree,
    render_fstab,
    subvol_options,
)

REPO = Path(__file__).resolve().parents[2]
P2V = str(REPO / ".venv" / "bin" / "p2v")
INSTANCE = "web01.example.org"
INSTANCE_MAC = "aa:00:00:4f:1e:02"
SOURCE_MAC = "52:54:00:12:34:56"  # the lab tree's eth0

UUID_ROOT = "5f1c0f9e-3b7a-4c1e-9d2a-1a2b3c4d5e6f"
UUID_HOME = "0b6a4c1d-7e2f-4a3b-9c8d-2e1f0a9b8c7d"
UUID_VAR = "9e8d7c6b-5a4f-4e3d-8c2b-1a0f9e8d7c6b"
UUID_SWAP = "3c2b1a09-8f7e-4d6c-b5a4-938271605f4e"


@dataclass(frozen=True)
class SourceFs:
    mountpoint: str
    part: str
    """Mount point of the PartSpec holding it (its device, once built)."""
    fstype: str
    subvol: str | None = None
    """btrfs: the subvolume mounted at ``mountpoint``."""
    device: str = ""
    """Set once the disk is built."""


@dataclass
class Source:
    disk: LoopDisk
    tree: TreeInfo
    filesystems: list[SourceFs]
    excludes: tuple[str, ...] = ()
    swap_device: str | None = None

    @property
    def image(self) -> Path:
        return self.disk.image

    @contextlib.contextmanager
    def mounted_readonly(self) -> Iterator[dict[str, Path]]:
        """Every source filesystem, read-only, by mount point."""
        with contextlib.ExitStack() as stack:
            yield {fs.mountpoint: stack.enter_context(readonly(fs.device, fs.fstype, fs.subvol))
                   for fs in self.filesystems}  # fmt: skip


@dataclass(frozen=True)
class Case:
    """One source machine layout."""

    name: str
    disk: DiskSpec
    fstab: list[str]
    filesystems: list[SourceFs] = field(default_factory=list)
    swapfile: int | None = None


def _case(name: str) -> Case:
    if name == "msdos-root-swap":
        # An old server: msdos, / and swap, fstab by kernel names.
        disk = DiskSpec(
            1 * GiB,
            "msdos",
            (
                PartSpec(768 * MiB, "ext4", uuid=UUID_ROOT, flags=("boot",), mountpoint="/"),
                PartSpec(None, "swap", uuid=UUID_SWAP),
            ),
        )
        fstab = [fstab_by_device("/dev/sda1", "/", "ext4", "errors=remount-ro", passno=1),
                 fstab_by_device("/dev/sda2", "none", "swap", "sw")]  # fmt: skip
        return Case(name, disk, fstab, [SourceFs("/", "/", "ext4")])
    if name == "gpt-mixed":
        # gpt with bios_grub; /boot ext4 by LABEL, / ext4 by UUID, /home xfs
        # by kernel name, /var and /var/log btrfs subvolumes, swap by UUID.
        disk = DiskSpec(
            2560 * MiB,
            "gpt",
            (
                PartSpec(1 * MiB, None, flags=("bios_grub",)),
                PartSpec(200 * MiB, "ext4", label="boot", mountpoint="/boot"),
                PartSpec(800 * MiB, "ext4", uuid=UUID_ROOT, mountpoint="/"),
                PartSpec(400 * MiB, "xfs", uuid=UUID_HOME, mountpoint="/home"),
                PartSpec(700 * MiB, "btrfs", uuid=UUID_VAR, label="var", subvolumes=("@var", "@var-log"),
                         mountpoint="/var"),
                PartSpec(None, "swap", uuid=UUID_SWAP),
            ),
        )  # fmt: skip
        fstab = [
            fstab_by_uuid(UUID_ROOT, "/", "ext4", "errors=remount-ro", passno=1),
            fstab_by_label("boot", "/boot", "ext4", passno=2),
            fstab_by_device("/dev/sda4", "/home", "xfs", passno=2),
            fstab_by_uuid(UUID_VAR, "/var", "btrfs", subvol_options("@var")),
            fstab_by_label("var", "/var/log", "btrfs", subvol_options("@var-log")),
            fstab_by_uuid(UUID_SWAP, "none", "swap", "sw"),
        ]
        fss = [
            SourceFs("/", "/", "ext4"),
            SourceFs("/boot", "/boot", "ext4"),
            SourceFs("/home", "/home", "xfs"),
            SourceFs("/var", "/var", "btrfs", "@var"),
            SourceFs("/var/log", "/var", "btrfs", "@var-log"),
        ]
        return Case(name, disk, fstab, fss)
    if name == "swapfile":
        # One ext4 filesystem on an msdos disk, swap in a file.
        disk = DiskSpec(900 * MiB, "msdos", (PartSpec(None, "ext4", uuid=UUID_ROOT, mountpoint="/"),))
        fstab = [fstab_by_uuid(UUID_ROOT, "/", "ext4", "errors=remount-ro", passno=1),
                 "/swapfile none swap sw 0 0"]  # fmt: skip
        return Case(name, disk, fstab, [SourceFs("/", "/", "ext4")], swapfile=64 * MiB)
    if name == "no-swap-no-table":
        # A filesystem on the whole disk, no partition table, no swap.
        disk = DiskSpec(
            700 * MiB, None, (PartSpec(None, "ext4", uuid=UUID_ROOT, label="root", mountpoint="/"),)
        )
        fstab = [fstab_by_label("root", "/", "ext4", "defaults", passno=1)]
        return Case(name, disk, fstab, [SourceFs("/", "/", "ext4")])
    raise KeyError(name)


@contextlib.contextmanager
def source_machine(
    name: str, work: Path, *, small_files: int = 1500, large_file: int = 12 * MiB, sparse_file: int = 64 * MiB
) -> Iterator[Source]:
    """Build the case's disk, populate its tree, unmount, yield it attached.
    ``large_file``: bytes of random data in one file (large enough for the
    tar pass by default); ``sparse_file``: the apparent size of a sparse one."""
    case = _case(name)
    with loop_disk(case.disk, work / f"{name}.img") as disk:
        fss = [dataclasses.replace(fs, device=disk.device(fs.part)) for fs in case.filesystems]
        swap = next(
            (d for p, d in zip(case.disk.parts, disk.partitions, strict=True) if p.fstype == "swap"), None
        )
        with contextlib.ExitStack() as stack:
            roots = {
                fs.mountpoint: stack.enter_context(
                    mounted(fs.device, fs.fstype, f"subvol={fs.subvol}" if fs.subvol else "")
                )
                for fs in fss
            }
            if name == "gpt-mixed":
                # as openSUSE does: the default subvolume is not the top level
                subprocess.run(["btrfs", "subvolume", "set-default", str(roots["/var"])], check=True,
                               capture_output=True)  # fmt: skip
            tree = populate_tree(
                roots,
                TreeSpec(
                    fstab=render_fstab(case.fstab),
                    small_files=small_files,
                    swapfile_size=case.swapfile,
                    random_file_size=large_file,
                    sparse_file_size=sparse_file,
                ),
            )
        yield Source(disk, tree, fss, swap_device=swap)


@dataclass
class Target:
    ns: NetnsPair
    host: TargetHost
    device: str
    image: Path
    size: int
    key: Path

    def answers(self, source: Source, **extra: Any) -> dict[str, Any]:
        doc: dict[str, Any] = {
            "version": 1,
            "confirm": True,
            "target": {"host": self.host.host, "port": self.host.port, "user": "root",
                       "identity": str(self.key), "host_key": self.host.host_key_fingerprint},
            "source": {"disks": [source.disk.path]},
            # the built trees hold no kernel and no GRUB: they cannot boot their own disk
            "boot": "cluster",
            "after": "none",
        }  # fmt: skip
        doc.update(extra)
        return doc


def instance_json(device: str, size: int, **extra: Any) -> dict[str, Any]:
    return {
        "version": 1,
        "name": INSTANCE,
        "hypervisor": "kvm",
        "serial_console": True,
        "kernel_path": "",
        "root_path": device + "p1",
        "disks": [{"index": 0, "path": device, "size": size}],
        "nics": [{"index": 0, "mac": INSTANCE_MAC, "ip": None, "mode": "bridged", "link": "br0"}],
        **extra,
    }


@contextlib.contextmanager
def migration_target(
    work: Path,
    size: int,
    *,
    facts: bool | str | Mapping[str, Any] = True,
    extra_host_key_types: Sequence[str] = (),
    same_machine: bool = False,
) -> Iterator[Target]:
    """An empty target disk behind a key-only sshd in its own namespaces.
    ``facts``: its instance.json (True), none (False), the usual one with
    these keys changed (a mapping) or this text (a str: a hostile target)."""
    image = work / "target.img"
    with open(image, "wb") as f:
        f.truncate(size)
    key, pub = make_client_key(work / "client")
    device = subprocess.run(["losetup", "--find", "--show", str(image)], check=True, capture_output=True,
                            text=True).stdout.strip()  # fmt: skip
    doc: dict[str, Any] | str | None = None
    if isinstance(facts, str):
        doc = facts
    elif facts:
        doc = instance_json(device, size, **(facts if isinstance(facts, Mapping) else {}))
    try:
        with (
            netns_pair("p2vi") as ns,
            target_sshd(
                ns,
                work / "sshd",
                authorized_keys=[pub],
                instance_json=doc,
                extra_host_key_types=extra_host_key_types,
                same_machine=same_machine,
            ) as host,
        ):
            yield Target(ns, host, device, image, size, key)
    finally:
        # the sshd (and the mounts in its namespace) are gone: release the disk
        subprocess.run(["partx", "--delete", device], capture_output=True)
        subprocess.run(["losetup", "--detach", device], capture_output=True)


@dataclass
class Run:
    returncode: int
    stdout: str
    stderr: str
    report: Path

    @property
    def output(self) -> str:
        return self.stdout + self.stderr

    def plan(self) -> dict[str, Any]:
        plan: dict[str, Any] = json.loads((self.report / "plan.json").read_text())
        return plan


def run_p2v(target: Target, answers: Mapping[str, Any], work: Path, *args: str, timeout: int = 900) -> Run:
    answers_file = work / "answers.yaml"
    answers_file.write_text(yaml.safe_dump(dict(answers)))
    report = work / "report"
    argv = target.ns.client_argv([P2V, "--answers-file", str(answers_file), "--report", str(report), *args])
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=timeout)
    return Run(proc.returncode, proc.stdout, proc.stderr, report)


# --- what the user checks afterwards ------------------------------------------


def sfdisk_dump(device: str) -> str:
    """The partition table as ``sfdisk --dump`` prints it; empty without one."""
    return subprocess.run(["sfdisk", "--dump", device], capture_output=True, text=True, check=False).stdout


def sfdisk_json(device: str) -> dict[str, Any]:
    out = subprocess.run(["sfdisk", "--json", device], capture_output=True, text=True, check=True).stdout
    table: dict[str, Any] = json.loads(out)["partitiontable"]
    return table


def check_partition_table(device: str, plan: Mapping[str, Any]) -> None:
    """The target's table is exactly the plan's: type, starts, sizes."""
    (disk,) = [d for d in plan["disks"] if d["disk"]["path"] == device]
    table = sfdisk_json(device)
    assert table["label"] == ("dos" if disk["table"] == "msdos" else "gpt")
    got = {int(p["node"].rsplit("p", 1)[1]): (p["start"] * 512, p["size"] * 512) for p in table["partitions"]}
    want = {p["number"]: (p["start"], p["size"]) for p in disk["partitions"]}
    for number, geometry in want.items():
        assert got.get(number) == geometry, f"partition {number}: {got.get(number)} != planned {geometry}"


def blkid(device: str, tag: str) -> str:
    return subprocess.run(["blkid", "-p", "-o", "value", "-s", tag, device], capture_output=True,
                          text=True).stdout.strip()  # fmt: skip


@contextlib.contextmanager
def readonly(device: str, fstype: str, subvol: str | None = None) -> Iterator[Path]:
    options = {"ext2": "ro", "ext3": "ro,noload", "ext4": "ro,noload", "xfs": "ro,norecovery,nouuid"}.get(
        fstype, "ro"
    )
    if subvol:
        options += f",subvol={subvol}"
    with mounted(device, fstype, options) as path:
        yield path


@contextlib.contextmanager
def target_tree(device: str, plan: Mapping[str, Any]) -> Iterator[dict[str, Path]]:
    """Every target filesystem mounted read-only on the host, by mount point
    (btrfs subvolumes by where fstab mounts them)."""
    subprocess.run(["partx", "--update", "--nr", "1:16", device], capture_output=True)
    with contextlib.ExitStack() as stack:
        out: dict[str, Path] = {}
        for m in plan["mounts"]:
            if not m["path"].startswith("/target"):
                continue
            mp = m["path"][len("/target") :] or "/"
            opts = m["options"]
            subvol = opts.split("subvol=", 1)[1] if "subvol=" in opts else None
            out[mp] = stack.enter_context(readonly(m["device"], m["fstype"], subvol))
        yield out


def check_trees_equal(source: Source, plan: Mapping[str, Any], dst: Mapping[str, Path],
                      excludes: Sequence[str], changed: Sequence[str]) -> None:  # fmt: skip
    """Every file, owner, mode, time, xattr, ACL, hard link, symlink and
    sparse region of each source filesystem is on the target."""
    problems: list[str] = []
    for fs in source.filesystems:
        with readonly(fs.device, fs.fstype, fs.subvol) as src:
            dst_dir = _locate(dst, fs.mountpoint)
            # an excluded directory stays, empty, with its owner, mode and
            # times; an excluded file is absent
            fs_excludes = [
                f"{r}/*" if (src / r).is_dir() else r
                for p in excludes
                if (r := _relative(p, fs.mountpoint)) is not None
            ]
            recreated = [source.tree.swapfile] if source.tree.swapfile else []
            # other source filesystems mounted below this one are compared on
            # their own (after a merge they are plain directories here)
            nested = [o.mountpoint for o in source.filesystems if o.mountpoint != fs.mountpoint]
            ignore = [
                r
                for p in [*changed, *recreated, *nested]
                if (r := _relative(p, fs.mountpoint)) not in (None, "")
            ]
            for line in compare_trees(src, dst_dir, excludes=fs_excludes, ignore=ignore):
                problems.append(f"{fs.mountpoint}: {line}")
    for fs in {f.device: f for f in source.filesystems if f.fstype == "btrfs"}.values():
        # the top level holds the subvolumes and nothing else, as on the source
        # (a btrfs merged into another filesystem has no top level of its own)
        planned = next((p for d in plan["disks"] for p in d["partitions"] if p["source"] == fs.device), None)
        if planned is None:
            continue
        with readonly(fs.device, "btrfs", "/") as src, readonly(planned["device"], "btrfs", "/") as top:
            for line in compare_trees(src, top):
                problems.append(f"btrfs top level: {line}")
    assert not problems, "\n".join(problems[:50])


def _relative(path: str, mountpoint: str) -> str | None:
    """``path`` relative to the filesystem mounted at ``mountpoint``, or
    None when it is not on it."""
    if mountpoint == "/":
        return path.lstrip("/")
    if path == mountpoint or path.startswith(mountpoint + "/"):
        return path[len(mountpoint) :].lstrip("/")
    return None


def changed_files(report: Path) -> dict[str, str]:
    """Path in the migrated system -> diff text, from the report."""
    out = {}
    for diff in sorted((report / "diffs").glob("*.diff")):
        text = diff.read_text()
        for line in text.splitlines():
            if line.startswith("+++ ") and line != "+++ /dev/null":
                out["/" + line[4:].split("\t")[0].removeprefix("b/")] = text
                break
            if line.startswith("# symlink "):
                out[line[len("# symlink ") :]] = text
                break
    return out


def check_diffs_match_target(source_roots: Mapping[str, Path], target_roots: Mapping[str, Path],
                             changes: Mapping[str, str], work: Path) -> None:  # fmt: skip
    """Applying each report diff to the source file gives the target file."""
    for path, diff in changes.items():
        if diff.startswith("# fixup") and "# symlink " in diff:
            link = target_roots["/"] / path.lstrip("/")
            assert link.is_symlink(), f"{path}: the link the report shows is not on the target"
            new = next(line[4:] for line in diff.splitlines() if line.startswith("+-> "))
            assert os.readlink(link) == new
            continue
        src = _locate(source_roots, path)
        dst = _locate(target_roots, path)
        patched = apply_report_diff(path, src.read_bytes() if src.exists() else None, diff, work)
        assert patched == dst.read_bytes(), f"{path}: target differs from source + report diff"


def apply_report_diff(
    path: str, content: bytes | None, diff: str, work: Path, *, reverse: bool = False
) -> bytes | None:
    """``content`` of ``path`` (None: no such file) with a report diff
    applied by ``patch``, or undone (``reverse``: None when the diff made
    the file). The diff's ``# `` comment lines are not part of it."""
    scratch = Path(tempfile.mkdtemp(dir=work))
    base = scratch / path.lstrip("/")
    base.parent.mkdir(parents=True, exist_ok=True)
    if content is not None:
        base.write_bytes(content)
    body = "".join(line + "\n" for line in diff.splitlines() if not line.startswith("# "))
    argv = ["patch", "-p1", "--quiet", "-d", str(scratch)]
    if reverse:
        argv += ["-R", "--fuzz=0", "--remove-empty-files"]  # exactly what was changed, nothing near it
    subprocess.run(argv, input=body, text=True, check=True)
    result = base.read_bytes() if base.exists() else None
    shutil.rmtree(scratch)
    return result


def _locate(roots: Mapping[str, Path], path: str) -> Path:
    holder = max((mp for mp in roots if path == mp or path.startswith(mp.rstrip("/") + "/")), key=len)
    return roots[holder] / os.path.relpath(path, holder)


def check_fstab_resolves(target_roots: Mapping[str, Path], plan: Mapping[str, Any]) -> None:
    """Each local fstab entry names one of the target's filesystems, mounted
    where the plan put it."""
    entries = parse_fstab((target_roots["/"] / "etc/fstab").read_text())
    parts = {p["device"]: p for d in plan["disks"] for p in d["partitions"]}
    by_uuid = {blkid(dev, "UUID"): dev for dev in parts}
    by_label = {blkid(dev, "LABEL"): dev for dev in parts if blkid(dev, "LABEL")}
    seen = set()
    for e in entries:
        if e.vfstype in ("proc", "tmpfs", "sysfs", "devpts") or e.spec.startswith(("/swapfile", "/dev/s")):
            if e.spec.startswith("/dev/s"):
                raise AssertionError(f"fstab still names a source device: {e}")
            continue
        kind, _, value = e.spec.partition("=")
        dev = {"UUID": by_uuid, "LABEL": by_label}.get(kind, {}).get(value)
        assert dev is not None, f"fstab entry {e.spec} {e.file} matches no target filesystem"
        planned = parts[dev]
        if planned["fstype"] == "swap":
            assert e.vfstype == "swap"
        else:
            assert e.vfstype == planned["fstype"]
        seen.add(dev)
    for dev, p in parts.items():
        if p["role"] in ("filesystem", "swap") and p["source"]:
            assert dev in seen, f"{dev} ({p['mountpoint'] or 'swap'}) has no fstab entry"


def image_hash(path: Path) -> str:
    return image_sha256(path)
