"""The report directory: what was planned, changed and logged, for later.

Layout::

    answers.yaml      the effective answers (replayable; key *path* only)
    machine.json      the source as probed (config file names, not contents)
    facts.json        the instance facts used
    plan.json         the plan (plan.txt: the same for people)
    fixups.txt        the list of configuration changes
    diffs/NN-*.diff   every change as a unified diff (secrets masked)
    events.jsonl      every event of the run
    debug.log         the debug log
    result.txt        how it ended

Nothing secret is written: private keys are only ever referred to by path
and secret-looking values in diffs are masked (FileEdit.shown_diff).
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
import os
import re
import shlex
import stat
import time
from pathlib import Path
from typing import Any, TextIO

from ..model.edits import FixupSet
from ..model.events import Event, event_to_json
from ..model.machine import ConfigSnapshot, Machine
from ..model.serialize import to_jsonable
from ..model.validate import printable

log = logging.getLogger(__name__)


REPORT_ENTRIES = frozenset(
    {
        "answers.yaml",
        "machine.json",
        "facts.json",
        "plan.json",
        "plan.txt",
        "fixups.txt",
        "diffs",
        "events.jsonl",
        "debug.log",
        "result.txt",
        "simulated-target",  # the demo's target tree
    }
)
"""Every name a report directory holds: a non-empty directory with anything
else in it is not an earlier report, and p2v does not write into it."""


class ReportError(Exception):
    """The report directory cannot be used; nothing was written."""


def default_report_dir() -> Path:
    """A new directory per run: the time and the process id, since two
    runs may start in the same second (the live image starts the wizard on
    tty1 and on the serial console at boot) and a report directory is never
    shared."""
    stamp = f"{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}"
    base = Path(os.environ.get("P2V_REPORT_BASE", "/var/log/p2v"))
    if not os.access(base.parent if not base.exists() else base, os.W_OK):
        base = Path.cwd()
    return base / f"p2v-report-{stamp}"


def report_dir_problem(directory: str | Path) -> str | None:
    """Why ``directory`` may not become (or continue) a report; None when
    it may: it does not exist yet, or it is empty, or it is an earlier
    p2v report (a re-run that resumes writes its report there again). An
    existing file, device, symbolic link or a directory of something else
    (``/``, ``/etc``) is refused: p2v would write its files into it."""
    path = Path(directory)
    try:
        st = path.lstat()
    except FileNotFoundError:
        return None
    except OSError as e:
        return f"{path}: cannot be used as the report directory: {e.strerror}"
    if stat.S_ISLNK(st.st_mode):
        return f"{path} is a symbolic link; name the report directory itself"
    if not stat.S_ISDIR(st.st_mode):
        return f"{path} exists and is not a directory"
    try:
        names = set(os.listdir(path))
    except OSError as e:
        return f"{path}: cannot be read: {e.strerror}"
    if not names:
        return None
    foreign = sorted(names - REPORT_ENTRIES)
    if foreign or "events.jsonl" not in names:
        shown = ", ".join(foreign[:3]) + (", ..." if len(foreign) > 3 else "")
        return (
            f"{path} is a directory that is not an earlier p2v report ({shown or 'no events.jsonl'}); "
            "name a new or empty directory"
        )
    return None


_CREATE = os.O_WRONLY | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC


class Report:
    """The report directory. Files are created in it relative to the
    directory itself, never through a symbolic link, readable by root only."""

    def __init__(self, directory: Path) -> None:
        problem = report_dir_problem(directory)
        if problem:
            raise ReportError(problem)
        self.directory = directory
        try:
            if not directory.exists():
                directory.parent.mkdir(parents=True, exist_ok=True)
                directory.mkdir(mode=0o700)
            self._dir = os.open(directory, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
        except OSError as e:
            raise ReportError(f"{directory}: cannot create the report directory: {e.strerror}") from None
        try:
            self._events = self._open_text("events.jsonl", append=True)
            self._handler = _DebugLog(self._open_text("debug.log", append=True))
        except OSError as e:
            os.close(self._dir)
            raise ReportError(f"{directory}: cannot write the report: {e.strerror}") from None
        self._handler.setLevel(logging.DEBUG)
        self._handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        root = logging.getLogger()
        root.addHandler(self._handler)
        if root.level > logging.DEBUG or root.level == logging.NOTSET:
            root.setLevel(logging.DEBUG)

    def _open_text(self, name: str, *, append: bool = False, dir_fd: int | None = None) -> TextIO:
        flags = _CREATE | (os.O_APPEND if append else os.O_TRUNC)
        fd = os.open(name, flags, 0o600, dir_fd=self._dir if dir_fd is None else dir_fd)
        return os.fdopen(fd, "a" if append else "w", encoding="utf-8")

    def write_text(self, name: str, text: str) -> Path:
        """``name``: a file of the report, or ``diffs/FILE``."""
        folder, _, base = name.rpartition("/")
        if not folder:
            with self._open_text(base) as f:
                f.write(text)
            return self.directory / name
        sub = self._subdir(folder)
        try:
            with self._open_text(base, dir_fd=sub) as f:
                f.write(text)
        finally:
            os.close(sub)
        return self.directory / name

    def _subdir(self, name: str) -> int:
        with contextlib.suppress(FileExistsError):
            os.mkdir(name, 0o700, dir_fd=self._dir)
        return os.open(name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=self._dir)

    def write_result(self, text: str) -> Path:
        """result.txt, how the run ended: a person cats it, so what came
        from outside (the target's stderr, names) is made printable."""
        return self.write_text("result.txt", printable(text, lines=True))

    def write_json(self, name: str, obj: Any) -> Path:
        return self.write_text(name, json.dumps(to_jsonable(obj), indent=2, sort_keys=False) + "\n")

    def write_machine(self, machine: Machine) -> Path:
        # Config contents stay out: they may hold secrets the diffs mask.
        names = ConfigSnapshot(
            files={path: f"<{len(text)} characters>" for path, text in machine.config.files.items()},
            links=machine.config.links,
        )
        return self.write_json("machine.json", dataclasses.replace(machine, config=names))

    def write_diffs(self, fixups: FixupSet) -> list[Path]:
        """One file per change, replacing the diffs of an earlier call (the
        planned diffs are replaced by the applied ones)."""
        sub = self._subdir("diffs")
        try:
            for old in os.listdir(sub):
                if old.endswith(".diff"):
                    os.unlink(old, dir_fd=sub)
        finally:
            os.close(sub)
        paths = []
        for i, edit in enumerate(fixups.edits, 1):
            name = f"{i:02d}-{_slug(edit.path)}.diff"
            header = f"# fixup: {edit.fixup}\n# why: {edit.reason}\n"
            paths.append(self.write_text(f"diffs/{name}", header + edit.shown_diff()))
        commands = "".join(f"{shlex.join(c.argv)}\t# {c.fixup}: {c.reason}\n" for c in fixups.commands)
        self.write_text("diffs/commands.txt", commands)
        return paths

    def event(self, event: Event) -> None:
        record = {"time": round(time.time(), 3), **event_to_json(event)}  # diffs come masked
        self._events.write(json.dumps(record) + "\n")
        self._events.flush()

    def close(self) -> None:
        self._events.close()
        logging.getLogger().removeHandler(self._handler)
        self._handler.close()
        os.close(self._dir)


class _DebugLog(logging.StreamHandler[TextIO]):
    """debug.log: a thread that took this handler before it was removed
    (paramiko's transport saying goodbye) writes nothing once it is closed,
    instead of a "Logging error" traceback on the console."""

    def emit(self, record: logging.LogRecord) -> None:
        if not self.stream.closed:  # handle() holds the lock close() takes
            super().emit(record)

    def close(self) -> None:
        with self.lock:  # type: ignore[union-attr]  # made in __init__
            self.stream.close()
        super().close()


def _slug(path: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", path.strip("/")) or "root"
