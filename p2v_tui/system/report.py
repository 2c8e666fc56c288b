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
and secret-looking values in diffs are masked (model/redact).
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import re
import shlex
import time
from pathlib import Path
from typing import Any

from ..model.edits import FixupSet
from ..model.events import Event, event_to_json
from ..model.machine import ConfigSnapshot, Machine
from ..model.redact import redact
from ..model.serialize import to_jsonable
from ..model.validate import printable

log = logging.getLogger(__name__)


def default_report_dir() -> Path:
    stamp = time.strftime("%Y%m%d-%H%M%S")
    base = Path(os.environ.get("P2V_REPORT_BASE", "/var/log/p2v"))
    if not os.access(base.parent if not base.exists() else base, os.W_OK):
        base = Path.cwd()
    return base / f"p2v-report-{stamp}"


class Report:
    def __init__(self, directory: Path) -> None:
        self.directory = directory
        directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        os.chmod(directory, 0o700)
        self._events = (directory / "events.jsonl").open("a", encoding="utf-8")
        self._handler = logging.FileHandler(directory / "debug.log", encoding="utf-8")
        self._handler.setLevel(logging.DEBUG)
        self._handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        root = logging.getLogger()
        root.addHandler(self._handler)
        if root.level > logging.DEBUG or root.level == logging.NOTSET:
            root.setLevel(logging.DEBUG)

    def write_text(self, name: str, text: str) -> Path:
        path = self.directory / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        return path

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
        out = self.directory / "diffs"
        if out.exists():
            for old in out.glob("*.diff"):
                old.unlink()
        out.mkdir(exist_ok=True)
        paths = []
        for i, edit in enumerate(fixups.edits, 1):
            name = f"{i:02d}-{_slug(edit.path)}.diff"
            header = f"# fixup: {edit.fixup}\n# why: {edit.reason}\n"
            paths.append(self.write_text(f"diffs/{name}", header + redact(edit.diff())))
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


def _slug(path: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", path.strip("/")) or "root"
