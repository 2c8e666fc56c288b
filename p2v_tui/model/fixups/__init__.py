"""Configuration fixups: pure text transforms that make a migrated Linux
system work as a Ganeti instance.

:func:`plan_fixups` is a pure function of the source's configuration
snapshot (``machine.config``), the plan, the instance facts and the user's
choices. It returns every change as a :class:`~p2v_tui.model.edits.FileEdit`
(full old and new text, shown as a diff before anything is written) plus the
commands to run in the migrated system afterwards. The executor calls it
again after mkfs when the plan's UUIDs were not known before; it always
starts from the snapshot, never from files it already changed.

The fixups run in the order of :data:`FIXUPS`, each on the text the previous
ones left. Edits to one path are folded into one ``FileEdit`` whose
``fixup`` is the ids that changed it joined with ``+`` in that order
(``resume+grub+console`` for /etc/default/grub) -- see :mod:`._workspace`.
Comment conventions are in :mod:`._text`.

Optional fixups can be turned off (``choices.disabled``): the fixups are
first run with all of them on to learn which optional ones apply
(``FixupSet.optional_ids``), then again without the disabled ones.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from types import MappingProxyType

from ..edits import FixupChoices, FixupSet
from ..machine import ConfigSnapshot, Machine
from ..plan import Plan
from ..target import InstanceFacts
from ._context import Context, console_device
from ._volumes import Volumes
from ._workspace import Scope, Workspace
from .bootloader import fix_bootloader
from .console import fix_console
from .crypttab import analyse, fix_crypttab
from .fstab import fix_fstab
from .grub import fix_grub
from .hibernation import fix_resume
from .hostname import fix_hostname
from .initramfs import fix_initramfs
from .network import fix_network_mac, fix_network_names, fix_network_static

__all__ = ["FIXUPS", "Fixup", "build_context", "plan_fixups"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Fixup:
    id: str
    optional: bool
    run: Callable[[Context, Scope], None]
    title: str


FIXUPS: tuple[Fixup, ...] = (
    Fixup("fstab", False, fix_fstab, "/etc/fstab names the instance's filesystems"),
    Fixup("crypttab", False, fix_crypttab, "/etc/crypttab without migrated-away devices"),
    Fixup("resume", False, fix_resume, "resume from the instance's swap"),
    Fixup("grub", False, fix_grub, "GRUB settings without source devices"),
    Fixup("console", True, fix_console, "login prompt and boot messages on the instance's console"),
    Fixup("hostname", False, fix_hostname, "the instance's host name"),
    Fixup("network-mac", False, fix_network_mac, "network configuration bound to the instance's NICs"),
    Fixup("network-names", True, fix_network_names, "keep the source's interface names"),
    Fixup("network-static", True, fix_network_static, "a static address"),
    Fixup("initramfs-virtio", False, fix_initramfs, "virtual disk and NIC drivers in the initramfs"),
    Fixup("bootloader", False, fix_bootloader, "install GRUB and write its menu"),
)


def build_context(machine: Machine, plan: Plan, facts: InstanceFacts, choices: FixupChoices) -> Context:
    volumes = Volumes(machine, plan)
    return Context(
        machine=machine,
        plan=plan,
        facts=facts,
        choices=choices,
        volumes=volumes,
        console=console_device(facts, choices),
        crypt=MappingProxyType(analyse(machine.config.get("/etc/crypttab"), volumes)),
    )


def _run(ctx: Context, config: ConfigSnapshot, skip: frozenset[str]) -> Workspace:
    workspace = Workspace(config)
    for fixup in FIXUPS:
        if fixup.id in skip:
            continue
        log.debug("fixup %s", fixup.id)
        fixup.run(ctx, workspace.scope(fixup.id, fixup.optional))
    return workspace


def plan_fixups(machine: Machine, plan: Plan, facts: InstanceFacts, choices: FixupChoices) -> FixupSet:
    ctx = build_context(machine, plan, facts, choices)
    everything = _run(ctx, machine.config, frozenset())
    applies = frozenset(f.id for f in FIXUPS if f.optional and f.id in everything.active)
    disabled = choices.disabled & applies
    if not disabled:
        return everything.result(applies)
    workspace = _run(ctx, machine.config, disabled)
    for fixup in FIXUPS:
        if fixup.id in disabled:
            workspace.note(f"{fixup.id}: turned off ({fixup.title})")
    return workspace.result(applies)
