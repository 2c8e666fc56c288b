"""``grub``: GRUB 2's configuration names no source storage (boot: own).

- ``root=`` arguments naming source devices go from ``GRUB_CMDLINE_LINUX*``
  (grub-mkconfig writes ``root=UUID=`` itself); in BLS entries
  (``/boot/loader/entries/*.conf``, RHEL 8+) and ``/etc/kernel/cmdline``,
  which nothing regenerates from /etc/default/grub on every release, they
  name the new root instead;
- dracut's ``rd.lvm.lv=``/``rd.md.uuid=``/``rd.luks.uuid=``... go: the
  instance has plain partitions, and dracut would wait for those volumes;
- ``GRUB_DISABLE_LINUX_UUID=true`` is commented out (the instance's root is
  found by UUID, device names differ), as is ``GRUB_FORCE_PARTUUID`` (cloud
  images boot without initrd by the source's partition UUID, which the
  instance does not have).

Files: /etc/default/grub, then /etc/default/grub.d/*.cfg in name order --
grub-mkconfig sources them in that order, so for a variable the last
assignment wins and is the one p2v edits when it sets a value. The serial
console arguments and ``GRUB_TERMINAL`` belong to the ``console`` fixup,
which uses :func:`edit_cmdlines` too.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from ._context import Context
from ._text import assignments, body, comment_out_var, lines_of, render, rewrite_line
from ._workspace import Scope
from .kernel_cmdline import join_args, split_args, storage_args

FIXUP = "grub"
DEFAULT = "/etc/default/grub"
DEFAULT_D = "/etc/default/grub.d/*.cfg"
BLS = "/boot/loader/entries/*.conf"
KERNEL_CMDLINE = "/etc/kernel/cmdline"
CMDLINE_VARS = ("GRUB_CMDLINE_LINUX", "GRUB_CMDLINE_LINUX_DEFAULT")


@dataclass(frozen=True)
class Cmdline:
    """Where a command line being transformed lives."""

    kind: Literal["grub", "bls", "kernel"]
    effective: bool
    """The ``GRUB_CMDLINE_LINUX`` assignment that takes effect (the last
    one), or a BLS ``options`` line, or /etc/kernel/cmdline: where arguments
    are added."""


Transform = Callable[[list[str], Cmdline], list[str]]


def grub_files(scope: Scope) -> list[str]:
    files = [DEFAULT] if scope.read(DEFAULT) is not None else []
    return files + scope.glob(DEFAULT_D)


def last_assignment(scope: Scope, name: str) -> tuple[str, int] | None:
    """(path, line index) of the assignment of ``name`` that takes effect."""
    found = None
    for path in grub_files(scope):
        hits = assignments(lines_of(scope.read(path) or ""), name)
        if hits:
            found = (path, hits[-1].index)
    return found


def edit_cmdlines(ctx: Context, scope: Scope, transform: Transform, reason: str) -> bool:
    """Apply ``transform`` to every kernel command line the source keeps.
    Returns whether an effective ``GRUB_CMDLINE_LINUX`` exists."""
    effective = last_assignment(scope, "GRUB_CMDLINE_LINUX")
    for path in grub_files(scope):
        lines = lines_of(scope.read(path) or "")
        hits = [a for name in CMDLINE_VARS for a in assignments(lines, name)]
        for a in sorted(hits, key=lambda a: -a.index):
            tokens = split_args(a.value)
            where = Cmdline("grub", effective == (path, a.index))
            new = transform(tokens, where)
            if new != tokens:
                rewrite_line(lines, a.index, render(a, join_args(new), lines[a.index]))
        scope.write(path, "".join(lines), reason)
    if ctx.machine.os.bootloader != "grub2":
        return effective is not None
    for path in scope.glob(BLS):
        lines = lines_of(scope.read(path) or "")
        for i in range(len(lines) - 1, -1, -1):
            line = body(lines[i])
            if line.split(None, 1)[:1] != ["options"]:
                continue
            rest = line.split(None, 1)[1] if len(line.split(None, 1)) > 1 else ""
            tokens = split_args(rest)
            if "$kernelopts" in tokens:
                continue  # RHEL 8: grub2-mkconfig writes kernelopts from GRUB_CMDLINE_LINUX
            new = transform(tokens, Cmdline("bls", True))
            if new != tokens:
                head = line[: len(line) - len(line.lstrip())] + "options "
                rewrite_line(lines, i, head + join_args(new))
        scope.write(path, "".join(lines), reason)
    text = scope.read(KERNEL_CMDLINE)
    if text is not None and text.strip():
        tokens = split_args(text)
        new = transform(tokens, Cmdline("kernel", True))
        if new != tokens:
            scope.write(KERNEL_CMDLINE, join_args(new) + "\n", reason)
    return effective is not None


def fix_grub(ctx: Context, scope: Scope) -> None:
    if not ctx.boot_own or ctx.machine.os.bootloader != "grub2":
        return
    root = ctx.plan.partition_at("/")

    def storage(tokens: list[str], where: Cmdline) -> list[str]:
        return storage_args(tokens, root, replace_root=where.kind != "grub")

    edit_cmdlines(ctx, scope, storage, "kernel arguments name the instance's storage")
    for path in grub_files(scope):
        lines = lines_of(scope.read(path) or "")
        for a in assignments(lines, "GRUB_DISABLE_LINUX_UUID"):
            if a.value == "true":
                lines[a.index : a.index + 1], _ = comment_out_var(
                    [lines[a.index]], "GRUB_DISABLE_LINUX_UUID", "the instance's root is found by UUID"
                )
                scope.note(
                    f"grub: {path}: GRUB_DISABLE_LINUX_UUID=true commented out; device names "
                    "differ on the instance, so the kernel finds its root by UUID"
                )
        if assignments(lines, "GRUB_FORCE_PARTUUID"):
            lines, _ = comment_out_var(
                lines, "GRUB_FORCE_PARTUUID", "the instance's partitions have new PARTUUIDs"
            )
            scope.note(
                f"grub: {path}: GRUB_FORCE_PARTUUID commented out; the instance boots with its initramfs"
            )
        scope.write(path, "".join(lines), "GRUB settings that name source devices")
