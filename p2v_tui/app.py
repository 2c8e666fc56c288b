"""Composition root: the command line, the one place where real or
simulated parts are chosen, and where parts, session, report and frontend
(headless or the wizard) are put together, for a real machine and the
built-in demo alike."""

from __future__ import annotations

import argparse
import dataclasses
import logging
import os
import sys
import tempfile
import threading
import traceback
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from . import __version__
from .engine.exits import (
    EXIT_FAILED,
    EXIT_OK,
    EXIT_STOPPED,
    EXIT_USAGE,
    exit_codes_help,
    internal_error,
)
from .model.answers import Answers, TargetAnswers
from .model.machine import Machine
from .system.answers_io import AnswersError, load_answers
from .system.report import ReportError, default_report_dir

if TYPE_CHECKING:
    from .engine.session import Parts
    from .tui.controller import Network

log = logging.getLogger("p2v_tui")

DESCRIPTION = """\
Migrate the Linux machine this live system runs on into a Ganeti instance.

The instance must be created with the p2v-target OS (gnt-instance add -o
p2v-target+default -O ssh_key=...) and started with the ramboot initrd; it
then waits for this program over SSH. The source disks are only ever mounted
read-only; the instance's disks are erased and repartitioned.
"""

EPILOG = (
    exit_codes_help()
    + """
examples:
  p2v --demo                          the whole flow on a built-in example
  p2v --wizard                        the interactive wizard (what the live image starts)
  p2v --wizard --demo                 the wizard on the built-in example
  p2v --answers-file prefill.yaml     with 'interactive: true' in it: the wizard, pre-filled
  p2v --validate answers.yaml         check an answers file
  p2v --answers-file answers.yaml --dry-run
                                      probe, connect and show plan and diffs
  p2v --answers-file answers.yaml --yes --events events.jsonl

The answers file format is described in README.md ("Answers file").
"""
)


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="p2v",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--answers-file", metavar="FILE", help="run headless with the choices in FILE (YAML)")
    mode.add_argument("--validate", metavar="FILE", help="check an answers file and exit 0 (valid) or 1")
    mode.add_argument(
        "--demo",
        action="store_true",
        help="run the whole flow on a built-in example machine against a simulated target "
        "(needs no root and no server; copies a sample tree with real rsync)",
    )
    p.add_argument(
        "--wizard",
        action="store_true",
        help="take a person through the migration on screens (80x24, serial consoles too); "
        "with --answers-file: pre-filled from it; with --demo: on the built-in example",
    )
    p.add_argument(
        "--warm",
        action="store_true",
        help="with --answers-file: a warm pass: copy the source while it still runs (source.running in "
        "the answers) into the target; repeat it, then boot the live image for the cutover",
    )
    p.add_argument("--yes", action="store_true", help="confirm erasing the target disks (as 'confirm: true')")
    p.add_argument("--dry-run", action="store_true", help="probe, connect and plan; write nothing")
    p.add_argument("--report", metavar="DIR", help="report directory (default: /var/log/p2v/p2v-report-TIME)")
    p.add_argument("--events", metavar="FILE", help="write events as JSON lines to FILE ('-' for stdout)")
    p.add_argument("-v", "--verbose", action="store_true", help="show debug messages on the console")
    p.add_argument("--version", action="version", version=f"p2v {__version__}")
    return p


def _real_parts() -> Parts:
    # Imported here so that --validate and --demo work where paramiko or
    # pyparted are missing, and nothing probes hardware at import time.
    from .engine.cluster import ClusterParts
    from .engine.session import Parts
    from .model.answers import Answers as _Answers
    from .system.host import physical_macs
    from .system.keyfile import generate_host_key, public_key_line
    from .system.probe import probe_machine
    from .system.rapi import client_for
    from .system.runner import LocalRunner
    from .system.sources import MountedSources
    from .system.ssh import SshTarget, prove_host_key, scan_host_key
    from .system.target import Target
    from .system.transfer import RsyncTransfer

    def connect(a: _Answers) -> SshTarget:
        t = a.target
        return SshTarget.connect(t.host, t.port, t.user, t.identity, t.host_key, timeout=t.connect_timeout)

    def probe(a: _Answers) -> Machine:
        return probe_machine(LocalRunner(), disks=a.source_disks)

    def sources(m: Machine) -> MountedSources:
        return MountedSources(
            {fs.device: fs for fs in m.filesystems}, base="/run/p2v/source", volume_groups=m.volume_groups
        )

    def transfer(target: Target, a: _Answers, tmp: Path) -> RsyncTransfer:
        assert isinstance(target, SshTarget)  # connect() above made it
        return RsyncTransfer(
            remote_shell=target.openssh_argv(tmp / "known_hosts"),
            login=target.login,
            bwlimit_kib=(a.bandwidth_limit or 0) // 1024,
        )

    def scan(t: TargetAnswers) -> str:
        return scan_host_key(t.host, t.port, timeout=t.connect_timeout)

    return Parts(
        connect=connect,
        probe=probe,
        sources=sources,
        transfer=transfer,
        scan_host_key=scan,
        cluster=ClusterParts(
            rapi=client_for,
            new_host_key=generate_host_key,
            public_key=public_key_line,
            source_macs=physical_macs,
            prove=lambda host, pins, within: prove_host_key(host, 22, pins, within=within),
        ),
    )


