"""Changes the fixups make to the migrated system, as data that can be shown
(a unified diff) before it is applied and written to the report after."""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from typing import Literal

from .redact import redact

EditKind = Literal["file", "symlink"]


@dataclass(frozen=True)
class StaticAddress:
    """An IPv4/IPv6 address to configure instead of the source's."""

    address: str
    """With prefix length: ``198.51.100.10/24``."""
    gateway: str | None = None
    dns: tuple[str, ...] = ()


@dataclass(frozen=True)
class FixupChoices:
    hostname: str | None = None
    """Fully qualified or short name; None: the instance name (or keep the
    source's when there are no instance facts)."""
    static: StaticAddress | None = None
    """None keeps the source's addressing."""
    interface: str | None = None
    """Which source interface the instance's first NIC replaces; None: the one
    the source's network configuration uses first."""
    console: Literal["auto", "ttyS0", "hvc0", "none"] = "auto"
    disabled: frozenset[str] = frozenset()
    """Ids of optional fixups the user turned off."""


@dataclass(frozen=True)
class FileEdit:
    path: str
    """Absolute path in the migrated system."""
    old: str | None
    """Current text (or symlink target); None when the file is created."""
    new: str | None
    """New text (or symlink target); None when the file is removed."""
    fixup: str
    """Id of the fixup that made it: ``fstab``, ``console``, ``hostname`` ..."""
    reason: str
    optional: bool = False
    kind: EditKind = "file"
    mode: int = 0o644
    """Permissions for a created file."""

    def diff(self) -> str:
        """Unified diff, ``a/`` and ``b/`` prefixed paths as ``git diff`` does."""
        rel = self.path.lstrip("/")
        if self.kind == "symlink":
            old = [f"-> {self.old}\n"] if self.old is not None else []
            new = [f"-> {self.new}\n"] if self.new is not None else []
        else:
            old = _lines(self.old)
            new = _lines(self.new)
        fromfile = f"a/{rel}" if self.old is not None else "/dev/null"
        tofile = f"b/{rel}" if self.new is not None else "/dev/null"
        text = "".join(difflib.unified_diff(old, new, fromfile, tofile))
        if self.kind == "symlink":
            text = f"# symlink {self.path}\n" + text
        return text

    def shown_diff(self) -> str:
        """The diff as shown and kept everywhere (screen, console, events,
        report): secret-looking values masked, since context lines of a
        keyfile can hold a Wi-Fi key."""
        return redact(self.diff())


def _lines(text: str | None) -> list[str]:
    if text is None:
        return []
    lines = text.splitlines(keepends=True)
    if lines and not lines[-1].endswith("\n"):
        lines[-1] += "\n\\ No newline at end of file\n"
    return lines


@dataclass(frozen=True)
class ImagesHold:
    """Initramfs images and the kernel modules each must already hold for
    a rebuild to be left out (see :func:`p2v_tui.model.fixups.initramfs.kept_because`)."""

    images: tuple[tuple[str, str], ...]
    """(kernel version, image path in the migrated system)"""
    modules: tuple[str, ...]


@dataclass(frozen=True)
class ChrootCommand:
    """A command run inside the migrated system on the target (chroot)."""

    argv: tuple[str, ...]
    fixup: str
    reason: str
    optional: bool = False
    unless: ImagesHold | None = None
    """Not run when these images already hold these modules (checked on
    the target after the copy)."""


@dataclass(frozen=True)
class FixupSet:
    edits: tuple[FileEdit, ...] = ()
    commands: tuple[ChrootCommand, ...] = ()
    notes: tuple[str, ...] = ()
    """Things found and deliberately left alone, shown to the user."""
    optional_ids: frozenset[str] = field(default_factory=frozenset)
    """Ids of every optional fixup that applies, enabled or not (the wizard
    lists them as toggles)."""
