"""A command runner that answers from recorded output (tests without the real tool)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from p2v_tui.system.runner import CommandError, CommandNotFoundError, CommandResult


class RecordedRunner:
    """Answers commands with recorded output; records what was asked."""

    def __init__(self, answers: Mapping[tuple[str, ...], str]) -> None:
        self.answers = answers
        self.asked: list[tuple[str, ...]] = []

    def run(
        self,
        argv: Sequence[str],
        *,
        check: bool = True,
        input: str | None = None,
        timeout: float | None = None,
        env: Mapping[str, str] | None = None,
    ) -> CommandResult:
        key = tuple(argv)
        self.asked.append(key)
        if key[0] not in {k[0] for k in self.answers}:
            raise CommandNotFoundError(key, 127, f"command not found: {key[0]}")
        if key not in self.answers:
            if check:
                raise CommandError(key, 1, "no such device")
            return CommandResult(key, 1, "", "no such device")
        return CommandResult(key, 0, self.answers[key], "")
