"""``make lab``: the end-to-end lab, with timings per phase.

    python -m tests.e2e [--work DIR] [--runs lvm-headless-own-grub,...] [--parallel N]

Builds (or takes from the cache) the source machines, the live image, the
bootstrap OS and the ramboot initrd, while a real Ganeti cluster comes up in
namespaces of its own; migrates each run's source into a new instance (one
run lets p2v create it through RAPI) and checks that it boots and works (up
to --parallel runs at once, each with its own instance, address and tap on
the cluster's bridge); prints the checks and the seconds per phase; tears
everything down. Root only. Exit code 0 when every run passed."""

from __future__ import annotations

import argparse
import contextlib
import shutil
import sys
import tempfile
import traceback
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import TypeVar

from tests.bootstrap.artifacts import bootstrap_artifacts
from tests.e2e.lab import Clock, Driver, E2ELab, Migration, SourceMachine, headless, wizard
from tests.e2e.oldserver import old_server
from tests.e2e.scenario import (
    HEADLESS_OWN,
    LVM_OWN,
    RAPI_OWN,
    WIZARD_CLUSTER,
    Images,
    e2e_lab,
    lvm_server_source,
    old_server_source,
)
from tests.e2e.self_service import migrate_self_service
from tests.e2e.source_lvm import lvm_source
from tests.lab.ganeti import ganeti_lab, missing_requirements
from tests.livecd.artifacts import live_image

RUNS = {m.label: m for m in (LVM_OWN, RAPI_OWN, HEADLESS_OWN, WIZARD_CLUSTER)}
"""Longest first: with two at once, the LVM and the self-service runs go
first, the headless run and the short wizard run follow."""
DRIVERS: dict[str, Driver] = {WIZARD_CLUSTER.label: wizard}
SELF_SERVICE = {RAPI_OWN.label}
"""Runs where p2v creates the instance through RAPI (the lab creates nothing)."""
PARALLEL = 2
"""Runs at once by default: a run keeps about one core busy for most of its
time (the bootstrap regenerating the initramfs, or the live system booting),
so two fill this machine's two cores."""

T = TypeVar("T")


def timed(clock: Clock, name: str, build: Callable[[], T]) -> Callable[[], T]:
    def run() -> T:
        with clock.phase(name):
            return build()

    return run


def migrate(e2e: E2ELab, source: Future[SourceMachine], migration: Migration) -> bool:
    """One run, once its source is built, reported as it ends; False when it failed."""
    try:
        if migration.label in SELF_SERVICE:
            result = migrate_self_service(e2e, source.result(), migration)
        else:
            result = e2e.migrate(source.result(), migration, DRIVERS.get(migration.label, headless))
    except Exception:  # report it, let the other runs go on, tear down
        print(f"[lab] {migration.label}: FAILED\n{traceback.format_exc()}", flush=True)
        return False
    print(f"[lab] {migration.label}: passed\n  " + "\n  ".join(result.checks), flush=True)
    return True


def main() -> int:
    parser = argparse.ArgumentParser(prog="make lab", description=__doc__.split("\n\n")[0])
    parser.add_argument("--work", type=Path, help="scratch directory (default: a new one under /tmp)")
    parser.add_argument("--runs", default=",".join(RUNS), help=f"comma-separated, of: {', '.join(RUNS)}")
    parser.add_argument("--parallel", type=int, default=PARALLEL, help=f"runs at once (default {PARALLEL})")
    parser.add_argument("--keep", action="store_true", help="keep the scratch directory (consoles, reports)")
    args = parser.parse_args()
    reason = missing_requirements()
    if reason:
        print(f"make lab: {reason}", file=sys.stderr)
        return 2
    unknown = [name for name in args.runs.split(",") if name and name not in RUNS]
    if unknown or args.parallel < 1:
        parser.error(f"unknown runs {unknown}" if unknown else "--parallel is at least 1")
    runs = [RUNS[name] for name in args.runs.split(",") if name]
    work = args.work or Path(tempfile.mkdtemp(prefix="p2v-lab-"))
    clock = Clock()
    with contextlib.ExitStack() as stack:
        # the builds (each cached on its own inputs) run while the cluster comes
        # up, and a run starts as soon as its own source is there
        builds = stack.enter_context(ThreadPoolExecutor(max_workers=4, thread_name_prefix="build"))
        server_f = builds.submit(
            timed(clock, "old server disk (built and proof-booted, or cached)", old_server)
        )
        live_f = builds.submit(timed(clock, "live image (built or cached)", live_image))
        bootstrap_f = builds.submit(
            timed(clock, "bootstrap OS and ramboot initrd (built or cached)", bootstrap_artifacts)
        )
        sources: dict[str, Future[SourceMachine]] = {}
        if LVM_OWN in runs:
            sources[LVM_OWN.label] = builds.submit(
                timed(
                    clock,
                    "LVM server disk (built in guests and proof-booted, or cached)",
                    lambda: lvm_server_source(lvm_source()),
                )
            )
        with clock.phase("Ganeti cluster up"):
            lab = stack.enter_context(ganeti_lab(work / "ganeti"))
        server = server_f.result()
        old_source = builds.submit(old_server_source, server)  # read once, for all of its runs
        sources.update({m.label: old_source for m in (HEADLESS_OWN, WIZARD_CLUSTER, RAPI_OWN)})
        images = Images(live_f.result(), bootstrap_f.result().directory)
        e2e = stack.enter_context(e2e_lab(lab, server, work / "runs", clock, images))
        with ThreadPoolExecutor(max_workers=args.parallel, thread_name_prefix="run") as pool:
            outcomes = [pool.submit(migrate, e2e, sources[m.label], m) for m in runs]
            passed = sum(f.result() for f in outcomes)
        with clock.phase("tear down"):
            stack.close()
    if args.keep:
        print(f"\nconsoles, reports and disk copies kept in {work}")
    else:
        shutil.rmtree(work, ignore_errors=True)
    print("\nphases:\n" + clock.table())
    print(f"\n{passed} of {len(runs)} runs passed ({args.parallel} at once)")
    return 0 if passed == len(runs) else 1


if __name__ == "__main__":
    sys.exit(main())
