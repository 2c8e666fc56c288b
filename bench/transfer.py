"""Transfer benchmark (not a test): how fast p2v copies a mixed tree over SSH
compared with the obvious alternatives, all through the same sshd, in one run.

    sudo bench/transfer [--small-files N] [--large-mib M] [--variants]

A target sshd runs in a network namespace (tests/lab), writing into a tmpfs
so the disk does not decide the result. The same source tree (many small
files, hard links, a few large incompressible files, a sparse file) is
copied by:

  ours        p2v's rsync command and ssh options (model/rsync, system/ssh)
  rsync       plain `rsync -aHAX` with ssh defaults
  tar         `tar c | ssh tar x`, ssh defaults
  link        `cat` of the large files into ssh, to /dev/null: the link limit

and ``ours`` again on the large files alone. It prints times and ratios
(baseline time / our time: above 1.0 means we are faster). With
``--variants`` it also times our rsync with other ciphers, compression and
delta transfer, which is how the settings in system/ssh.py were chosen.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shlex
import statistics
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
from tests.lab.netns import netns_pair  # noqa: E402
from tests.lab.sshd import make_client_key, target_sshd  # noqa: E402

MiB = 1024 * 1024


def build_tree(root: Path, small_files: int, large_mib: int, seed: int = 7) -> dict[str, int]:
    rng = random.Random(seed)
    small = root / "small"
    total = 0
    for i in range(small_files):
        d = small / f"d{i // 200:03d}"
        d.mkdir(parents=True, exist_ok=True)
        data = rng.randbytes(rng.randint(200, 16_000))
        (d / f"f{i:05d}").write_bytes(data)
        total += len(data)
    links = root / "links"
    links.mkdir()
    for i in range(0, min(small_files, 2000), 2):
        src = small / f"d{i // 200:03d}" / f"f{i:05d}"
        os.link(src, links / f"l{i:05d}")
    large = root / "large"
    large.mkdir()
    for i in range(3):
        with (large / f"big{i}.bin").open("wb") as f:
            for _ in range(large_mib // 3):
                f.write(os.urandom(MiB))
        total += (large_mib // 3) * MiB
    with (root / "sparse.img").open("wb") as f:
        f.truncate(1024 * MiB)
        f.seek(100 * MiB)
        f.write(os.urandom(8 * MiB))
    total += 8 * MiB
    return {"bytes": total, "small_files": small_files, "large_mib": (large_mib // 3) * 3}


def _timed(argv: list[str] | str, *, shell: bool = False) -> float:
    start = time.perf_counter()
    subprocess.run(argv, shell=shell, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def _ssh_defaults(cfg: dict[str, Any]) -> list[str]:
    """What an admin would type: ssh with its default cipher and options."""
    return [
        "ssh", "-F", "/dev/null", "-i", cfg["key"], "-p", str(cfg["port"]),
        "-o", "IdentitiesOnly=yes", "-o", "BatchMode=yes",
        "-o", f"UserKnownHostsFile={cfg['known_hosts']}", "-o", "GlobalKnownHostsFile=/dev/null",
        "-o", "HostKeyAlias=p2v-target",
    ]  # fmt: skip


def inner(cfg: dict[str, Any]) -> dict[str, list[float]]:
    """Runs inside the client namespace: every measurement, ``repeat`` rounds,
    the order of the methods rotated each round."""
    target = SshTarget.connect(cfg["host"], cfg["port"], "root", cfg["key"], cfg["host_key"])
    tmp = Path(tempfile.mkdtemp(prefix="p2v-bench-"))
    ours_shell = target.openssh_argv(tmp / "known_hosts")
    cfg["known_hosts"] = str(tmp / "known_hosts")
    default_ssh = _ssh_defaults(cfg)
    login = f"root@{cfg['host']}"
    src = cfg["source"]
    job = CopyJob("/dev/bench", "/", "/target/dst", "/")

    def clean() -> None:
        target.run(["sh", "-c", "rm -rf /target/dst && mkdir -p /target/dst && sync"])

    def ours(path: str = "") -> float:
        """The real thing: RsyncTransfer, progress parsing included."""
        transfer = RsyncTransfer(remote_shell=ours_shell, login=login)
        start = time.perf_counter()
        transfer.copy(job, os.path.join(src, path), lambda *a: None, threading.Event())
        return time.perf_counter() - start

    def variant(shell: list[str], swap: tuple[str, str] | None = None, path: str = "") -> float:
        """Our main rsync command with one setting changed, on a connection of
        its own (a shared master connection would keep the first one's cipher
        and compression)."""
        own = [
            "ControlMaster=no"
            if a == "ControlMaster=auto"
            else "ControlPath=none"
            if a.startswith("ControlPath=")
            else a
            for a in shell
        ]
        argv = rsync_argv(job, os.path.join(src, path), f"{login}:{job.dest}", remote_shell=own)
        if swap:
            argv = [swap[1] if a == swap[0] else a for a in argv]
        return _timed(argv)

    large = " ".join(shlex.quote(str(p)) for p in sorted(Path(src, "large").iterdir()))
    methods: dict[str, Callable[[], float]] = {
        "ours": ours,
        "rsync -aHAX": lambda: _timed(
            [
                "rsync",
                "-aHAX",
                "--numeric-ids",
                "-e",
                shlex.join(default_ssh),
                src + "/",
                f"{login}:/target/dst/",
            ]
        ),
        "tar | ssh | tar": lambda: _timed(
            f"tar -C {shlex.quote(src)} -cf - . | {shlex.join(default_ssh)} {login} "
            "'tar -C /target/dst -xpf - --numeric-owner'",
            shell=True,
        ),
        "ours, large files only": lambda: ours("large"),
        "link: cat large files | ssh (our options)": lambda: _timed(
            f"cat {large} | {shlex.join(ours_shell)} {login} 'cat > /dev/null'", shell=True
        ),
        "link into a file: cat large files | ssh cat > file": lambda: _timed(
            f"cat {large} | {shlex.join(ours_shell)} {login} 'cat > /target/dst/all'", shell=True
        ),
        "link: cat large files | ssh (defaults)": lambda: _timed(
            f"cat {large} | {shlex.join(default_ssh)} {login} 'cat > /dev/null'", shell=True
        ),
    }
    if cfg["variants"]:
        ciphers = next(a for a in ours_shell if a.startswith("Ciphers="))
        for cipher in (
            "chacha20-poly1305@openssh.com",
            "aes128-ctr",
            "aes128-gcm@openssh.com",
            "aes256-gcm@openssh.com",
        ):
            shell = [f"Ciphers={cipher}" if a == ciphers else a for a in ours_shell]
            methods[f"variant cipher={cipher}"] = lambda shell=shell: variant(shell)  # type: ignore[misc]
        compressed = ["Compression=yes" if a == "Compression=no" else a for a in ours_shell]
        methods["variant ssh compression"] = lambda: variant(compressed)
        methods["variant rsync --compress"] = lambda: variant(ours_shell, ("--whole-file", "--compress"))
        methods["variant delta (--no-whole-file)"] = lambda: variant(
            ours_shell, ("--whole-file", "--no-whole-file")
        )
        methods["large: variant --compress (zstd)"] = lambda: variant(
            ours_shell, ("--whole-file", "--compress"), "large"
        )
        methods["large: variant --checksum-choice=none"] = lambda: variant(
            ours_shell, ("--whole-file", "--checksum-choice=none"), "large"
        )
        methods["large: variant --inplace"] = lambda: variant(ours_shell, ("--partial", "--inplace"), "large")

    # Warm the page cache so the first method is not penalised (GNU tar
    # does not read file data when writing to /dev/null: pipe it).
    subprocess.run(f"tar -C {shlex.quote(src)} -cf - . | cat > /dev/null", shell=True, check=True)
    results: dict[str, list[float]] = {name: [] for name in methods}
    names = list(methods)
    for round_ in range(cfg["repeat"]):
        for name in names[round_ % len(names) :] + names[: round_ % len(names)]:
            clean()
            results[name].append(methods[name]())
    clean()
    target.close()
    return results


def report(runs: dict[str, list[float]], info: dict[str, int]) -> str:
    mib = info["bytes"] / MiB
    med = {name: statistics.median(times) for name, times in runs.items()}
    lines = [
        f"tree: {info['small_files']} small files, {info['large_mib']} MiB in 3 large files, "
        f"hard links, a 1 GiB sparse file; {mib:.0f} MiB of data; median of {len(runs['ours'])} runs",
    ]
    for name, times in runs.items():
        spread = f"{min(times):.2f}-{max(times):.2f}"
        lines.append(f"  {name:<52} {med[name]:7.2f} s  ({spread})")
    faster = min(med["rsync -aHAX"], med["tar | ssh | tar"])
    whole = faster / med["ours"]
    big = med["link: cat large files | ssh (our options)"] / med["ours, large files only"]
    stored = med["link into a file: cat large files | ssh cat > file"] / med["ours, large files only"]
    lines.append(f"whole tree: ours vs faster of rsync/tar   {whole:.2f}x   (goal >= 1.0)")
    lines.append(f"large files: ours vs link limit (cat)     {big:.2f}x   (goal >= 0.9)")
    lines.append(f"large files: ours vs cat into a file      {stored:.2f}x")
    return "\n".join(lines)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--small-files", type=int, default=20000)
    p.add_argument("--large-mib", type=int, default=900)
    p.add_argument("--variants", action="store_true", help="also time other ciphers, compression, delta")
    p.add_argument("--repeat", type=int, default=3, help="rounds; the median is reported")
    p.add_argument(
        "--shared-cpus",
        action="store_true",
        help="let both ends share every CPU (default: source side on CPU 0, target side on CPU 1, "
        "as two machines would be)",
    )
    p.add_argument("--inner", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.inner:
        print(json.dumps(inner(json.loads(Path(args.inner).read_text()))))
        return 0
    if os.geteuid() != 0:
        print("bench/transfer needs root (network namespaces, sshd)", file=sys.stderr)
        return 1
    with tempfile.TemporaryDirectory(prefix="p2v-bench-") as tmp:
        work = Path(tmp)
        source = work / "source"
        info = build_tree(source, args.small_files, args.large_mib)
        key, pub = make_client_key(work / "client")
        with netns_pair("p2vb") as ns, target_sshd(ns, work / "sshd", authorized_keys=[pub]) as t:
            cfg = {
                "host": t.host,
                "port": t.port,
                "key": str(key),
                "host_key": t.host_key_fingerprint,
                "source": str(source),
                "variants": args.variants,
                "repeat": args.repeat,
            }
            cfg_file = work / "cfg.json"
            cfg_file.write_text(json.dumps(cfg))
            client: list[str] = []
            if not args.shared_cpus and (os.cpu_count() or 1) >= 2:
                # Two machines: the target side (sshd and what it starts,
                # which inherit the affinity) on CPU 1, the source on CPU 0.
                subprocess.run(["taskset", "--all-tasks", "-p", "-c", "1", str(t.pid)], check=True,
                               capture_output=True)  # fmt: skip
                client = ["taskset", "-c", "0"]
            proc = subprocess.run(
                ns.client_argv([*client, sys.executable, __file__, "--inner", str(cfg_file)]),
                check=False,
                capture_output=True,
                text=True,
            )
            if proc.returncode != 0:
                print(proc.stderr, file=sys.stderr)
                return 1
            out = proc.stdout
        runs: dict[str, list[float]] = json.loads(out.strip().splitlines()[-1])
        print(report(runs, info))
        print(
            "CPUs: " + ("shared by both ends" if args.shared_cpus else "source side CPU 0, target side CPU 1")
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
