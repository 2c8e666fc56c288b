"""A broken or lying target ends in one clear line.

The real Session and Executor run the demo's machine against a target that
answers like a p2v-target bootstrap OS (the simulated one), except where a
case makes it lie: instance.json nested, huge, garbage, wrong-typed, with
absurd sizes or a name full of escape sequences and shell characters;
blockdev, sfdisk --json, blkid and stat answering garbage, two lines or
megabytes. Each case ends with its error type and one-line message (or,
for a malformed table on resume, a fresh start), never another exception,
and nothing is written to the target after a refusal that comes before
the writes. The same cases through headless mode exit 1 with the message
printable on the console and in result.txt, and no traceback.
"""

from __future__ import annotations

import dataclasses
import io
import json
import logging
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from p2v_tui.demo import FILESYSTEMS, demo_machine, example_file
from p2v_tui.engine.headless import Options, run
from p2v_tui.engine.prepare import PrepareError
from p2v_tui.engine.session import Parts, Session, next_steps
from p2v_tui.model.answers import Answers
from p2v_tui.model.events import Finished, Log, Progress, printable_event
from p2v_tui.model.machine import Machine
from p2v_tui.model.validate import control_character
from p2v_tui.system.answers_io import load_answers
from p2v_tui.system.report import Report
from p2v_tui.system.runner import CommandError
from p2v_tui.system.sources import DirectorySources
from p2v_tui.system.target import MalformedAnswer, TargetFileTooLarge

from .doubles import DISK, Lie, LyingTarget, QuietTransfer, answers, no_lie

FACTS = "/etc/p2v-target/instance.json"
BOOT_ID = "/proc/sys/kernel/random/boot_id"
MEGABYTES = "9" * 3_000_000
ESCAPES = "\x1b[2J\x1b]0;owned\x07"

MALFORMED = f"{FACTS} on the target is malformed: "
ANSWERED = "on the target answered malformed output: "
RESUME = "answered malformed output: "
DEVICES = "/dev/vda /dev/vda1 /dev/vda2 /dev/vda3 /dev/vda4"


def demo_facts() -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(example_file("instance.json").read_text())
    return doc


def facts(**changes: Any) -> bytes:
    """The demo's instance.json with top-level keys or ``disk_0_size``-style
    keys (the first disk's or NIC's field) changed."""
    doc = demo_facts()
    for key, value in changes.items():
        if key.startswith(("disk_0_", "nic_0_")):
            doc["disks" if key.startswith("disk") else "nics"][0][key.split("_", 2)[2]] = value
        else:
            doc[key] = value
    return json.dumps(doc).encode()


@dataclass(frozen=True)
class Case:
    id: str
    error: type[Exception] | None
    """None: the migration completes."""
    says: str
    """The start of the error's message (or of the reason not to resume)."""
    files: dict[str, bytes] = dataclasses.field(default_factory=dict)
    lie: Lie = no_lie
    refused_before_writes: bool = False
    never_written: str = ""
    """What must not appear in any write after the refusal."""
    earlier: bool = False
    """The target holds the plan from an earlier run."""


