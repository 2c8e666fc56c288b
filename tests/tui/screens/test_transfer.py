"""The transfer screen replaying the events of a real demo migration (real
rsync into a directory): steps checked off, progress with the current file,
the log; redraws throttled; cancel asks first and then stops the run; a
link to the target lost mid-copy is said, and retried or left for Done."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from p2v_tui.engine.ending import Ending
from p2v_tui.model.events import Event, Progress, StepStarted
from p2v_tui.model.units import format_size
from p2v_tui.tui.app import WizardRun
from p2v_tui.tui.screens.transfer import RedrawThrottle, TransferScreen
from p2v_tui.tui.widgets.progress import format_eta
from p2v_tui.tui.widgets.theme import ASCII_GLYPHS, UTF8_GLYPHS, Glyphs

from ...engine.linkcut import Link, cuttable_demo
from ..render import is_ascii, press, render, screen
from .support import FakeNav, save_screen
from .test_fixups import Demo, demo, mock_controller


def run_demo(tmp: Path, cancel_at: str | None = None) -> Iterator[Demo]:
    """A real demo migration, its events and result recorded; with
    ``cancel_at``, cancelled when that step starts."""
    running = demo(tmp)
    d = next(running)
    c = d.controller

    def record(event: Event) -> None:
        d.events.append(event)
        if isinstance(event, StepStarted) and event.step == cancel_at:
            c.cancel()

    c.start(record, d.finished.append)
    assert len(d.finished) == 1
    yield d
    running.close()


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    yield from run_demo(tmp_path_factory.mktemp("transfer"))


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def make(
    recorded: Demo, glyphs: Glyphs = UTF8_GLYPHS, replay: bool = True
) -> tuple[TransferScreen, FakeNav, Any, list[tuple[Callable[[Event], None], Callable[[Ending], None]]]]:
    ctl = mock_controller(recorded.controller)
    started: list[tuple[Callable[[Event], None], Callable[[Ending], None]]] = []

    def start(on_event: Callable[[Event], None], done: Callable[[Ending], None]) -> None:
        started.append((on_event, done))
        if replay:
            for event in recorded.events:
                on_event(event)
            done(recorded.finished[0])

    ctl.start.side_effect = start
    nav = FakeNav(glyphs)
    s = TransferScreen(ctl, nav, clock=Clock())
    return s, nav, ctl, started


def test_a_whole_run_checks_every_step_and_goes_to_done(recorded: Demo) -> None:
    s, nav, ctl, _ = make(recorded)
    s.enter()
    ctl.start.assert_called_once()
    assert nav.calls[-1] == "next"
    assert s.outcome == recorded.finished[0] and s.outcome.ok
    text = screen(s.frame)
    assert "✓ Checking the target" in text and "✓ After the transfer: none" in text
    assert "✗" not in text
    last = [e for e in recorded.events if isinstance(e, Progress)][-1]
    assert f"({last.done * 100 // last.total}%)" in text or "(100%)" in text
    assert any("changed /etc/fstab (fstab)" in line for line in s.log_lines)
    s.enter()  # coming back does not start another run
    ctl.start.assert_called_once()


def test_mid_copy_the_screen_shows_bytes_rate_eta_and_the_file(recorded: Demo) -> None:
    s, nav, _ctl, started = make(recorded, replay=False)
    s.enter()
    on_event, _done = started[0]
    events = recorded.events
    copy_progress = [i for i, e in enumerate(events) if isinstance(e, Progress) and e.current and e.done]
    upto = copy_progress[1]
    for event in events[: upto + 1]:
        on_event(event)
    p = events[upto]
    assert isinstance(p, Progress)
    lines = render(s.frame)
    text = "\n".join(lines)
    assert "✓ Creating filesystems" in text
    assert "▶ Mounting and copying, filesystem by filesystem" in text
    assert f"File {p.current}" in text
    rate = f"{format_size(int(p.rate))}/s" if p.rate > 0 else "--"
    assert f"Rate {rate}   ETA {format_eta(p.eta)}" in text
    assert "copying / (24.5 MiB) from /dev/sda3" in text
    assert nav.calls.count("next") == 0 and not s.frame.continue_enabled
    save_screen("transfer", lines)


def test_redraws_are_throttled_but_steps_draw_at_once(recorded: Demo) -> None:
    s, nav, _ctl, started = make(recorded, replay=False)
    clock: Any = s.clock
    s.enter()
    on_event, _done = started[0]
    progress = [e for e in recorded.events if isinstance(e, Progress)]
    for i in range(40):  # 40 progress events within 0.4 s: not 40 draws
        clock.now += 0.01
        on_event(progress[i % len(progress)])
    assert 1 <= nav.redraws <= 2
    nav.redraws = 0
    on_event(StepStarted("swapfiles", "Creating swap files"))
    assert nav.redraws == 1


@pytest.mark.parametrize(
    ("gap", "most", "least"),
    [
        (0.01, 4 * 3 + 1, 3),  # a burst: about four draws a second
        (0.3, 11, 10),  # slower than the interval: every event drawn
        (0.9, 4, 4),  # one event a second: each drawn, so at least once a second
    ],
)
def test_the_throttle_draws_at_most_four_times_and_at_least_once_a_second(
    gap: float, most: int, least: int
) -> None:
    throttle = RedrawThrottle()
    now, drawn, last_draw, longest = 0.0, 0, 0.0, 0.0
    while now < 3.0:
        if throttle.event(now):
            drawn += 1
            longest = max(longest, now - last_draw)
            last_draw = now
        now += gap
    assert least <= drawn <= most
    assert longest <= 1.0


def test_cancel_asks_with_no_as_default_then_cancels(recorded: Demo) -> None:
    s, nav, ctl, started = make(recorded, replay=False)
    s.enter()
    press(s.frame, "esc")
    assert "Stop the migration?" in screen(s.frame)
    press(s.frame, "enter")  # the focus is on Keep going
    ctl.cancel.assert_not_called()
    assert not s.frame.modal_open
    press(s.frame, "f10", "tab", "enter")  # F10 asks too; Stop
    ctl.cancel.assert_called_once()
    assert "Stopping at the next safe point" in screen(s.frame)
    press(s.frame, "esc")  # asking again changes nothing
    ctl.cancel.assert_called_once()
    _on_event, done = started[0]
    done(Ending(False, True, "cancelled: cancelled before swapfiles", "", "/tmp/report"))
    assert nav.calls[-1] == "next" and s.outcome is not None and s.outcome.cancelled


def test_ascii_mode_draws_only_ascii(recorded: Demo) -> None:
    s, _nav, _ctl, started = make(recorded, ASCII_GLYPHS, replay=False)
    s.enter()
    on_event, _done = started[0]
    for event in recorded.events[: len(recorded.events) // 2]:
        on_event(event)
    assert is_ascii(render(s.frame))
    press(s.frame, "esc")
    assert is_ascii(render(s.frame))


@dataclass
class LostRun:
    """A real demo migration whose link was cut at 40 % of the copy, then
    retried through the controller once the link was back."""

    demo: Demo
    lost_events: list[Event]
    lost: Ending
    retry_events: list[Event]
    retried: Ending


@pytest.fixture(scope="module")
def lost_run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LostRun]:
    tmp = tmp_path_factory.mktemp("lost")
    link = Link(cut_in_copy=True)
    running = demo(tmp, cuttable_demo(tmp, link))
    d = next(running)
    lost_events: list[Event] = []
    lost: list[Ending] = []
    d.controller.start(lost_events.append, lost.append)
    link.restore()
    retry_events: list[Event] = []
    retried: list[Ending] = []
    d.controller.retry(retry_events.append, retried.append)
    yield LostRun(d, lost_events, lost[0], retry_events, retried[0])
    running.close()


def make_lost(run: LostRun, glyphs: Glyphs = UTF8_GLYPHS) -> tuple[TransferScreen, FakeNav, Any]:
    """The screen after the lost run; ``retry`` replays the real retry."""
    ctl = mock_controller(run.demo.controller)

    def replay(events: list[Event], finished: Ending) -> Callable[..., None]:
        def play(on_event: Callable[[Event], None], done: Callable[[Ending], None]) -> None:
            for event in events:
                on_event(event)
            done(finished)

        return play

    ctl.start.side_effect = replay(run.lost_events, run.lost)
    ctl.retry.side_effect = replay(run.retry_events, run.retried)
    nav = FakeNav(glyphs)
    s = TransferScreen(ctl, nav, clock=Clock())
    s.enter()
    return s, nav, ctl


def test_a_lost_link_stays_on_the_screen_saying_so_and_offers_retry_and_done(lost_run: LostRun) -> None:
    assert lost_run.lost.lost and not lost_run.lost.ok and not lost_run.lost.cancelled
    s, nav, ctl = make_lost(lost_run)
    assert nav.calls == []  # not on to Done by itself
    lines = render(s.frame)
    text = "\n".join(lines)
    assert len(lines) == 24 and all(len(line) <= 80 for line in lines)
    assert "The link to the target was lost: nothing on this machine was changed" in text
    assert "✗ Copying, filesystem by filesystem" in text or "✗ Mounting and copying" in text
    assert "✗ The link to the target was lost. Retry connects again and resumes" in text
    assert "[ Retry ]" in text and "[ Continue ]" in text and "[ Cancel ]" not in text
    assert "Esc retry  F2 continue to Done" in text
    assert s.log_lines[-1].startswith("error: the link to the target is lost: no answer")
    assert s.log_lines[-1].endswith("The source is untouched; p2v run again with the same target resumes.")
    save_screen("transfer-lost", lines)
    press(s.frame, "f2")  # Done, with the outcome that says why
    assert nav.calls == ["next"] and s.outcome is lost_run.lost
    ctl.retry.assert_not_called()


def test_retry_connects_again_and_the_resumed_run_goes_to_done(lost_run: LostRun) -> None:
    s, nav, ctl = make_lost(lost_run)
    press(s.frame, "enter")  # the focus is on Retry
    ctl.retry.assert_called_once()
    assert nav.calls == ["next"] and s.outcome is lost_run.retried and s.outcome.ok
    text = screen(s.frame)
    assert "Migrating this machine into web01.example.org" in text
    assert "[ Cancel ]" in text and "✗" not in text.split("───")[0]
    assert "✓ Checking the target" in text and "✓ After the transfer: none" in text
    assert "connecting to the target again" in s.log_lines
    # what the lost run left mounted, unmounted by the retry
    assert "unmounting what an earlier run left mounted on the target: /target" in s.log_lines


def test_a_retry_that_cannot_connect_stays_lost_and_can_be_retried_again(lost_run: LostRun) -> None:
    s, nav, ctl = make_lost(lost_run)
    again = Ending(False, False, "could not connect to the target again: cannot reach the test target",
                     "", "/tmp/report", lost=True)  # fmt: skip
    ctl.retry.side_effect = lambda on_event, done: done(again)
    press(s.frame, "esc")  # Esc presses Retry
    assert nav.calls == [] and s.outcome is again
    assert "could not connect to the target again" in s.log_lines[-1]
    assert "[ Retry ]" in screen(s.frame)
    press(s.frame, "esc")
    assert ctl.retry.call_count == 2


def test_the_lost_screen_in_ascii(lost_run: LostRun) -> None:
    s, _nav, _ctl = make_lost(lost_run, ASCII_GLYPHS)
    lines = render(s.frame)
    assert is_ascii(lines) and "[ Retry ]" in "\n".join(lines)


@pytest.mark.parametrize(
    ("outcome", "code"),
    [
        (None, 3),
        (Ending(True, False, "migrated into web01", "", ""), 0),
        (Ending(False, False, "rsync failed", "", ""), 1),
        (Ending(False, True, "cancelled: copy of / cancelled", "", ""), 4),
        (Ending(False, False, "the link to the target is lost", "", "", lost=True), 4),
    ],
)
def test_the_wizard_exits_as_headless_mode(outcome: Ending | None, code: int) -> None:
    run = WizardRun()
    run.transfer = SimpleNamespace(outcome=outcome)
    assert run.exit_code() == code
