"""``make lab``: the end-to-end lab, with timings per phase.

    python -m tests.e2e [--work DIR] [--runs headless-own-grub,...]

Builds (or takes from the cache) the source machines, the live image, the
bootstrap OS and the ramboot initrd; brings up a real Ganeti cluster in
namespaces of its own; migrates each run's source into a new instance and
checks that it boots and works; prints the checks and the seconds per
phase; tears everything down. Root only. Exit code 0 when every run passed."""

from __future__ import annotations

import argparse
import contextlib
import shutil
import sys
import tempfile
import traceback
from pathlib import Path

from tests.e2e.lab import Clock, Driver, headless, wizard
from tests.e2e.oldserver import old_server
from tests.e2e.scenario import (
    HEADLESS_OWN,
    LVM_OWN,
    WIZARD_CLUSTER,
    e2e_lab,
    lvm_server_source,
    old_server_source,
)
from tests.e2e.source_lvm import lvm_source
from tests.lab.ganeti import ganeti_lab, missing_requirements

RUNS = {m.label: m for m in (HEADLESS_OWN, WIZARD_CLUSTER, LVM_OWN)}
DRIVERS: dict[str, Driver] = {WIZARD_CLUSTER.label: wizard}


def main() -> int:
    parser = argparse.ArgumentParser(prog="make lab", description=__doc__.split("\n\n")[0])
    parser.add_argument("--work", type=Path, help="scratch directory (default: a new one under /tmp)")
    parser.add_argument("--runs", default=",".join(RUNS), help=f"comma-separated, of: {', '.join(RUNS)}")
    parser.add_argument("--keep", action="store_true", help="keep the scratch directory (consoles, reports)")
    args = parser.parse_args()
    reason = missing_requirements()
    if reason:
        print(f"make lab: {reason}", file=sys.stderr)
        return 2
    runs = [RUNS[name] for name in args.runs.split(",") if name]
    work = args.work or Path(tempfile.mkdtemp(prefix="p2v-lab-"))
    clock, failed = Clock(), 0
    with clock.phase("old server disk (built and proof-booted, or cached)"):
        server = old_server()
    with clock.phase("LVM server disk (built in guests and proof-booted, or cached)"):
        sources = {
            HEADLESS_OWN.label: old_server_source(server),
            WIZARD_CLUSTER.label: old_server_source(server),
            LVM_OWN.label: lvm_server_source(lvm_source()),
        }
    with contextlib.ExitStack() as stack:
        with clock.phase("Ganeti cluster up"):
            lab = stack.enter_context(ganeti_lab(work / "ganeti"))
        e2e = stack.enter_context(e2e_lab(lab, server, work / "runs", clock))
        for migration in runs:
            try:
                result = e2e.migrate(
                    sources[migration.label], migration, DRIVERS.get(migration.label, headless)
                )
            except Exception:  # report it, go on with the other runs, tear down
                failed += 1
                print(f"[lab] {migration.label}: FAILED\n{traceback.format_exc()}", flush=True)
                continue
            print(f"[lab] {migration.label}: passed\n  " + "\n  ".join(result.checks), flush=True)
        with clock.phase("tear down"):
            stack.close()
    if args.keep:
        print(f"\nconsoles, reports and disk copies kept in {work}")
    else:
        shutil.rmtree(work, ignore_errors=True)
    print("\nphases:\n" + clock.table())
    print(f"\n{len(runs) - failed} of {len(runs)} runs passed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
