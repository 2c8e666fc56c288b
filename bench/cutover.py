"""Cutover benchmark (not a test): how long the outage of a warm migration
is against a cold one, measured in one run.

    sudo bench/cutover [--trees bench,debian] [--changed-percent 1] [--link-mbit 1000]

For each tree, through the same sshd (a network namespace, tmpfs on the
target, tests/lab):

  cold        p2v's copy (system/transfer) of the whole tree into an empty target
  warm        the same copy while "the server runs": the target is kept
  change      ``--changed-percent`` of the files created, rewritten, deleted
              and renamed (a quarter each), on the source
  final       the final pass over the warm target, as the cutover runs it
              (resume: the tar pass is skipped, rsync --delete), with p2v's
              settings and with the variants that could replace them

The final pass of every variant starts from the same warm target (a copy
kept on the target) and the same changed source. It prints the seconds and
each final pass as a fraction of the cold copy: the goal is <= 0.10.

Trees: ``bench`` is bench/transfer's mixed tree (small files, hard links,
large incompressible files, a sparse file); ``debian`` is a real Debian 12
system (the tests' cached mmdebstrap tarball, built when missing).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import random
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from p2v_tui.model.plan import CopyJob  # noqa: E402
from p2v_tui.model.rsync import rsync_argv  # noqa: E402
from p2v_tui.system.ssh import SshTarget  # noqa: E402
from p2v_tui.system.transfer import RsyncTransfer  # noqa: E402
from tests.integration.debian import debian_rootfs, untar_argv  # noqa: E402
from tests.lab.netns import VETH, netns_pair  # noqa: E402
from tests.lab.sshd import make_client_key, target_sshd  # noqa: E402

_spec = importlib.util.spec_from_file_location("bench_transfer", REPO / "bench" / "transfer.py")
assert _spec is not None and _spec.loader is not None
_transfer_bench = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_transfer_bench)
build_tree: Callable[..., dict[str, int]] = _transfer_bench.build_tree

DEST = "/target/dst"
WARM = "/target/warm"


def debian_tree(root: Path) -> None:
    root.mkdir(parents=True)
    subprocess.run(untar_argv(debian_rootfs(), root), check=True)


def change_tree(root: Path, percent: float, seed: int = 11) -> dict[str, int]:
    """``percent`` of the regular files, a quarter each: new (beside an
    existing one, of its size), rewritten in place (same size), deleted,
    renamed. Counts of each."""
    rng = random.Random(seed)
    files = sorted(
        Path(d) / f
        for d, _dirs, names in os.walk(root)
        for f in names
        if (Path(d) / f).is_file() and not (Path(d) / f).is_symlink() and (Path(d) / f).stat().st_nlink == 1
    )
    count = max(4, int(len(files) * percent / 100))
    picked = rng.sample(files, min(count, len(files)))
    quarter = len(picked) // 4
    done = {"new": 0, "rewritten": 0, "deleted": 0, "renamed": 0, "bytes_written": 0}
    for i, path in enumerate(picked):
        size = path.stat().st_size
        kind = ("new", "rewritten", "deleted", "renamed")[min(i // max(quarter, 1), 3)]
        if kind == "new":
            data = rng.randbytes(min(size, 64 << 20))
            path.with_name(path.name + ".new").write_bytes(data)
            done["bytes_written"] += len(data)
        elif kind == "rewritten":
            data = rng.randbytes(min(size, 64 << 20))
            path.write_bytes(data)
            done["bytes_written"] += len(data)
        elif kind == "deleted":
            path.unlink()
        else:
            path.rename(path.with_name(path.name + ".moved"))
        done[kind] += 1
    return done


def inner(cfg: dict[str, Any]) -> dict[str, Any]:
    """Runs in the client namespace: cold, warm, change, then each final pass."""
    target = SshTarget.connect(cfg["host"], cfg["port"], "root", cfg["key"], cfg["host_key"])
    tmp = Path(tempfile.mkdtemp(prefix="p2v-bench-"))
    shell = target.openssh_argv(tmp / "known_hosts")
    login = "root@p2v-target"
    src = cfg["source"]
    job = CopyJob("/dev/bench", "/", DEST, "/")

    def copy(resume: bool) -> float:
        transfer = RsyncTransfer(remote_shell=shell, login=login)
        start = time.perf_counter()
        transfer.copy(job, src, lambda *a: None, threading.Event(), resume=resume)
        return time.perf_counter() - start

    def variant(swap: tuple[str, str] | None = None, extra: tuple[str, ...] = ()) -> float:
        """The final pass's main rsync alone, one setting changed."""
        argv = rsync_argv(job, src, f"{login}:{DEST}", remote_shell=shell)
        if swap:
            argv = [swap[1] if a == swap[0] else a for a in argv]
        argv = [*argv[:-2], *extra, *argv[-2:]]
        start = time.perf_counter()
        subprocess.run(argv, check=True, stdout=subprocess.DEVNULL)
        return time.perf_counter() - start

    def reset(to_warm: bool) -> None:
        script = (
            f"rm -rf {DEST} && " + (f"cp -a {WARM} {DEST}" if to_warm else f"mkdir -p {DEST}") + " && sync"
        )
        target.run(["sh", "-c", script], timeout=1800)

    # the page cache holds the source for every method alike
    subprocess.run(f"tar -C '{src}' -cf - . | cat > /dev/null", shell=True, check=True)
    target.run(["sh", "-c", f"rm -rf {DEST} {WARM}"], timeout=1800)
    results: dict[str, Any] = {"cold": [], "warm pass": []}
    for _ in range(cfg["repeat"]):
        reset(False)
        results["cold"].append(copy(False))
    reset(False)
    results["warm pass"].append(copy(False))
    target.run(["sh", "-c", f"cp -a {DEST} {WARM} && sync"], timeout=1800)
    results["changed"] = change_tree(Path(src), cfg["percent"])
    subprocess.run(f"tar -C '{src}' -cf - . | cat > /dev/null", shell=True, check=True)
    finals: dict[str, Callable[[], float]] = {
        "final: p2v (cutover: sparse pass, rsync --whole-file --delete)": lambda: copy(True),
        "final: main rsync only, --whole-file": variant,
        "final: main rsync only, delta (--no-whole-file)": lambda: variant(
            ("--whole-file", "--no-whole-file")
        ),
        "final: main rsync only, --checksum": lambda: variant(extra=("--checksum",)),
        "final: main rsync only, --fuzzy (renames as bases)": lambda: variant(
            ("--whole-file", "--no-whole-file"), ("--fuzzy",)
        ),
    }
    names = list(finals)
    for name in names:
        results[name] = []
    for round_ in range(cfg["repeat"]):
        for name in names[round_ % len(names) :] + names[: round_ % len(names)]:
            reset(True)
            results[name].append(finals[name]())
    target.run(["sh", "-c", f"rm -rf {DEST} {WARM}"], timeout=1800)
    target.close()
    return results