CASES = [
    # -- instance.json: refused while connecting, before anything is written
    Case("facts-nested", PrepareError, f"{MALFORMED}JSON nested more than 32 deep",
         files={FACTS: b"[" * 100_000 + b"]" * 100_000}, refused_before_writes=True),
    Case("facts-nested-objects", PrepareError, f"{MALFORMED}JSON nested more than",
         files={FACTS: b'{"a":' * 40_000 + b"1" + b"}" * 40_000}, refused_before_writes=True),
    Case("facts-huge", TargetFileTooLarge,
         f"{FACTS} on the target is larger than 256 KiB: refusing to read it",
         files={FACTS: facts(kernel_args="x" * 300_000)}, refused_before_writes=True),
    Case("facts-garbage", PrepareError, f"{MALFORMED}not UTF-8 (byte 4)",
         files={FACTS: b"\x7fELF\xff\xfe\x00\x01garbage"}, refused_before_writes=True),
    Case("facts-not-json", PrepareError, f"{MALFORMED}not JSON (Expecting value",
         files={FACTS: b"name: web01\n"}, refused_before_writes=True),
    Case("facts-a-list", PrepareError, f"{MALFORMED}instance facts: expected an object",
         files={FACTS: b"[]"}, refused_before_writes=True),
    Case("facts-two-names", PrepareError, f"{MALFORMED}JSON with the key 'name' twice",
         files={FACTS: b'{"name": "web01", "name": "web02"}'}, refused_before_writes=True),
    Case("facts-size-a-string", PrepareError, f"{MALFORMED}disks[0].size: expected int",
         files={FACTS: facts(disk_0_size="10G")}, refused_before_writes=True),
    Case("facts-size-absurd", PrepareError,
         f"{MALFORMED}disks[0].size: a size of {2**60} bytes is more than 2^50",
         files={FACTS: facts(disk_0_size=2**60)}, refused_before_writes=True),
    Case("facts-size-zero", PrepareError,
         f"{MALFORMED}disks[0].size: a size of 0 bytes is not a disk",
         files={FACTS: facts(disk_0_size=0)}, refused_before_writes=True),
    Case("facts-size-huge-integer", PrepareError, f"{MALFORMED}not JSON (Exceeds",
         files={FACTS: facts().replace(b"10737418240", b"9" * 5000)}, refused_before_writes=True),
    Case("facts-name-escapes", PrepareError,
         f"{MALFORMED}name: text with the control character U+001B",
         files={FACTS: facts(name=f"web01{ESCAPES}.example.org")}, refused_before_writes=True),
    Case("facts-name-shell", PrepareError,
         f"{MALFORMED}name: 'web01;reboot|sh.example.org' is not a host name",
         files={FACTS: facts(name="web01;reboot|sh.example.org")}, refused_before_writes=True),
    Case("facts-name-a-number", PrepareError, f"{MALFORMED}name: expected str, got int",
         files={FACTS: facts(name=7)}, refused_before_writes=True),
    Case("facts-disk-path", PrepareError,
         f"{MALFORMED}disks[0].path: '/dev/vda;reboot' is not a device path",
         files={FACTS: facts(disk_0_path="/dev/vda;reboot")}, refused_before_writes=True),
    Case("facts-nic-ip", PrepareError,
         f"{MALFORMED}nics[0].ip: address '$(reboot)' is not an IP address",
         files={FACTS: facts(nic_0_ip="$(reboot)")}, refused_before_writes=True),
    Case("boot-id-huge", TargetFileTooLarge, f"{BOOT_ID} on the target is larger than 4.00 KiB",
         files={BOOT_ID: b"0" * 10_000}, refused_before_writes=True),
    # -- blockdev: refused while connecting (the sizes) or in the preflight
    Case("getsize64-garbage", MalformedAnswer,
         f"blockdev --getsize64 {DISK} {ANSWERED}"
         "expected one line with a size in bytes, got 'garbage\\n'",
         lie=answers(["blockdev", "--getsize64"], "garbage\n"), refused_before_writes=True),
    Case("getsize64-two-lines", MalformedAnswer,
         f"blockdev --getsize64 {DISK} {ANSWERED}"
         "expected one line with a size in bytes, got '10737418240\\n10737418240\\n'",
         lie=answers(["blockdev", "--getsize64"], "10737418240\n10737418240\n"), refused_before_writes=True),
    Case("getsize64-megabytes", MalformedAnswer,
         f"blockdev --getsize64 {DISK} {ANSWERED}"
         f"expected one line with a size in bytes, got {MEGABYTES[:40]!r}... (3000000 characters)",
         lie=answers(["blockdev", "--getsize64"], MEGABYTES), refused_before_writes=True),
    Case("getsize64-absurd", MalformedAnswer,
         f"blockdev --getsize64 {DISK} {ANSWERED}"
         f"a size of {2**60} bytes is more than 2^50 (1 PiB)",
         lie=answers(["blockdev", "--getsize64"], f"{2**60}\n"), refused_before_writes=True),
    Case("getss-garbage", MalformedAnswer,
         f"blockdev --getss {DISK} {ANSWERED}"
         f"expected one line with a sector size in bytes, got {ESCAPES + chr(10)!r}",
         lie=answers(["blockdev", "--getss"], ESCAPES + "\n"), refused_before_writes=True),
    Case("getss-odd", MalformedAnswer,
         f"blockdev --getss {DISK} {ANSWERED}"
         "a sector size of 520 bytes is not one a disk has",
         lie=answers(["blockdev", "--getss"], "520\n"), refused_before_writes=True),
    # -- resume: a malformed table or signature means starting afresh
    Case("sfdisk-json-garbage", None, f"sfdisk --json {DISK} {RESUME}not JSON",
         lie=answers(["sfdisk", "--json"], "garbage"), earlier=True),
    Case("sfdisk-json-nested", None, f"sfdisk --json {DISK} {RESUME}JSON nested more than",
         lie=answers(["sfdisk", "--json"], "[" * 100_000), earlier=True),
    Case("sfdisk-json-no-table", None, f"sfdisk --json {DISK} {RESUME}no 'partitiontable'",
         lie=answers(["sfdisk", "--json"], '{"partitiontable": [1, 2]}'), earlier=True),
    Case("sfdisk-json-bad-node", None,
         f"sfdisk --json {DISK} {RESUME}partition 0 has no node of its own",
         lie=answers(["sfdisk", "--json"],
                     '{"partitiontable": {"label": "dos", "partitions": [{"node": 5}]}}'),
         earlier=True),
    Case("sfdisk-json-string-sizes", None, f"sfdisk --json {DISK} {RESUME}the start of /dev/vda1",
         lie=answers(["sfdisk", "--json"],
                     '{"partitiontable": {"label": "dos", "partitions": '
                     '[{"node": "/dev/vda1", "start": "2048", "size": 1}]}}'),
         earlier=True),
    Case("sfdisk-json-megabytes", None, f"sfdisk --json {DISK} {RESUME}not JSON",
         lie=answers(["sfdisk", "--json"], MEGABYTES + "x"), earlier=True),
    Case("blkid-on-resume", None, f"blkid -p -o export /dev/vda1 {RESUME}UUID '../../sda'",
         lie=answers(["blkid"], "TYPE=ext3\nUUID=../../sda\n", before_writes=True), earlier=True),
    # -- after mkfs, in the chroot's /dev, around the fixups
    Case("blkid-after-mkfs", MalformedAnswer,
         f"blkid -p -o export /dev/vda1 {ANSWERED}UUID '$(reboot)' is not a UUID",
         lie=answers(["blkid"], "UUID=$(reboot)\nTYPE=ext3\n"), never_written="mount"),
    Case("blkid-megabytes", MalformedAnswer,
         f"blkid -p -o export /dev/vda1 {ANSWERED}expected KEY=value lines",
         lie=answers(["blkid"], MEGABYTES), never_written="mount"),
    Case("stat-devices-unasked", MalformedAnswer,
         f"stat -L '--format=%n %t %T' {DEVICES} {ANSWERED}"
         f"a line for '/dev/sda', which was not asked (or twice)",
         lie=answers(["stat", "-L"], "/dev/sda 8 0\n"), never_written="mknod"),
    Case("stat-devices-garbage", MalformedAnswer,
         f"stat -L '--format=%n %t %T' {DEVICES} {ANSWERED}"
         f"expected 'DEVICE MAJOR MINOR' lines, got '/dev/vda fd'",
         lie=answers(["stat", "-L"], "/dev/vda fd\n"), never_written="mknod"),
    Case("blkid-disk-label-escapes", MalformedAnswer,
         f"blkid -p -o export {DISK} {ANSWERED}LABEL is 'x\\x1b[2J\\x1b]0;owned\\x07'",
         lie=answers(["blkid", "-p", "-o", "export", DISK], f"PTTYPE=dos\nLABEL=x{ESCAPES}\n"),
         never_written="mknod"),
    Case("stat-times-garbage", MalformedAnswer,
         "stat '--format=%x\t%y\t%n' -- ",
         lie=answers(["stat", "--format=%x\t%y\t%n"], "yesterday\ttoday\t/target/etc\n"),
         never_written="write_file"),
    Case("mkfs-megabytes-of-stderr", CommandError, "mkfs.",
         lie=answers(["mkfs.ext3"], "", 1, "mkfs.ext3: " + "e" * 3_000_000), never_written="mount"),
]  # fmt: skip


