"""The wizard's application: the urwid loop, the screen sequence, and the
one way worker results reach widgets.

Workers never touch widgets. :meth:`WizardApp.post` queues a callable and
writes a byte to a pipe the loop watches (``MainLoop.watch_pipe``); the loop
then runs the queued callables in order on its own thread.
"""

from __future__ import annotations

import collections
import logging
import os
import threading
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import urwid

from ..engine.ending import Ending
from ..engine.exits import EXIT_NOT_CONFIRMED
from .controller import Controller
from .screens.base import Screen
from .screens.confirm import ConfirmScreen
from .screens.done import DoneScreen
from .screens.fixups import FixupsScreen
from .screens.layout import LayoutScreen
from .screens.network import NetworkScreen
from .screens.source import SourceScreen
from .screens.target import TargetScreen
from .screens.transfer import TransferScreen
from .widgets.dialogs import ask
from .widgets.theme import Glyphs, Theme, ascii_only, choose_theme, glyphs_for

log = logging.getLogger(__name__)

ScreenFactory = Callable[[Controller, "WizardApp"], Screen]


class WizardApp:
    """Navigator for the screens; owns the main loop."""

    def __init__(
        self,
        controller: Controller,
        factories: Sequence[ScreenFactory],
        *,
        env: Mapping[str, str] | None = None,
        screen: Any = None,
    ) -> None:
        environ = dict(os.environ if env is None else env)
        self.theme: Theme = choose_theme(environ)
        self._glyphs = glyphs_for(ascii_only(environ))
        self.controller = controller
        self._queue: collections.deque[Callable[[], None]] = collections.deque()
        self._lock = threading.Lock()
        self._pipe_fd: int | None = None
        self.loop: urwid.MainLoop | None = None
        self._screen_arg = screen
        controller.post = self.post
        self.screens: list[Screen] = [make(controller, self) for make in factories]
        self.position = 0
        self._placeholder = urwid.WidgetPlaceholder(self.screens[0].frame)
        self.finished = False

    # -- Navigator -------------------------------------------------------------

    @property
    def glyphs(self) -> Glyphs:
        return self._glyphs

    def next(self) -> None:
        if self.position + 1 < len(self.screens):
            self._show(self.position + 1)
        else:
            self.exit()

    def back(self) -> None:
        if self.position > 0:
            self._show(self.position - 1)

    def quit(self) -> None:
        """Leave; asks first unless the run has ended (Done screen)."""
        if self.position == len(self.screens) - 1:
            self.exit()
            return
        frame = self.screens[self.position].frame
        ask(
            frame,
            "Leave p2v? Nothing has been written to the target yet unless the transfer started; "
            "a started transfer is stopped safely and can be resumed.",
            yes_label="Leave",
            no_label="Stay",
            on_answer=lambda yes: self._leave() if yes else None,
        )

    def redraw(self) -> None:
        if self.loop is not None:
            self.loop.draw_screen()

    # -- the loop ----------------------------------------------------------------

    def _leave(self) -> None:
        self.controller.cancel()
        self.exit()

    def exit(self) -> None:
        self.finished = True
        if self.loop is not None:
            raise urwid.ExitMainLoop()

    def _show(self, position: int) -> None:
        self.position = position
        screen = self.screens[position]
        self._placeholder.original_widget = screen.frame
        screen.enter()

    def post(self, work: Callable[[], None]) -> None:
        """From any thread: run ``work`` on the loop (inline before the loop runs)."""
        if self._pipe_fd is None:
            work()
            return
        with self._lock:
            self._queue.append(work)
        os.write(self._pipe_fd, b"!")

    def _drain(self, _data: bytes) -> bool:
        while True:
            with self._lock:
                if not self._queue:
                    break
                work = self._queue.popleft()
            work()
        return True  # keep the pipe

    def _unhandled(self, key: str) -> None:
        if key in ("f10", "ctrl q"):
            self.quit()

    def _redraw_on_ctrl_l(self, keys: list[str], _raw: list[int]) -> list[str]:
        """Ctrl-L draws the whole screen again, before any widget (an open
        dialog keeps every key) sees it. urwid only sends what changed, so a
        terminal attached to the serial console after the wizard started, or
        one that kernel messages scrolled, otherwise stays wrong."""
        if "ctrl l" in keys and self.loop is not None:
            self.loop.screen.clear()
        return [k for k in keys if k != "ctrl l"]

    @property
    def root(self) -> urwid.Widget:
        return self._placeholder

    def run(self) -> None:
        screen = self._screen_arg or urwid.raw_display.Screen()
        screen.set_terminal_properties(colors=self.theme.colors)
        self.loop = urwid.MainLoop(
            self._placeholder,
            palette=list(self.theme.palette),
            screen=screen,
            unhandled_input=self._unhandled,
            input_filter=self._redraw_on_ctrl_l,
            handle_mouse=False,
        )
        self._pipe_fd = self.loop.watch_pipe(self._drain)
        self._show(0)
        try:
            self.loop.run()
        finally:
            fd, self._pipe_fd = self._pipe_fd, None
            if fd is not None:
                self.loop.remove_watch_pipe(fd)


class WizardRun:
    """The eight screens in order; the Done screen reads the Transfer screen's outcome."""

    def __init__(self) -> None:
        self.transfer: Any = None

    def factories(self) -> list[ScreenFactory]:
        def transfer(controller: Controller, nav: WizardApp) -> Screen:
            self.transfer = TransferScreen(controller, nav)
            return self.transfer  # type: ignore[no-any-return]

        def done(controller: Controller, nav: WizardApp) -> Screen:
            return DoneScreen(controller, nav, self.transfer)

        return [
            NetworkScreen,
            TargetScreen,
            SourceScreen,
            LayoutScreen,
            FixupsScreen,
            ConfirmScreen,
            transfer,
            done,
        ]

    def ending(self) -> Ending | None:
        """How the run ended; None when the wizard was left before its transfer."""
        outcome: Ending | None = getattr(self.transfer, "outcome", None)
        return outcome

    def exit_code(self) -> int:
        """As headless mode (p2v --help): the run's, or not confirmed when the
        wizard was left before its transfer (nothing written)."""
        ended = self.ending()
        return EXIT_NOT_CONFIRMED if ended is None else ended.code
