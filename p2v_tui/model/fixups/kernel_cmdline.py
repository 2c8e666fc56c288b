"""Kernel command line arguments: the transforms the ``grub``, ``resume`` and
``console`` fixups apply wherever the source keeps a command line
(``GRUB_CMDLINE_LINUX*``, BLS ``options`` lines, ``/etc/kernel/cmdline``).

Each transform takes and returns a token list; a command line whose tokens do
not change keeps its exact text.
"""

from __future__ import annotations

from ..plan import PlannedPartition
from ._volumes import Volumes

STORAGE_KEYS = frozenset(
    {
        # dracut waits for these at boot; the instance has plain partitions, no
        # LVM, md, LUKS or device-mapper volumes.
        "rd.lvm.lv",
        "rd.lvm.vg",
        "rd.md.uuid",
        "rd.luks.uuid",
        "rd.luks.name",
        "rd.dm.uuid",
        # the same in RHEL 6's dracut spelling
        "rd_LVM_LV",
        "rd_LVM_VG",
        "rd_MD_UUID",
        "rd_LUKS_UUID",
        "rd_DM_UUID",
    }
)


def split_args(text: str) -> list[str]:
    """Whitespace-separated arguments; double quotes keep spaces inside one."""
    tokens: list[str] = []
    current = ""
    quoted = False
    for c in text:
        if c == '"':
            quoted = not quoted
        if c.isspace() and not quoted:
            if current:
                tokens.append(current)
            current = ""
        else:
            current += c
    if current:
        tokens.append(current)
    return tokens


def join_args(tokens: list[str]) -> str:
    return " ".join(tokens)


def key(token: str) -> str:
    return token.split("=", 1)[0]


def value(token: str) -> str:
    return token.split("=", 1)[1] if "=" in token else ""


def storage_args(tokens: list[str], root: PlannedPartition | None, *, replace_root: bool) -> list[str]:
    """``root=`` naming a source device goes (GRUB writes ``root=UUID=``
    itself) or, where nothing else writes it (BLS entries,
    /etc/kernel/cmdline), names the new root; ``rootfstype=`` follows the
    new type; dracut's LVM/md/LUKS arguments go."""
    out = []
    for t in tokens:
        k = key(t)
        if k in STORAGE_KEYS:
            continue
        if k == "root" and root is not None and not Volumes.still_names(value(t), root):
            if replace_root:
                out.append(f"root={Volumes.ref(root)}")
            continue
        if k == "rootfstype" and root is not None and root.fstype and value(t) != root.fstype:
            out.append(f"rootfstype={root.fstype}")
            continue
        out.append(t)
    return out


def resume_args(tokens: list[str], target: PlannedPartition | None) -> list[str]:
    """``resume=`` names the instance's swap partition, or goes with
    ``resume_offset=`` when there is none (or it pointed into a swap file,
    whose offset is not known before the file is made)."""
    if not any(key(t) == "resume" for t in tokens):
        return tokens
    offset = any(key(t) == "resume_offset" for t in tokens)
    out = []
    for t in tokens:
        k = key(t)
        if k == "resume_offset":
            continue
        if k == "resume":
            if target is None or offset:
                continue
            if not Volumes.still_names(value(t), target):
                out.append(f"resume={Volumes.ref(target)}")
                continue
        out.append(t)
    return out


def console_tokens(device: str) -> list[str]:
    if device.startswith("ttyS"):
        return ["console=tty0", f"console={device},115200n8"]
    return [f"console={device}"]


def console_args(tokens: list[str], device: str, *, append: bool) -> list[str]:
    """Every ``console=`` goes -- the instance has only its own console, and
    a console named after ours would take /dev/console from it -- and, where
    ``append``, the instance's console is added last (before trailing
    ``$variables`` of BLS entries) so that it becomes /dev/console."""
    out = [t for t in tokens if key(t) != "console"]
    if append:
        at = len(out)
        while at > 0 and out[at - 1].startswith("$"):
            at -= 1
        out[at:at] = console_tokens(device)
    return out


def has_arg(text: str, token: str) -> bool:
    return token in split_args(text)
