"""Every way a run ends, as both frontends end it: what result.txt says,
the exit code, and what the person is told (the wizard's message, headless
mode's console text), over a real report directory."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from p2v_tui.demo import demo_answers, demo_machine, example_file
from p2v_tui.engine import ending
from p2v_tui.engine.ending import NOT_CONFIRMED, SAME_COMMAND, SAME_TARGET, Ending
from p2v_tui.engine.exits import EXIT_CODES, EXIT_FAILED, EXIT_NOT_CONFIRMED, EXIT_OK, EXIT_STOPPED
from p2v_tui.engine.prepare import Prepared, make_plan
from p2v_tui.engine.session import Outcome, PlanRefused, next_steps
from p2v_tui.model.target import facts_from_json
from p2v_tui.system.report import Report
from p2v_tui.system.runner import CommandError
from p2v_tui.system.target import TargetError, TargetLost
from p2v_tui.system.transfer import Cancelled, TransferError

LOST = "the link to the target is lost: no answer from 192.0.2.20 for 40 s"
RSYNC = "rsync of / failed: No space left on device"
NO_GRUB = "the source has no GRUB 2 to boot from its own disk"
SFDISK = "sfdisk /dev/vda failed with exit status 1: busy"
TOO_BIG = "/ needs 3.1 GiB more than /dev/vda has\nexcluding /var/cache would save 1.2 GiB"


@pytest.fixture
def report(tmp_path: Path) -> Iterator[Report]:
    r = Report(tmp_path / "report")
    yield r
    r.close()


@pytest.fixture(scope="module")
def prepared(tmp_path_factory: pytest.TempPathFactory) -> Prepared:
    """The demo machine's real plan (empty filesystems)."""
    base = tmp_path_factory.mktemp("source")
    dirs = {mp: base / mp.strip("/") for mp in ("/", "/boot", "/home")}
    for d in dirs.values():
        d.mkdir(exist_ok=True)
    facts = facts_from_json(json.loads(example_file("instance.json").read_text()))
    answers = demo_answers()
    return make_plan(
        demo_machine(dirs),
        facts,
        disks=facts.disks,
        layout=answers.layout,
        fixup_choices=answers.fixups,
        exclude_sizes={},
    )


def result(report: Report) -> str:
    return (report.directory / "result.txt").read_text()


@dataclass(frozen=True)
class Case:
    id: str
    end: Callable[[Report], Ending]
    result: str
    code: int
    message: str
    console: str
    """``{dir}``: the report directory."""
    resumable: bool = False


CASES = [
    Case("dry-run", ending.dry_run, "dry run: nothing was written\n", EXIT_OK,
         "dry run: nothing was written", "dry run: nothing was written; report in {dir}"),
    Case("refused", lambda r: ending.refused(r, NO_GRUB), f"failed before any write:\n{NO_GRUB}\n",
         EXIT_FAILED, f"refused, nothing was written: {NO_GRUB}", f"refused, nothing was written: {NO_GRUB}"),
    Case("does-not-fit", lambda r: ending.raised(r, PlanRefused(TOO_BIG)),
         f"failed before any write:\n{TOO_BIG}\n", EXIT_FAILED, TOO_BIG, TOO_BIG),
    Case("not-confirmed", ending.not_confirmed, "not confirmed: nothing was written to the target\n",
         EXIT_NOT_CONFIRMED, "not confirmed: nothing was written to the target", NOT_CONFIRMED),
    Case("cancelled", lambda r: ending.raised(r, Cancelled("cancelled before swapfiles")),
         "stopped: cancelled: cancelled before swapfiles\n", EXIT_STOPPED,
         f"cancelled: cancelled before swapfiles. The source is untouched; {SAME_COMMAND}.",
         f"cancelled: cancelled before swapfiles. The source is untouched; {SAME_COMMAND}.", resumable=True),
    Case("lost", lambda r: ending.raised(r, TargetLost(LOST)), f"stopped: {LOST}\n", EXIT_STOPPED,
         f"{LOST}. The source is untouched; {SAME_COMMAND}.",
         f"{LOST}. The source is untouched; run the same command again to resume.", resumable=True),
    Case("lost-wizard", lambda r: ending.raised(r, TargetLost(LOST), resume=SAME_TARGET),
         f"stopped: {LOST}\n", EXIT_STOPPED,
         f"{LOST}. The source is untouched; p2v run again with the same target resumes.",
         f"{LOST}. The source is untouched; {SAME_TARGET}.", resumable=True),
    Case("not-reconnected",
         lambda r: ending.not_reconnected(r, TargetError("cannot reach 192.0.2.20:22"), resume=SAME_TARGET),
         "stopped: could not connect to the target again: cannot reach 192.0.2.20:22\n", EXIT_STOPPED,
         f"could not connect to the target again: cannot reach 192.0.2.20:22. The source is untouched; "
         f"{SAME_TARGET}.",
         f"could not connect to the target again: cannot reach 192.0.2.20:22. The source is untouched; "
         f"{SAME_TARGET}.", resumable=True),
    Case("failed", lambda r: ending.raised(r, TransferError(RSYNC)), f"failed: {RSYNC}\n", EXIT_FAILED,
         RSYNC, RSYNC + "\nDebug log: {dir}/debug.log"),
    Case("failed-command", lambda r: ending.raised(r, CommandError(["sfdisk", "/dev/vda"], 1, "busy\n")),
         f"failed: {SFDISK}\n", EXIT_FAILED, SFDISK, SFDISK + "\nDebug log: {dir}/debug.log"),
    Case("failed-os", lambda r: ending.raised(r, ConnectionRefusedError(111, "Connection refused")),
         "failed: [Errno 111] Connection refused\n", EXIT_FAILED, "[Errno 111] Connection refused",
         "[Errno 111] Connection refused\nDebug log: {dir}/debug.log"),
    Case("internal", lambda r: ending.raised(r, ZeroDivisionError("a defect\nsecond line")),
         "failed: internal error (ZeroDivisionError: a defect); details in {dir}/debug.log\n", EXIT_FAILED,
         "internal error (ZeroDivisionError: a defect); details in {dir}/debug.log",
         "internal error (ZeroDivisionError: a defect); details in {dir}/debug.log"),
    Case("internal-reconnecting",
         lambda r: ending.not_reconnected(r, ZeroDivisionError("a defect"), resume=SAME_TARGET),
         "failed: internal error (ZeroDivisionError: a defect); details in {dir}/debug.log\n", EXIT_FAILED,
         "internal error (ZeroDivisionError: a defect)", "internal error (ZeroDivisionError: a defect)"),
]  # fmt: skip