@pytest.fixture(scope="module")
def machine(tmp_path_factory: pytest.TempPathFactory) -> Machine:
    base = tmp_path_factory.mktemp("source")
    dirs = {mp: base / (mp.strip("/") or "root") for _, mp, *_ in FILESYSTEMS}
    for d in dirs.values():
        d.mkdir()
    return demo_machine(dirs)


@pytest.fixture(scope="module")
def demo_answers() -> Answers:
    loaded = load_answers(str(example_file("answers.yaml")))
    return dataclasses.replace(loaded, layout=dataclasses.replace(loaded.layout, exclude=()), after="none")


def make_target(case: Case, root: Path, machine: Machine) -> LyingTarget:
    # the copy "happened": the migrated tree holds the source's configuration
    copied = {f"/target{path}": text.encode() for path, text in machine.config.files.items()}
    files = {FACTS: facts(), **copied, **case.files}
    return LyingTarget(root, files, case.lie)


def make_parts(target: LyingTarget, machine: Machine, transfer: QuietTransfer) -> Parts:
    return Parts(
        connect=lambda a: target,
        probe=lambda a: machine,
        sources=lambda m: DirectorySources({dev: "/nonexistent" for dev, *_ in FILESYSTEMS}),
        transfer=lambda t, a, tmp: transfer,
    )


