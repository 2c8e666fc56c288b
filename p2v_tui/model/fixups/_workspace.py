"""The files the fixups edit, as text in memory, and what each fixup did.

Fixups run one after another on the same :class:`Workspace`; each one reads
the text as the previous ones left it and writes its result back through its
own :class:`Scope`, which records its id. When the run is over,
:meth:`Workspace.result` folds every path into ONE :class:`FileEdit` from the
source's text to the final text, so several fixups touching the same file
(``/etc/default/grub`` is edited by ``resume``, ``grub`` and ``console``) show
as one diff. Its ``fixup`` is the ids of the fixups that changed it joined
with ``+`` in the order they ran, its ``reason`` their reasons joined with
``; ``; it is optional only when every part of it is.

Nothing here touches the system: it is a dictionary of strings.
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass, field

from ..edits import ChrootCommand, EditKind, FileEdit, FixupSet, ImagesHold
from ..machine import ConfigSnapshot


@dataclass
class _Change:
    kind: EditKind
    old: str | None
    mode: int = 0o644
    ids: list[str] = field(default_factory=list)
    reasons: list[str] = field(default_factory=list)
    optional: list[bool] = field(default_factory=list)


def glob_match(pattern: str, path: str) -> bool:
    """fnmatch where ``*`` does not cross ``/`` (as the probe's globs)."""
    parts = pattern.split("/")
    names = path.split("/")
    return len(parts) == len(names) and all(
        fnmatch.fnmatchcase(n, p) for n, p in zip(names, parts, strict=True)
    )


class Workspace:
    def __init__(self, config: ConfigSnapshot) -> None:
        self._source = config
        self._files: dict[str, str | None] = dict(config.files)
        self._links: dict[str, str | None] = dict(config.links)
        self._changes: dict[str, _Change] = {}
        self._commands: list[ChrootCommand] = []
        self._notes: list[str] = []
        self.active: set[str] = set()
        """Ids of the fixups that changed something or queued a command."""

    def scope(self, fixup: str, optional: bool) -> Scope:
        return Scope(self, fixup, optional)

    def read(self, path: str) -> str | None:
        return self._files.get(path)

    def link(self, path: str) -> str | None:
        return self._links.get(path)

    def glob(self, pattern: str) -> list[str]:
        return sorted(p for p, t in self._files.items() if t is not None and glob_match(pattern, p))

    def link_glob(self, pattern: str) -> list[str]:
        return sorted(p for p, t in self._links.items() if t is not None and glob_match(pattern, p))

    def _record(self, path: str, kind: EditKind, scope: Scope, reason: str, mode: int) -> None:
        if path not in self._changes:
            old = self._source.links.get(path) if kind == "symlink" else self._source.files.get(path)
            self._changes[path] = _Change(kind=kind, old=old, mode=mode)
        change = self._changes[path]
        if scope.fixup not in change.ids:
            change.ids.append(scope.fixup)
            change.optional.append(scope.optional)
        if reason not in change.reasons:
            change.reasons.append(reason)
        self.active.add(scope.fixup)

    def write(self, scope: Scope, path: str, text: str | None, reason: str, mode: int) -> None:
        if self._files.get(path) == text:
            return
        self._files[path] = text
        self._record(path, "file", scope, reason, mode)

    def set_link(self, scope: Scope, path: str, target: str, reason: str) -> None:
        if self._links.get(path) == target:
            return
        self._links[path] = target
        self._record(path, "symlink", scope, reason, 0o777)

    def command(
        self, scope: Scope, argv: tuple[str, ...], reason: str, unless: ImagesHold | None = None
    ) -> None:
        self._commands.append(
            ChrootCommand(argv=argv, fixup=scope.fixup, reason=reason, optional=scope.optional, unless=unless)
        )
        self.active.add(scope.fixup)

    def note(self, text: str) -> None:
        if text not in self._notes:
            self._notes.append(text)

    def result(self, optional_ids: frozenset[str]) -> FixupSet:
        edits = []
        for path, change in self._changes.items():
            new = self._links.get(path) if change.kind == "symlink" else self._files.get(path)
            if new == change.old:
                continue
            edits.append(
                FileEdit(
                    path=path,
                    old=change.old,
                    new=new,
                    fixup="+".join(change.ids),
                    reason="; ".join(change.reasons),
                    optional=all(change.optional),
                    kind=change.kind,
                    mode=change.mode,
                )
            )
        return FixupSet(
            edits=tuple(edits),
            commands=tuple(self._commands),
            notes=tuple(self._notes),
            optional_ids=optional_ids,
        )


@dataclass(frozen=True)
class Scope:
    """What one fixup sees of the workspace: reads, and writes under its id."""

    workspace: Workspace
    fixup: str
    optional: bool

    def read(self, path: str) -> str | None:
        return self.workspace.read(path)

    def link(self, path: str) -> str | None:
        return self.workspace.link(path)

    def glob(self, pattern: str) -> list[str]:
        return self.workspace.glob(pattern)

    def link_glob(self, pattern: str) -> list[str]:
        return self.workspace.link_glob(pattern)

    def write(self, path: str, text: str, reason: str, mode: int = 0o644) -> None:
        self.workspace.write(self, path, text, reason, mode)

    def symlink(self, path: str, target: str, reason: str) -> None:
        self.workspace.set_link(self, path, target, reason)

    def command(self, argv: list[str], reason: str, unless: ImagesHold | None = None) -> None:
        self.workspace.command(self, tuple(argv), reason, unless)

    def note(self, text: str) -> None:
        self.workspace.note(text)
