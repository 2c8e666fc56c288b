"""Images the tests build once and keep under /var/cache/p2v-tests, keyed
on a hash of everything that goes into them; a lock file per image
serialises concurrent test runs, and a half-built image is never used."""

from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
import subprocess
import time
from collections.abc import Iterable, Sequence
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
CACHE = Path(os.environ.get("P2V_TEST_CACHE", "/var/cache/p2v-tests"))


def inputs_key(paths: Iterable[Path]) -> str:
    """16 hex digits over the paths (relative to the checkout) and contents."""
    digest = hashlib.sha256()
    for path in paths:
        digest.update(str(path.relative_to(REPO)).encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


def cached_build(
    name: str, inputs: Iterable[Path], build: Path | Sequence[str], *, complete: str, timeout: float
) -> Path:
    """``CACHE/NAME-KEY``, made by ``build OUTDIR`` (a program, or an argv to
    which OUTDIR is appended) unless a finished one (holding ``complete``) is
    there; the build's seconds go in ``build-seconds``."""
    CACHE.mkdir(parents=True, exist_ok=True)
    out = CACHE / f"{name}-{inputs_key(inputs)}"
    with open(CACHE / f"{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if (out / complete).exists():
            return out
        partial = out.with_name(out.name + ".partial")
        shutil.rmtree(partial, ignore_errors=True)
        started = time.monotonic()
        argv = [str(build)] if isinstance(build, Path) else list(build)
        proc = subprocess.run(
            [*argv, str(partial)], capture_output=True, text=True, timeout=timeout, cwd=REPO
        )
        if proc.returncode != 0:
            shutil.rmtree(partial, ignore_errors=True)
            pytest.fail(f"{Path(argv[0]).name} failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-4000:]}")
        (partial / "build-seconds").write_text(f"{time.monotonic() - started:.0f}\n")
        partial.rename(out)
    return out
