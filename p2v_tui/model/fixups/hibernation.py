"""``resume``: hibernation resumes from the instance's swap, or nowhere.

initramfs-tools waits at boot for the ``RESUME=`` device of
/etc/initramfs-tools/conf.d/* (and the kernel's ``resume=``); a device that
does not exist costs a long timeout, so:

- ``RESUME=``/``resume=`` naming a source swap the plan kept names its new
  partition (``UUID=`` when known);
- naming anything else: the largest swap partition the instance has, or
  ``RESUME=none`` / no ``resume=`` when it has none;
- ``RESUME=none``/``auto``/empty are the user's choice and stay.

A swap partition used by a random-key crypttab mapping cannot hold an image
and is never chosen. Kernel command lines are edited only with boot: own.
"""

from __future__ import annotations

from ..plan import PlannedPartition
from ._context import Context
from ._text import assignments, lines_of, render, rewrite_line
from ._workspace import Scope
from .grub import Cmdline, edit_cmdlines
from .kernel_cmdline import resume_args

FIXUP = "resume"
CONF_D = "/etc/initramfs-tools/conf.d/*"


def resume_target(ctx: Context, spec: str | None) -> PlannedPartition | None:
    crypt_devices = {e.device for e in ctx.crypt.values() if e.action == "move"}
    usable = [p for p in ctx.volumes.swap_targets() if p.device not in crypt_devices]
    if spec:
        vol = ctx.volumes.resolve(spec)
        part = ctx.volumes.target(vol) if vol is not None else ctx.volumes.target_named(spec)
        if part is not None and part in usable:
            return part
    return usable[0] if usable else None


def fix_resume(ctx: Context, scope: Scope) -> None:
    for path in scope.glob(CONF_D):
        lines = lines_of(scope.read(path) or "")
        for a in reversed(assignments(lines, "RESUME")):
            if a.value.strip().lower() in ("", "none", "auto"):
                continue
            part = resume_target(ctx, a.value)
            new = ctx.volumes.ref(part) if part is not None else "none"
            if part is not None and ctx.volumes.still_names(a.value, part):
                continue
            rewrite_line(lines, a.index, render(a, new, lines[a.index]))
            if part is None:
                scope.note(
                    f"resume: the instance has no swap partition to resume from; {path} now says RESUME=none"
                )
        scope.write(path, "".join(lines), "resume from the instance's swap")
    if not ctx.boot_own:
        return

    def resume(tokens: list[str], where: Cmdline) -> list[str]:
        spec = next((t.split("=", 1)[1] for t in tokens if t.startswith("resume=")), None)
        return resume_args(tokens, resume_target(ctx, spec))

    edit_cmdlines(ctx, scope, resume, "resume from the instance's swap")