def _running_parts(parts: Parts) -> Parts:
    """``parts`` with the source a server that still runs: probed over SSH
    from here, pulled from by the target (a warm pass)."""
    from .engine.session import RunningParts
    from .system.pull import PullTransfer
    from .system.running_probe import RunningSources, probe_running, source_clock
    from .system.ssh import SshTarget
    from .system.target import AuthenticationFailed, Target

    held: dict[str, SshTarget] = {}

    def server(a: Answers) -> SshTarget:
        if "source" not in held:
            r = a.running
            assert r is not None  # checked by the caller
            try:
                held["source"] = SshTarget.connect(
                    r.host, r.port, r.user, r.identity, r.host_key, timeout=r.connect_timeout
                )
            except AuthenticationFailed:
                raise AuthenticationFailed(
                    f"{r.user}@{r.host} refused the key {r.identity}: is its public key in the running "
                    "server's authorized_keys (README, Warm passes)?"
                ) from None
        return held["source"]

    def probe(a: Answers) -> Machine:
        return probe_running(server(a))

    def sources(m: Machine) -> RunningSources:
        # closed with the session's source access; the clock and the copy use it until then
        return RunningSources(m, held.get("source"))

    def transfer(target: Target, a: Answers, tmp: Path) -> PullTransfer:
        assert isinstance(target, SshTarget) and a.running is not None
        r = a.running
        src = server(a)
        return PullTransfer(
            target,
            address=src.address,
            port=r.port,
            user=r.user,
            copy_identity=r.copy_identity,
            host_key_line=f"{src.host_key_type} {src.host_key_base64}",
            bwlimit_kib=(a.bandwidth_limit or 0) // 1024,
        )

    def clock() -> int:
        return source_clock(held["source"])

    return dataclasses.replace(
        parts, probe=probe, sources=sources, transfer=transfer, scan_host_key=None,
        running=RunningParts(clock=clock),
    )  # fmt: skip


def _events_stream(spec: str | None) -> TextIO | None:
    if spec is None:
        return None
    if spec == "-":
        return sys.stdout
    return open(spec, "a", encoding="utf-8")


def _validate(path: str) -> int:
    try:
        load_answers(path)
    except AnswersError as e:
        print(f"{path}: invalid", file=sys.stderr)
        for line in e.errors:
            print(f"  {line}", file=sys.stderr)
        return EXIT_FAILED
    print(f"{path}: valid")
    return EXIT_OK


def _p2v_records(record: logging.LogRecord) -> bool:
    """The console shows p2v's own messages; a library's (paramiko logs
    every failed handshake with its traceback) go to debug.log only."""
    return record.name == "p2v_tui" or record.name.startswith("p2v_tui.")


def _internal_error(exc: BaseException, report_dir: Path | None) -> int:
    """An exception nothing expected: its traceback into debug.log (the
    report's, else a new file), one line on the console."""
    details = "".join(traceback.format_exception(exc))
    path: Path | None = None
    if report_dir is not None:
        try:
            fd = os.open(report_dir / "debug.log", os.O_WRONLY | os.O_APPEND | os.O_NOFOLLOW)
            with os.fdopen(fd, "a", encoding="utf-8") as f:
                f.write(f"internal error:\n{details}")
            path = report_dir / "debug.log"
        except OSError:
            path = None
    if path is None:
        fd, name = tempfile.mkstemp(prefix="p2v-debug-", suffix=".log")
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(details)
        path = Path(name)
    print(f"p2v: {internal_error(exc, path)}", file=sys.stderr)
    return EXIT_FAILED


