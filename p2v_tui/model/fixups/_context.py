"""Everything a fixup needs to decide, computed once per run."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Literal

from ..edits import FixupChoices
from ..machine import Machine, OsInfo
from ..plan import Plan
from ..target import InstanceFacts
from ._volumes import Volumes

Family = Literal["debian", "rhel", "other"]

_DEBIAN = {"debian", "ubuntu", "devuan", "raspbian", "linuxmint", "kali"}
_RHEL = {"rhel", "centos", "rocky", "almalinux", "fedora", "ol", "scientific", "cloudlinux", "amzn"}


def family(os: OsInfo) -> Family:
    ids = {os.id, *os.id_like}
    if ids & _DEBIAN:
        return "debian"
    if ids & _RHEL:
        return "rhel"
    return "other"


def console_device(facts: InstanceFacts, choices: FixupChoices) -> str | None:
    """The instance's console: what the user chose, else what the hypervisor
    gives (KVM with a serial console: ``ttyS0``; Xen PV: ``hvc0``)."""
    if choices.console == "none":
        return None
    if choices.console != "auto":
        return choices.console
    if facts.hypervisor == "xen-pvm":
        return "hvc0"
    if facts.hypervisor == "kvm" and facts.serial_console:
        return "ttyS0"
    return None


@dataclass(frozen=True)
class CryptEntry:
    """What becomes of one /etc/crypttab mapping."""

    name: str
    action: Literal["move", "drop"]
    """``move``: random-key swap re-pointed to the instance's swap partition;
    ``drop``: commented out (swap not migrated, or an encrypted container --
    p2v copies files, not containers)."""
    device: str = ""
    """For ``move``: the instance's device path."""
    why: str = ""


def _empty_crypt() -> Mapping[str, CryptEntry]:
    return MappingProxyType({})


@dataclass(frozen=True)
class Context:
    machine: Machine
    plan: Plan
    facts: InstanceFacts
    choices: FixupChoices
    volumes: Volumes
    console: str | None = None
    crypt: Mapping[str, CryptEntry] = field(default_factory=_empty_crypt)

    @property
    def family(self) -> Family:
        return family(self.machine.os)

    @property
    def boot_own(self) -> bool:
        return self.plan.boot == "own"

    @property
    def systemd(self) -> bool:
        return self.machine.os.init == "systemd"
