"""Writing the fixups' files into the migrated system on the target.

Paths are resolved inside /target the way the migrated system will resolve
them (an absolute symlink such as /etc/resolv.conf -> /run/... points into
the migrated tree, not into the bootstrap OS that runs the commands), the
file is replaced atomically keeping its owner and mode, and its directory
keeps the source's times.
"""

from __future__ import annotations

import contextlib
import posixpath
from collections.abc import Iterator, Sequence
from typing import Literal

from ..model.edits import FileEdit
from ..model.plan import TARGET_ROOT
from ..model.target_output import parse_stat_times
from ..system.target import Target, TargetFileTooLarge, ask

MAX_LINKS = 40


class EditError(Exception):
    pass


Outcome = Literal["applied", "already applied"]


class TargetFiles:
    def __init__(self, target: Target, root: str = TARGET_ROOT) -> None:
        self.target = target
        self.root = root

    def resolve(self, path: str) -> str:
        """The path (on the target) that ``path`` of the migrated system
        really names, following symlinks inside the migrated tree. A link
        whose target does not exist there is itself what gets replaced."""
        parts = [p for p in path.split("/") if p]
        done: list[str] = []
        hops = 0
        link_named: str | None = None
        while parts:
            name = parts.pop(0)
            if name in (".", ".."):
                if name == ".." and done:
                    done.pop()
                continue
            candidate = self.root + "/" + "/".join([*done, name])
            link = self.target.readlink(candidate)
            if link is None:
                done.append(name)
                continue
            hops += 1
            if hops > MAX_LINKS:
                raise EditError(f"{path}: too many levels of symbolic links")
            if not parts and link_named is None:
                link_named = candidate
            if link.startswith("/"):
                done = []
            parts = [p for p in link.split("/") if p] + parts
        resolved = self.root + "/" + "/".join(done) if done else self.root
        if link_named is not None and self.target.missing_paths([resolved]):
            return link_named
        return resolved

    def apply(self, edit: FileEdit) -> Outcome:
        """Write one edit. It must find the file as the plan saw it on the
        source (``edit.old``), or already changed (a resumed run)."""
        if edit.kind == "symlink":
            path = self.root + edit.path
            current_link = self.target.readlink(path)
            if current_link == edit.new:
                return "already applied"
            if current_link != edit.old:
                raise EditError(f"{edit.path} on the target is not the link the plan saw ({current_link!r})")
            if edit.new is None:
                self.target.remove(path)
            else:
                self.target.run(["mkdir", "-p", posixpath.dirname(path)])
                self.target.symlink(edit.new, path)
            return "applied"
        path = self.resolve(edit.path)
        old = edit.old.encode("utf-8", "surrogateescape") if edit.old is not None else None
        new = edit.new.encode("utf-8", "surrogateescape") if edit.new is not None else None
        try:
            current = self.target.read_file(path, limit=max(len(old or b""), len(new or b"")))
        except TargetFileTooLarge:
            raise EditError(
                f"{edit.path} on the target is larger than the source snapshot the fixup was planned on; "
                "not changing it"
            ) from None
        if current == new:
            return "already applied"
        if current != old:
            raise EditError(
                f"{edit.path} on the target differs from the source snapshot the fixup was planned on; "
                "not changing it"
            )
        if new is None:
            self.target.remove(path)
        else:
            self.target.run(["mkdir", "-p", posixpath.dirname(path)])
            self.target.write_file(path, new, mode=edit.mode)
        return "applied"

    @contextlib.contextmanager
    def keeping_dir_times(self, paths: Sequence[str]) -> Iterator[None]:
        """Creating or replacing files touches their directories; those keep
        the source's times, as everything else the copy wrote does."""
        parents = sorted({posixpath.dirname(self.root + p) for p in paths}, key=len, reverse=True)
        times = self._dir_times(parents)
        yield
        for directory, (atime, mtime) in times.items():
            self.target.run(["touch", "-c", "-a", "-d", atime, directory])
            self.target.run(["touch", "-c", "-m", "-d", mtime, directory])

    def _dir_times(self, directories: list[str]) -> dict[str, tuple[str, str]]:
        """Access and modification times (``stat`` format, nanoseconds) of
        those of ``directories`` that exist."""
        missing = set(self.target.missing_paths(directories))
        present = [d for d in directories if d not in missing]
        if not present:
            return {}
        return ask(
            self.target,
            ["stat", "--format=%x\t%y\t%n", "--", *present],
            lambda out: parse_stat_times(out, present),
        )
