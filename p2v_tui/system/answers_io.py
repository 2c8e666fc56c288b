"""Reading and writing answers files (YAML) and loading the shipped schema."""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from ..model.answers import Answers, answers_from_doc, answers_to_doc, validation_errors


class AnswersError(Exception):
    """The answers file is unreadable or invalid; ``errors`` has one line per
    problem, each starting with the key path."""

    def __init__(self, path: str, errors: list[str]) -> None:
        super().__init__(f"{path}: " + "; ".join(errors))
        self.path = path
        self.errors = errors


@cache
def answers_schema() -> dict[str, Any]:
    text = resources.files("p2v_tui").joinpath("data/answers.schema.json").read_text(encoding="utf-8")
    schema: dict[str, Any] = json.loads(text)
    return schema


def load_answers(path: str) -> Answers:
    """Parse, validate against the schema, convert. Nothing else is touched."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as e:
        raise AnswersError(path, [f"cannot read: {e.strerror}"]) from None
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        problem = getattr(e, "problem", None) or str(e)
        raise AnswersError(path, [f"{where}not valid YAML: {problem}"]) from None
    errors = validation_errors(doc, answers_schema())
    if errors:
        raise AnswersError(path, errors)
    try:
        return answers_from_doc(doc)
    except ValueError as e:
        raise AnswersError(path, [str(e)]) from None


def dump_answers(answers: Answers, note: str | None = None) -> str:
    """The answers file; ``note`` becomes a comment under the header (what a
    replay needs that the file cannot hold)."""
    header = "# p2v answers file: replay with  p2v --answers-file THIS_FILE\n"
    if note:
        header += "".join(f"# {line}\n" for line in note.splitlines())
    return header + yaml.safe_dump(answers_to_doc(answers), sort_keys=False, default_flow_style=False)