def report(tree: str, results: dict[str, Any], info: str) -> str:
    cold = sorted(results["cold"])[len(results["cold"]) // 2]
    lines = [f"== {tree}: {info}", f"  changed on the source: {json.dumps(results['changed'])}"]
    lines.append(f"  {'cold copy (median)':60} {cold:8.2f} s")
    lines.append(f"  {'warm pass (the server still runs)':60} {results['warm pass'][0]:8.2f} s")
    for name, times in results.items():
        if not name.startswith("final"):
            continue
        t = sorted(times)[len(times) // 2]
        lines.append(f"  {name:60} {t:8.2f} s  {t / cold:6.3f} of cold (goal <= 0.100)")
    return "\n".join(lines)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--trees", default="bench,debian")
    p.add_argument("--changed-percent", type=float, default=1.0)
    p.add_argument("--small-files", type=int, default=20000)
    p.add_argument("--large-mib", type=int, default=900)
    p.add_argument("--repeat", type=int, default=3, help="rounds; the median is reported")
    p.add_argument(
        "--link-mbit",
        type=int,
        default=0,
        help="limit the link to this rate (tc tbf; 1000: gigabit ethernet)",
    )
    p.add_argument("--inner", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.inner:
        print(json.dumps(inner(json.loads(Path(args.inner).read_text()))))
        return 0
    if os.geteuid() != 0:
        print("bench/cutover needs root (network namespaces, sshd)", file=sys.stderr)
        return 1
    for tree in args.trees.split(","):
        with tempfile.TemporaryDirectory(prefix="p2v-bench-", dir="/var/tmp") as tmp:
            work = Path(tmp)
            source = work / "source"
            if tree == "bench":
                built = build_tree(source, args.small_files, args.large_mib)
                info = f"{built['small_files']} small files, {built['large_mib']} MiB large, a sparse file"
            elif tree == "debian":
                debian_tree(source)
                info = "a Debian 12 system (mmdebstrap minbase + kernel, GRUB, systemd)"
            else:
                print(f"unknown tree {tree!r}", file=sys.stderr)
                return 2
            key, pub = make_client_key(work / "client")
            with netns_pair("p2vc") as ns, target_sshd(ns, work / "sshd", authorized_keys=[pub]) as t:
                if args.link_mbit:
                    # the link as two machines have it: data leaves the source side at this rate
                    tbf = ["tc", "qdisc", "add", "dev", VETH, "root", "tbf", "rate", f"{args.link_mbit}mbit",
                           "burst", "1mb", "latency", "50ms"]  # fmt: skip
                    subprocess.run(ns.client_argv(tbf), check=True)
                cfg = {
                    "host": t.host,
                    "port": t.port,
                    "key": str(key),
                    "host_key": t.host_key_fingerprint,
                    "source": str(source),
                    "percent": args.changed_percent,
                    "repeat": args.repeat,
                }
                cfg_file = work / "cfg.json"
                cfg_file.write_text(json.dumps(cfg))
                proc = subprocess.run(
                    ns.client_argv([sys.executable, __file__, "--inner", str(cfg_file)]),
                    check=False,
                    capture_output=True,
                    text=True,
                )
                if proc.returncode != 0:
                    print(proc.stderr, file=sys.stderr)
                    return 1
            link = f", link {args.link_mbit} Mbit/s" if args.link_mbit else ", link: the veth, unlimited"
            print(report(tree, json.loads(proc.stdout.strip().splitlines()[-1]), info + link), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