def migrate(
    target: LyingTarget, machine: Machine, answers: Answers, report_dir: Path, *, earlier: bool
) -> None:
    """connect, probe, plan, execute: as headless mode and the wizard do."""
    report = Report(report_dir)
    session = Session(make_parts(target, machine, QuietTransfer()), report, lambda e: None, threading.Event())
    try:
        session.connect(answers)
        prepared = session.prepare(answers)
        if earlier:
            target.earlier = prepared.plan
        session.execute(answers, prepared)
    finally:
        session.close()
        report.close()


@pytest.mark.parametrize("case", [pytest.param(c, id=c.id) for c in CASES])
def test_a_lying_target_ends_in_one_clear_error(
    case: Case, machine: Machine, demo_answers: Answers, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    target = make_target(case, tmp_path / "target", machine)
    caplog.set_level(logging.DEBUG, logger="p2v_tui.engine.executor")
    if case.error is None:
        migrate(target, machine, demo_answers, tmp_path / "report", earlier=case.earlier)
        # not resumed: partitioned from scratch, and why is logged
        assert any(w.startswith("wipefs") for w in target.writes)
        assert f"not resuming: {case.says}" in caplog.text
        return
    with pytest.raises(Exception) as info:  # the type is checked exactly below
        migrate(target, machine, demo_answers, tmp_path / "report", earlier=case.earlier)
    assert type(info.value) is case.error, repr(info.value)[:300]
    message = str(info.value)
    assert message.startswith(case.says), message[:300]
    assert "\n" not in message and len(message) < 1000, message[:300]
    if case.refused_before_writes:
        assert target.writes == []
    if case.never_written:
        assert not [w for w in target.writes if case.never_written in w]


def test_the_same_target_telling_the_truth_migrates_and_resumes(
    machine: Machine, demo_answers: Answers, tmp_path: Path
) -> None:
    """The control for the cases above: without a lie the migration
    completes, and with the plan already on the disks it resumes."""
    fresh = make_target(Case("truth", None, ""), tmp_path / "fresh", machine)
    migrate(fresh, machine, demo_answers, tmp_path / "report1", earlier=False)
    assert any(w.startswith("wipefs") for w in fresh.writes)
    assert any("mknod" in w for w in fresh.writes)
    assert any(w.startswith("write_file /target/etc/fstab") for w in fresh.writes)
    again = make_target(Case("truth", None, ""), tmp_path / "again", machine)
    migrate(again, machine, demo_answers, tmp_path / "report2", earlier=True)
    assert not any(w.startswith(("wipefs", "sfdisk", "mkfs")) for w in again.writes)


HEADLESS = ["facts-nested", "facts-huge", "facts-name-escapes", "facts-name-shell", "getsize64-megabytes",
            "getss-garbage", "blkid-after-mkfs", "stat-devices-unasked", "blkid-disk-label-escapes",
            "mkfs-megabytes-of-stderr"]  # fmt: skip


def shown_text(text: str) -> str:
    """Fails on a control character other than newline and tab."""
    assert control_character(text.replace("\n", "").replace("\t", "")) is None, repr(text)[:300]
    return text


@pytest.mark.parametrize("case", [pytest.param(c, id=c.id) for c in CASES if c.id in HEADLESS])
def test_headless_prints_the_error_in_one_line(
    case: Case, machine: Machine, demo_answers: Answers, tmp_path: Path
) -> None:
    target = make_target(case, tmp_path / "target", machine)
    console = io.StringIO()
    parts = make_parts(target, machine, QuietTransfer())
    options = Options(report_dir=tmp_path / "report", yes=True, console=console)
    code = run(demo_answers, parts, options)
    out = shown_text(console.getvalue())
    assert code == 1, out[-2000:]
    assert "Traceback" not in out
    (failed,) = [line for line in out.splitlines() if line.startswith("FAILED: ")]
    assert case.says in failed, failed[:300]
    assert len(failed) < 1000
    result = shown_text((tmp_path / "report" / "result.txt").read_text())
    assert result.startswith("failed: ") and len(result) < 1100


def test_what_came_from_outside_is_shown_printable(
    machine: Machine, demo_answers: Answers, tmp_path: Path
) -> None:
    """File names in progress, rsync's warnings and a chroot command's
    stderr reach the console with their escape sequences made visible."""
    lie = answers(["chroot"], "", 1, f"grub-install: error: {ESCAPES}disk\rnot found\n")
    target = make_target(Case("chroot", None, "", lie=lie), tmp_path / "target", machine)
    transfer = QuietTransfer(current=f"home/evil{ESCAPES}.txt", warnings=(f"file has vanished: x{ESCAPES}",))
    console = io.StringIO()
    parts = make_parts(target, machine, transfer)
    code = run(demo_answers, parts, Options(report_dir=tmp_path / "report", yes=True, console=console))
    out = shown_text(console.getvalue())
    assert code == 1
    assert "evil\\x1b[2J\\x1b]0;owned\\x07.txt" in out  # the progress line
    assert "WARNING: file has vanished: x\\x1b[2J" in out
    assert "grub-install: error: \\x1b[2J\\x1b]0;owned\\x07disk\\x0dnot found" in out
    result = shown_text((tmp_path / "report" / "result.txt").read_text())
    assert "\\x1b[2J" in result
    # the report's event log keeps the raw text (JSON escapes it)
    assert "\\u001b[2J" in (tmp_path / "report" / "events.jsonl").read_text()


def test_next_steps_quote_the_name_for_a_shell() -> None:
    steps = next_steps("none", "web01;reboot|sh", "own")
    assert "gnt-instance shutdown 'web01;reboot|sh'" in steps
    assert "gnt-instance start 'web01;reboot|sh'" in steps
    assert "gnt-instance console 'web01;reboot|sh'" in steps
    assert "gnt-instance modify -H kernel_path=,initrd_path= 'web01;reboot|sh'" in steps
    assert "gnt-instance start web01.example.org" in next_steps("none", "web01.example.org", "own")


def test_events_for_a_person_are_printable() -> None:
    progress = printable_event(Progress("copy", 1, 2, 0.0, None, f"a{ESCAPES}\nb"))
    assert isinstance(progress, Progress)
    assert progress.current == "a\\x1b[2J\\x1b]0;owned\\x07\\x0ab"  # a name: one line
    assert printable_event(Log("error", f"one\ntwo{ESCAPES}")) == Log(
        "error", "one\ntwo\\x1b[2J\\x1b]0;owned\\x07"
    )
    assert printable_event(Finished(True, "done", "/r")) == Finished(True, "done", "/r")
