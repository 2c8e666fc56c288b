"""Small builders for the machines, plans and facts the fixup tests use,
and the golden-tree helpers (a directory of files <-> a ConfigSnapshot)."""

from __future__ import annotations

import shlex
from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Literal

from p2v_tui.model.edits import FileEdit, FixupChoices, FixupSet
from p2v_tui.model.fixups import plan_fixups
from p2v_tui.model.machine import (
    ConfigSnapshot,
    Disk,
    Filesystem,
    LogicalVolume,
    Machine,
    OsInfo,
    Partition,
    SwapArea,
    VolumeGroup,
)
from p2v_tui.model.plan import DiskPlan, PartitionRole, Plan, PlannedPartition, SwapFilePlan
from p2v_tui.model.target import InstanceFacts, Nic, TargetDisk
from p2v_tui.model.units import GiB, MiB

GOLDEN = Path(__file__).parent / "golden"
LINKS = ".links"
META = frozenset({LINKS, "commands.txt", "notes.txt", "edits.txt"})


# ------------------------------------------------------------------ source


def fs(device: str, fstype: str, mountpoint: str | None, uuid: str = "", label: str = "") -> Filesystem:
    return Filesystem(
        device=device,
        fstype=fstype,
        uuid=uuid,
        label=label,
        size=10 * GiB,
        used=2 * GiB,
        mountpoint=mountpoint,
    )


def swap(path: str, uuid: str = "", kind: Literal["partition", "file"] = "partition") -> SwapArea:
    return SwapArea(kind=kind, path=path, size=2 * GiB, uuid=uuid)


def disk(path: str, *parts: tuple[int, str, str], table: Literal["gpt", "msdos"] = "msdos") -> Disk:
    """``parts``: (number, part_uuid, name)."""
    sep = "p" if path[-1].isdigit() else ""
    return Disk(
        path=path,
        size=500 * GiB,
        table=table,
        partitions=tuple(
            Partition(path=f"{path}{sep}{n}", number=n, start=n * GiB, size=GiB, part_uuid=pu, name=name)
            for n, pu, name in parts
        ),
    )


def vg(name: str, *lvs: str) -> VolumeGroup:
    return VolumeGroup(
        name=name,
        size=100 * GiB,
        pvs=("/dev/sda2",),
        lvs=tuple(LogicalVolume(vg=name, name=lv, size=10 * GiB, path=f"/dev/{name}/{lv}") for lv in lvs),
    )


# ------------------------------------------------------------------ target


def planned(
    number: int,
    role: PartitionRole,
    fstype: str | None,
    mountpoint: str | None,
    source: str | None,
    *,
    uuid: str = "",
    label: str = "",
    disk: str = "/dev/vda",
    size: int = 10 * GiB,
) -> PlannedPartition:
    return PlannedPartition(
        disk_index=0,
        number=number,
        start=number * GiB,
        size=size,
        role=role,
        device=f"{disk}{number}",
        fstype=fstype,
        mountpoint=mountpoint,
        uuid=uuid,
        label=label,
        source=source,
        logical=number > 4,
    )


def plan(
    *parts: PlannedPartition,
    table: Literal["gpt", "msdos"] = "msdos",
    disk: str = "/dev/vda",
    boot: Literal["own", "cluster"] = "own",
    firmware: Literal["bios", "efi"] = "bios",
    merged: Mapping[str, str] | None = None,
    dropped: tuple[str, ...] = (),
    swapfiles: tuple[str, ...] = (),
) -> Plan:
    return Plan(
        disks=(DiskPlan(disk=TargetDisk(0, disk, 40 * GiB), table=table, partitions=parts),),
        mounts=(),
        copies=(),
        swapfiles=tuple(SwapFilePlan(path=p, size=512 * MiB) for p in swapfiles),
        boot=boot,
        firmware=firmware,
        bootloader_disk=disk if boot == "own" and firmware == "bios" else None,
        dropped=dropped,
        merged=MappingProxyType(dict(merged or {})),
    )


def facts(
    name: str,
    *macs: str,
    hypervisor: Literal["kvm", "xen-pvm", "xen-hvm", "lxc"] = "kvm",
    serial_console: bool = True,
    kernel_path: str = "",
    kernel_args: str = "",
) -> InstanceFacts:
    return InstanceFacts(
        name=name,
        hypervisor=hypervisor,
        serial_console=serial_console,
        kernel_path=kernel_path,
        kernel_args=kernel_args,
        nics=tuple(Nic(index=i, mac=m) for i, m in enumerate(macs)),
    )


