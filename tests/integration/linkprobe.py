"""Run in the client namespace by test_link.py: every channel p2v has to the
target, open at once, then timed from a cut of the link to the moment each
gives up.

- ``command``: a paramiko command running when the link is cut (``sleep``);
- ``sftp``: an SFTP read asked for just after the cut;
- ``call``: a command asked for just after the cut on an idle connection;
- ``openssh``: a session through OpenSSH's ControlMaster, as rsync and tar
  use it (``ssh ... sleep``), running when the link is cut.

WORKDIR holds OpenSSH's control socket: a short path, as p2v's own
(a socket's path has at most 107 bytes). Prints ``ready`` once all are
open, waits for ``cut`` on stdin (the test
cuts the link first), then prints one JSON object: per channel, seconds
from the cut and how it ended.

    python -m tests.integration.linkprobe HOST PORT IDENTITY HOST_KEY WORKDIR
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

from p2v_tui.system.ssh import SshTarget

GIVE_UP = 150.0
"""Seconds after the cut by which every channel must have ended."""


def main(argv: list[str]) -> int:
    host, port, identity, pin, workdir = argv
    connections = {
        name: SshTarget.connect(host, int(port), "root", identity, pin)
        for name in ("command", "sftp", "call")
    }
    ssh = connections["call"].openssh_argv(Path(workdir) / "known_hosts")
    login = connections["call"].login
    # the first ssh becomes the ControlMaster (backgrounded by ControlPersist)
    # and itself a session through it, as the first rsync is
    openssh = subprocess.Popen(
        [*ssh, login, "sleep 600"],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 20
    while not any(Path(workdir).glob("cm-*")):
        if openssh.poll() is not None or time.monotonic() > deadline:
            print(f"ssh did not start its ControlMaster: {openssh.communicate(timeout=5)[1]!r}", flush=True)
            return 1
        time.sleep(0.1)
    cut = threading.Event()
    cut_at = [0.0]
    results: dict[str, dict[str, object]] = {}

    def timed(name: str, action: Callable[[], object], *, before_cut: bool) -> threading.Thread:
        def run() -> None:
            if not before_cut:
                cut.wait()
            try:
                action()
                ended = "returned"
            except Exception as e:  # what each channel ends with is the result
                ended = f"{type(e).__name__}: {e}"
            results[name] = {"seconds": round(time.monotonic() - cut_at[0], 1), "ended": ended}

        thread = threading.Thread(target=run, name=name, daemon=True)
        thread.start()
        return thread

    threads = [
        timed("command", lambda: connections["command"].run(["sleep", "600"]), before_cut=True),
        timed("sftp", lambda: connections["sftp"].read_file("/etc/hostname", limit=4096), before_cut=False),
        timed("call", lambda: connections["call"].run(["true"]), before_cut=False),
        timed("openssh", lambda: openssh.wait(timeout=GIVE_UP), before_cut=True),
    ]
    time.sleep(1)  # the command and the ssh session are running
    print("ready", flush=True)
    if sys.stdin.readline().strip() != "cut":
        return 2
    cut_at[0] = time.monotonic()
    cut.set()
    for thread in threads:
        thread.join(timeout=max(0.0, cut_at[0] + GIVE_UP - time.monotonic()))
    results.setdefault("openssh", {"seconds": None, "ended": "still running"})
    if openssh.poll() is None:
        openssh.kill()
    try:
        _out, err = openssh.communicate(timeout=5)
        results["openssh"]["ended"] = f"exit {openssh.returncode}: {err.decode(errors='replace').strip()}"
    except subprocess.TimeoutExpired:
        pass
    print(json.dumps(results), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