@pytest.mark.parametrize("case", [pytest.param(c, id=c.id) for c in CASES])
def test_every_ending_writes_its_result_and_exits_with_its_code(case: Case, report: Report) -> None:
    where = str(report.directory)
    ended = case.end(report)
    assert result(report).startswith(case.result.format(dir=where))
    assert ended.code == case.code
    assert ended.message.startswith(case.message.format(dir=where))
    assert ended.console.startswith(case.console.format(dir=where))
    assert ended.resumable == case.resumable
    assert ended.ok == (case.code == EXIT_OK)
    assert ended.report == where


def test_a_migration_ends_with_the_next_steps(report: Report, prepared: Prepared) -> None:
    name = prepared.facts.name
    steps = next_steps("none", name, prepared.plan.boot)
    ended = ending.migrated(report, Outcome(prepared, "none", steps))
    assert result(report) == f"migrated into {name}\n{steps}\n"
    assert (ended.code, ended.ok, ended.resumable) == (EXIT_OK, True, False)
    assert ended.message == f"migrated into {name}" and ended.next_steps == steps
    assert ended.console == f"web01 migrated into {name}.\n{steps}\nReport: {report.directory}"
    assert "gnt-instance start web01.example.org" in ended.next_steps


def test_a_defect_leaves_its_traceback_in_the_debug_log(report: Report) -> None:
    def defect() -> None:
        raise ZeroDivisionError("a defect")

    try:
        defect()
    except ZeroDivisionError as e:
        ending.raised(report, e)
    log = (report.directory / "debug.log").read_text()
    assert "Traceback" in log and "in defect" in log


def test_what_came_from_outside_is_made_printable(report: Report) -> None:
    ended = ending.raised(report, TransferError("rsync: \x1b[2Jgone"))
    assert "\x1b" not in ended.message and "\\x1b[2J" in ended.message
    assert "\x1b" not in result(report) and "\\x1b[2J" in result(report)


@pytest.mark.parametrize(
    ("ended", "code"),
    [
        (Ending(True, False, "migrated into web01", "", ""), EXIT_OK),
        (Ending(False, False, RSYNC, "", ""), EXIT_FAILED),
        (Ending(False, True, "cancelled: copy of / cancelled", "", ""), EXIT_STOPPED),
        (Ending(False, False, LOST, "", "", lost=True), EXIT_STOPPED),
        (Ending(False, False, "not confirmed", "", "", confirmed=False), EXIT_NOT_CONFIRMED),
    ],
)
def test_the_exit_code_follows_how_it_ended(ended: Ending, code: int) -> None:
    assert ended.code == code


def test_every_ending_exits_with_a_code_the_help_explains() -> None:
    explained = {code for code, _meaning in EXIT_CODES}
    assert {EXIT_OK, EXIT_FAILED, EXIT_NOT_CONFIRMED, EXIT_STOPPED} <= explained
    assert {case.code for case in CASES} <= explained