# ------------------------------------------------------------------ trees


def read_tree(root: Path) -> ConfigSnapshot:
    files: dict[str, str] = {}
    links: dict[str, str] = {}
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root).as_posix()
        if not path.is_file() or rel in META:
            continue
        files["/" + rel] = path.read_text()
    if (root / LINKS).exists():
        for line in (root / LINKS).read_text().splitlines():
            name, _sep, target = line.partition(" -> ")
            links[name] = target
    return ConfigSnapshot(files=MappingProxyType(files), links=MappingProxyType(links))


def apply(config: ConfigSnapshot, result: FixupSet) -> ConfigSnapshot:
    files = dict(config.files)
    links = dict(config.links)
    for edit in result.edits:
        table: dict[str, str] = links if edit.kind == "symlink" else files
        if edit.new is None:
            table.pop(edit.path, None)
        else:
            table[edit.path] = edit.new
    return ConfigSnapshot(files=MappingProxyType(files), links=MappingProxyType(links))


def meta_texts(result: FixupSet, after: ConfigSnapshot) -> dict[str, str]:
    """The golden out/ bookkeeping files: links, commands, notes, edits."""
    return {
        LINKS: "".join(f"{p} -> {t}\n" for p, t in sorted(after.links.items())),
        "commands.txt": "".join(f"{shlex.join(c.argv)}\t# {c.fixup}\n" for c in result.commands),
        "notes.txt": "".join(f"{n}\n" for n in result.notes),
        "edits.txt": "".join(
            f"{e.path}\t{e.fixup}\t{'optional' if e.optional else 'required'}\n" for e in result.edits
        ),
    }


def write_tree(root: Path, after: ConfigSnapshot, meta: Mapping[str, str]) -> None:
    if root.exists():
        for path in sorted(root.rglob("*"), reverse=True):
            if path.is_file():
                path.unlink()
            else:
                path.rmdir()
    for name, text in after.files.items():
        target = root / name.lstrip("/")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)
    for name, text in meta.items():
        root.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)


def read_expected(root: Path) -> tuple[dict[str, str], dict[str, str]]:
    files = {}
    meta = {}
    for path in sorted(root.rglob("*")):
        if not path.is_file():
            continue
        rel = path.relative_to(root).as_posix()
        if rel in META:
            meta[rel] = path.read_text()
        else:
            files["/" + rel] = path.read_text()
    return files, meta


# ------------------------------------------------------------------ one-off runs

DEBIAN12 = OsInfo(
    id="debian",
    version_id="12",
    init="systemd",
    initramfs="initramfs-tools",
    bootloader="grub2",
    grub_install="grub-install",
    grub_mkconfig="update-grub",
    grub_cfg="/boot/grub/grub.cfg",
    kernels=("6.1.0-13-amd64",),
)


def run(
    files: Mapping[str, str],
    *,
    links: Mapping[str, str] | None = None,
    os: OsInfo = DEBIAN12,
    filesystems: tuple[Filesystem, ...] = (),
    swaps: tuple[SwapArea, ...] = (),
    disks: tuple[Disk, ...] = (),
    volume_groups: tuple[VolumeGroup, ...] = (),
    the_plan: Plan | None = None,
    the_facts: InstanceFacts | None = None,
    choices: FixupChoices | None = None,
) -> FixupSet:
    """plan_fixups on a machine with just these files."""
    config = ConfigSnapshot(files=MappingProxyType(dict(files)), links=MappingProxyType(dict(links or {})))
    machine = Machine(
        disks=disks, filesystems=filesystems, swaps=swaps, volume_groups=volume_groups, os=os, config=config
    )
    return plan_fixups(
        machine, the_plan or plan(), the_facts or facts("host.example.com"), choices or FixupChoices()
    )


def text_after(result: FixupSet, path: str, before: str | None = None) -> str | None:
    """The file's text after the fixups (``before`` when untouched)."""
    for edit in result.edits:
        if edit.path == path and edit.kind == "file":
            return edit.new
    return before


def edit_for(result: FixupSet, path: str) -> FileEdit | None:
    return next((e for e in result.edits if e.path == path), None)