def _quiet_console(handler: logging.Handler) -> None:
    """The wizard owns the terminal: log messages go to the report's
    debug.log only, never over the screens."""
    logging.getLogger().removeHandler(handler)


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    # The console shows p2v's warnings (everything's debug with -v); the
    # report's debug.log gets everything, whatever the console shows.
    handler = logging.StreamHandler(sys.stderr)
    handler.setLevel(logging.DEBUG if args.verbose else logging.WARNING)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    if not args.verbose:
        handler.addFilter(_p2v_records)
    logging.getLogger().addHandler(handler)
    logging.getLogger().setLevel(logging.DEBUG)
    report_dir: list[Path] = []
    try:
        return _main(args, handler, report_dir)
    except ReportError as e:
        print(f"p2v: {e}", file=sys.stderr)
        return EXIT_FAILED
    except KeyboardInterrupt:
        print("p2v: interrupted; run the same command again to resume", file=sys.stderr)
        return EXIT_STOPPED
    except Exception as e:
        return _internal_error(e, report_dir[0] if report_dir else None)
    finally:
        logging.getLogger().removeHandler(handler)


def _main(args: argparse.Namespace, handler: logging.Handler, report_dir: list[Path]) -> int:
    """``report_dir`` gets the report directory once it is known (for the
    caller's last word on an unexpected failure)."""
    if args.validate:
        return _validate(args.validate)
    if not (args.answers_file or args.demo or args.wizard):
        parser().print_help()
        return EXIT_USAGE
    if args.warm and (args.wizard or args.demo or not args.answers_file):
        print("p2v: --warm runs headless from --answers-file (not with --wizard or --demo)", file=sys.stderr)
        return EXIT_USAGE
    from .engine.headless import Options, run

    events = _events_stream(args.events)
    console = sys.stderr if args.events == "-" else sys.stdout
    if args.demo:
        return _demo(args, handler, events, console)
    answers: Answers = Answers(TargetAnswers("", "", ""))
    if args.answers_file:
        try:
            answers = load_answers(args.answers_file)
        except AnswersError as e:
            print(f"{args.answers_file}: invalid, nothing was touched", file=sys.stderr)
            for line in e.errors:
                print(f"  {line}", file=sys.stderr)
            return EXIT_FAILED
    if os.geteuid() != 0:
        print("p2v must run as root: it reads the source disks and mounts them read-only", file=sys.stderr)
        return EXIT_FAILED
    report = Path(args.report or answers.report or default_report_dir())
    report_dir.append(report)
    parts = _real_parts()
    if args.warm:
        if answers.interactive:
            print(f"{args.answers_file}: --warm runs headless: not with 'interactive: true'", file=sys.stderr)
            return EXIT_USAGE
        if answers.running is None:
            print(
                f"{args.answers_file}: --warm needs source.running (the server while it runs)",
                file=sys.stderr,
            )
            return EXIT_FAILED
        parts = _running_parts(parts)
    if args.wizard or answers.interactive:
        from .system.netlive import LiveNetwork
        from .system.runner import LocalRunner

        _quiet_console(handler)
        return _wizard(answers, parts, LiveNetwork(LocalRunner()), report)
    options = Options(
        report_dir=report,
        yes=args.yes,
        dry_run=args.dry_run,
        events=events,
        console=console,
        verbose=args.verbose,
        warm=args.warm,
    )
    return run(answers, parts, options)


def _demo(args: argparse.Namespace, handler: logging.Handler, events: TextIO | None, console: TextIO) -> int:
    """The built-in example, headless or in the wizard (``--wizard``): the
    same runs as on a real machine, over the demo's parts."""
    from .demo import DEMO_REPORT, DemoNetwork, demo_answers, demo_setup
    from .engine.headless import Options, run

    report = Path(args.report) if args.report else Path.cwd() / DEMO_REPORT
    if args.wizard:
        _quiet_console(handler)
        answers = dataclasses.replace(demo_answers(), interactive=True, confirm=False)
        with demo_setup(report) as parts:
            return _wizard(answers, parts, DemoNetwork(), report)
    with demo_setup(report, console) as parts:
        return run(demo_answers(), parts, Options(report_dir=report, events=events, console=console))


def _wizard(answers: Answers, parts: Parts, network: Network, report_dir: Path) -> int:
    """The wizard from the first screen to the last, over the same session
    and report directory as headless mode (answers.yaml, plan, diffs,
    events, debug.log, result.txt)."""
    from .engine import ending
    from .engine.session import Session
    from .system.report import Report
    from .tui.app import WizardApp, WizardRun
    from .tui.controller import Controller

    report = Report(report_dir)
    session = Session(parts, report, report.event, threading.Event())
    controller = Controller(session, answers, network)
    run = WizardRun()
    try:
        WizardApp(controller, run.factories()).run()
        if run.ending() is None:
            ending.not_confirmed(report)  # left before the transfer
    finally:
        controller.close()
        report.close()
    return run.exit_code()


if __name__ == "__main__":
    sys.exit(main())
