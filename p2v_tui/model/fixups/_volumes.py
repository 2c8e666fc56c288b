"""What a device reference in the source's configuration names, and where
that filesystem or swap lives on the instance.

A source system refers to its storage in many spellings: ``/dev/sda1``,
``/dev/disk/by-id/...-part1``, ``UUID=``, ``LABEL=``, ``PARTUUID=``,
``PARTLABEL=``, ``/dev/mapper/vg-root`` or ``/dev/vg/root``, ``/dev/md0`` or
``/dev/md/0``. :class:`Volumes` resolves each to one :class:`SourceVolume`
(a filesystem or swap area the probe saw) and from there to the
:class:`PlannedPartition` that replaces it (``Plan.partition_for_source``).

``/dev/disk/by-id`` and ``by-path`` names resolve through symlinks recorded in
``machine.config.links`` (the probe records them from the live system's
``/dev``, which sees the same hardware as the source).
"""

from __future__ import annotations

import posixpath
import re
from dataclasses import dataclass
from typing import Literal

from ..fstab_devices import resolve_spec, split_tag
from ..machine import Machine
from ..plan import Plan, PlannedPartition


@dataclass(frozen=True)
class SourceVolume:
    device: str
    """The probe's name for it (``Filesystem.device`` / ``SwapArea.path``)."""
    kind: Literal["filesystem", "swap"]
    fstype: str
    uuid: str = ""
    label: str = ""
    part_uuid: str = ""
    part_label: str = ""
    aliases: tuple[str, ...] = ()
    """Every device path naming it, ``device`` first."""
    mountpoint: str | None = None


def is_block_reference(spec: str) -> bool:
    """A spec naming a block device (as opposed to ``proc``, ``tmpfs``, a
    directory for a bind mount or ``server:/export``)."""
    tag, value = split_tag(spec)
    return bool(tag) or value.startswith("/dev/")


def _mapper_name(vg: str, lv: str) -> str:
    return "/dev/mapper/" + vg.replace("-", "--") + "-" + lv.replace("-", "--")


class Volumes:
    """Source volumes by every name, and their targets in the plan."""

    def __init__(self, machine: Machine, plan: Plan) -> None:
        self.plan = plan
        self._machine = machine
        self._links = {p: t for p, t in machine.config.links.items() if p.startswith("/dev/")}
        same: dict[str, set[str]] = {}

        def alias(a: str, b: str) -> None:
            group = same.setdefault(a, {a}) | same.setdefault(b, {b})
            for member in group:
                same[member] = group

        for vg in machine.volume_groups:
            for lv in vg.lvs:
                alias(lv.path, _mapper_name(lv.vg, lv.name))
                alias(lv.path, f"/dev/{lv.vg}/{lv.name}")
        for md in machine.md_arrays:
            m = re.fullmatch(r"/dev/md(\d+)", md.device)
            if m:
                alias(md.device, f"/dev/md/{m.group(1)}")
        parts = {p.path: p for d in machine.disks for p in d.partitions}
        vols = []
        for fs in machine.filesystems:
            part = parts.get(fs.device)
            vols.append(
                SourceVolume(
                    device=fs.device,
                    kind="filesystem",
                    fstype=fs.fstype,
                    uuid=fs.uuid.lower(),
                    label=fs.label,
                    part_uuid=part.part_uuid.lower() if part else "",
                    part_label=part.name if part else "",
                    aliases=(fs.device, *sorted(same.get(fs.device, set()) - {fs.device})),
                    mountpoint=fs.mountpoint,
                )
            )
        for sw in machine.swaps:
            if sw.kind != "partition":
                continue
            part = parts.get(sw.path)
            vols.append(
                SourceVolume(
                    device=sw.path,
                    kind="swap",
                    fstype="swap",
                    uuid=sw.uuid.lower(),
                    label=sw.label,
                    part_uuid=part.part_uuid.lower() if part else "",
                    part_label=part.name if part else "",
                    aliases=(sw.path, *sorted(same.get(sw.path, set()) - {sw.path})),
                )
            )
        self.volumes: tuple[SourceVolume, ...] = tuple(vols)
        self._by_path = {a: v for v in vols for a in v.aliases}
        self._partitions = {p: parts[p] for p in parts}

    # ------------------------------------------------------------ resolving

    def canonical_path(self, path: str) -> str:
        """Follow recorded ``/dev`` symlinks (``by-id``, ``by-path``)."""
        seen = set()
        while path in self._links and path not in seen:
            seen.add(path)
            target = self._links[path]
            path = posixpath.normpath(posixpath.join(posixpath.dirname(path), target))
        return path

    def resolve(self, spec: str) -> SourceVolume | None:
        """The source volume ``spec`` names, by the same rules the probe used
        to read fstab (model.fstab_devices): tags, LVM and md names, kernel names
        by disk order and partition number; ``/dev/disk/by-id`` and
        ``by-path`` links of the live system are followed first."""
        tag, value = split_tag(spec)
        path = spec if tag else self.canonical_path(value)
        if not tag and path in self._by_path:
            return self._by_path[path]  # a device the probe saw under this very name
        if not tag and self.target_named(path) is not None:
            return None  # the instance's own device name (an edit already made)
        found = resolve_spec(path, self._machine)
        return self._by_path.get(found.device) if found is not None else None

    def source_device(self, spec: str) -> str:
        """The canonical device path a (path) spec names, resolved or not."""
        tag, value = split_tag(spec)
        if tag == "PARTUUID":
            for path, part in self._partitions.items():
                if part.part_uuid and part.part_uuid.lower() == value.lower():
                    return path
        if tag:
            vol = self.resolve(spec)
            return vol.device if vol else spec
        vol = self._by_path.get(self.canonical_path(value))
        return vol.device if vol else self.canonical_path(value)

    # -------------------------------------------------------------- targets

    def target(self, vol: SourceVolume) -> PlannedPartition | None:
        for name in vol.aliases:
            part = self.plan.partition_for_source(name)
            if part is not None:
                return part
        return None

    def target_named(self, spec: str) -> PlannedPartition | None:
        """The planned partition ``spec`` already names (``UUID=`` of a new
        filesystem, or its device path): fixups that already happened."""
        tag, value = split_tag(spec)
        for part in self.plan.partitions:
            if tag == "UUID" and part.uuid and part.uuid.lower() == value.lower():
                return part
            if not tag and value == part.device:
                return part
        return None

    @staticmethod
    def ref(part: PlannedPartition) -> str:
        """How configuration should name a target: by UUID when known, else
        by the instance's device path (fixups are re-run after mkfs)."""
        return f"UUID={part.uuid}" if part.uuid else part.device

    @staticmethod
    def still_names(spec: str, part: PlannedPartition) -> bool:
        """``spec`` already resolves to ``part`` on the instance."""
        tag, value = split_tag(spec)
        if tag == "UUID":
            return bool(part.uuid) and value.lower() == part.uuid.lower()
        if tag == "LABEL":
            return bool(part.label) and value == part.label
        if not tag:
            return not part.uuid and value == part.device
        return False

    def swap_targets(self) -> list[PlannedPartition]:
        """Planned swap partitions, largest first."""
        return sorted((p for p in self.plan.partitions if p.role == "swap"), key=lambda p: -p.size)
