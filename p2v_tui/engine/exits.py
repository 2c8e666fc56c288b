"""p2v's exit codes, and the one line a defect ends with.

The one table of what each exit code means: ``p2v --help`` prints it, the
wizard and headless mode exit with these, and the live image's console
launcher (livecd/p2v_live.py, which must run where p2v_tui does not import)
is held to it by a test. Nothing here imports more than the model's
``printable``: ``--help`` and ``--validate`` run where the disk and SSH
libraries are missing.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

from ..model.validate import printable

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
"""argparse's, for a wrong command line."""
EXIT_NOT_CONFIRMED = 3
EXIT_STOPPED = 4
"""Stopped before the end, resumable: cancelled (Ctrl-C) or the link to
the target lost. The source is untouched; the same command again resumes."""

EXIT_CODES: tuple[tuple[int, str], ...] = (
    (EXIT_OK, "done (or valid, with --validate; or plan shown, with --dry-run)"),
    (
        EXIT_FAILED,
        "failed; or the answers file is invalid; nothing was written to the target "
        "unless the message says a step after 'partition' failed",
    ),
    (EXIT_USAGE, "wrong command line"),
    (EXIT_NOT_CONFIRMED, "not confirmed: add 'confirm: true' to the answers file or pass --yes"),
    (
        EXIT_STOPPED,
        "stopped before the end, resumable: cancelled (Ctrl-C) or the link to the target lost; "
        "the source is untouched, run the same command again",
    ),
)


def exit_codes_help(width: int = 76) -> str:
    """The ``exit codes:`` section of ``p2v --help``."""
    lines = [
        textwrap.fill(meaning, width, initial_indent=f"  {code}  ", subsequent_indent="     ")
        for code, meaning in EXIT_CODES
    ]
    return "exit codes:\n" + "\n".join(lines) + "\n"


def internal_error(exc: BaseException, details: Path | str) -> str:
    """The one line a defect (an exception nothing expected) is said in;
    ``details``: where its traceback is."""
    first = printable((str(exc).splitlines() or [""])[0][:200])
    return f"internal error ({type(exc).__name__}: {first}); details in {details}"
