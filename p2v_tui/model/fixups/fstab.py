"""``fstab``: /etc/fstab names the instance's filesystems and swap.

Per entry, in this order:

1. network filesystems (nfs, cifs, ``_netdev`` ...) and entries that are not
   block devices (proc, tmpfs, bind mounts) are left as they are;
2. swap: a partition kept by the plan is named ``UUID=<new>``; a dropped one
   is commented out; a swap file stays when the plan recreates it
   (``plan.swapfiles``) and is commented out otherwise; an encrypted swap
   (``/dev/mapper/NAME``) follows its crypttab entry;
   -- except bind mounts of a directory inside a dropped filesystem, which
   are commented out;
3. a filesystem whose mount point was merged into another target filesystem
   (``plan.merged``) or dropped (``plan.dropped``) is commented out;
4. any other reference to a source filesystem -- device name, by-id/by-path
   link, LVM, md, ``UUID=``, ``LABEL=``, ``PARTUUID=``, ``PARTLABEL=`` -- is
   rewritten to ``UUID=<new uuid>`` of the partition that now holds it (its
   device path while the UUID is not known yet). ``UUID=``/``LABEL=`` that
   still resolve on the instance are left alone. The type column follows the
   planned filesystem type, and options the old type alone understood go;
5. references that resolve to nothing migrated are found by mount point if a
   planned partition has it, else commented out -- unless marked ``noauto``
   or ``nofail`` (a CD-ROM, a USB disk), which cannot stop the boot.
"""

from __future__ import annotations

from ..fstab_devices import split_tag
from ..fstab_syntax import split_line, unescape
from ..plan import PlannedPartition
from ._context import Context
from ._fstype_options import options_for
from ._text import disabled, lines_of, replace_field, rewrite_line
from ._volumes import Volumes, is_block_reference
from ._workspace import Scope

FIXUP = "fstab"
PATH = "/etc/fstab"

NETWORK_TYPES = frozenset(
    {
        "nfs",
        "nfs4",
        "cifs",
        "smbfs",
        "smb3",
        "ncpfs",
        "glusterfs",
        "fuse.glusterfs",
        "ceph",
        "fuse.sshfs",
        "sshfs",
        "davfs",
        "9p",
        "afs",
        "lustre",
        "fuse.s3fs",
        "gfs2",
        "ocfs2",
    }
)


def fix_fstab(ctx: Context, scope: Scope) -> None:
    text = scope.read(PATH)
    if text is None:
        scope.note("fstab: the source has no /etc/fstab")
        return
    new, notes = fix_fstab_text(text, ctx)
    for note in notes:
        scope.note(note)
    scope.write(PATH, new, "name the instance's filesystems and swap")


def fix_fstab_text(text: str, ctx: Context) -> tuple[str, list[str]]:
    lines = lines_of(text)
    notes: list[str] = []
    i = 0
    while i < len(lines):
        action = _decide(lines[i], ctx, notes)
        if isinstance(action, tuple):
            lines[i] = disabled(lines[i], action[1])
        elif action is not None:
            i = rewrite_line(lines, i, action)
        i += 1
    return "".join(lines), notes


def _decide(line: str, ctx: Context, notes: list[str]) -> str | tuple[str, str] | None:
    """None: keep; a string: the rewritten line; ("disable", why)."""
    fields = split_line(line)
    if fields is None or len(fields) < 2:
        return None
    spec, file = unescape(fields[0]), unescape(fields[1])
    vfstype = fields[2] if len(fields) > 2 else "auto"
    mntops = fields[3] if len(fields) > 3 else "defaults"
    options = set(mntops.split(","))
    plan, volumes = ctx.plan, ctx.volumes
    tag, _value = split_tag(spec)
    if (
        vfstype in NETWORK_TYPES
        or "_netdev" in options
        or spec.startswith("//")
        or (not tag and ":" in spec and not spec.startswith("/"))
    ):
        notes.append(f"fstab: network filesystem {file} ({spec}) left as it is")
        return None
    harmless = bool(options & {"noauto", "nofail"})
    if vfstype == "swap":
        return _swap(line, spec, ctx, harmless, notes)
    if not is_block_reference(spec):
        if options & {"bind", "rbind"}:
            gone = next((d for d in plan.dropped if spec == d or spec.startswith(d.rstrip("/") + "/")), None)
            if gone is not None:
                return ("disable", f"bind source not migrated ({gone} dropped)")
        return None
    if file in plan.merged:
        return ("disable", f"merged into {plan.merged[file]}")
    if file in plan.dropped:
        return ("disable", "not migrated (dropped)")
    vol = volumes.resolve(spec)
    if vol is not None:
        if any(a in plan.dropped for a in vol.aliases):
            return ("disable", "not migrated (dropped)")
        part = volumes.target(vol)
    elif spec.startswith("/dev/mapper/") and spec[len("/dev/mapper/") :] in ctx.crypt:
        return ("disable", ctx.crypt[spec[len("/dev/mapper/") :]].why)
    else:
        part = volumes.target_named(spec)
    if part is None:
        at = plan.partition_at(file)
        if at is not None and at.role in ("filesystem", "esp"):
            notes.append(f"fstab: {spec} found by its mount point {file}")
            part = at
    if part is not None:
        return _rewrite(line, spec, vfstype, mntops, part=part, notes=notes)
    if harmless:
        notes.append(f"fstab: {file} ({spec}) is not a migrated filesystem; left as it is (noauto/nofail)")
        return None
    notes.append(f"fstab: {file} ({spec}) is not on the instance; its entry is commented out")
    return ("disable", "not on the instance")


def _swap(
    line: str, spec: str, ctx: Context, harmless: bool, notes: list[str]
) -> str | tuple[str, str] | None:
    plan, volumes = ctx.plan, ctx.volumes
    if not is_block_reference(spec):
        if spec in {s.path for s in plan.swapfiles}:
            return None
        return ("disable", "swap file not recreated")
    if spec.startswith("/dev/mapper/") and spec[len("/dev/mapper/") :] in ctx.crypt:
        entry = ctx.crypt[spec[len("/dev/mapper/") :]]
        return None if entry.action == "move" else ("disable", entry.why)
    vol = volumes.resolve(spec)
    part = volumes.target(vol) if vol is not None else volumes.target_named(spec)
    if part is not None and part.role == "swap":
        fields = split_line(line) or []
        vfstype = fields[2] if len(fields) > 2 else "swap"
        mntops = fields[3] if len(fields) > 3 else "defaults"
        return _rewrite(line, spec, vfstype, mntops, part=part, notes=notes)
    if vol is not None or volumes.source_device(spec) in plan.dropped or not harmless:
        return ("disable", "swap not migrated")
    return None


def _rewrite(
    line: str, spec: str, vfstype: str, mntops: str, *, part: PlannedPartition, notes: list[str]
) -> str | None:
    new = line
    if not Volumes.still_names(spec, part):
        new = replace_field(new, 0, Volumes.ref(part))
    fields = split_line(line) or []
    if (
        len(fields) > 2
        and vfstype != "auto"
        and part.fstype
        and part.fstype != vfstype
        and part.role != "swap"
    ):
        new = replace_field(new, 2, part.fstype)
        if len(fields) > 3:
            kept, dropped = options_for(vfstype, part.fstype, mntops)
            if dropped:
                new = replace_field(new, 3, kept)
                notes.append(
                    f"fstab: {fields[1]} is now {part.fstype}; dropped the {vfstype} options "
                    + ",".join(dropped)
                )
    return None if new == line else new
