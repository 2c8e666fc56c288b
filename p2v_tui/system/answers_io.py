"""Reading and writing answers files (YAML) and loading the shipped schema."""

from __future__ import annotations

import codecs
import json
from functools import cache
from importlib import resources
from typing import Any

import yaml

from ..model.answers import Answers, answers_from_doc, answers_to_doc, validation_errors
from ..model.answers_yaml import AnswersSyntaxError, parse_answers_yaml
from .report import report_dir_problem
from .small_file import SmallFileError, read_small_file

MAX_ANSWERS_BYTES = 64 * 1024
"""An answers file is a few KiB; anything larger is not one (and a file the
size of a disk would be read into memory)."""

_BOMS = (
    (codecs.BOM_UTF32_LE, "UTF-32"),
    (codecs.BOM_UTF32_BE, "UTF-32"),
    (codecs.BOM_UTF16_LE, "UTF-16"),
    (codecs.BOM_UTF16_BE, "UTF-16"),
)


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


def read_answers_bytes(path: str) -> bytes:
    """The file's content: a regular file of at most MAX_ANSWERS_BYTES.
    Opened without blocking (a FIFO or a device given by mistake would
    otherwise hang or be read forever)."""
    try:
        return read_small_file(path, MAX_ANSWERS_BYTES)
    except SmallFileError as e:
        said = {
            "unreadable": f"cannot read: {e.reason}",
            "not-regular": "not a regular file",
            "too-large": f"larger than {MAX_ANSWERS_BYTES // 1024} KiB: not an answers file",
        }
        raise AnswersError(path, [said[e.problem]]) from None


def parse_answers(data: bytes, path: str) -> Answers:
    """UTF-8 text, strict YAML, the schema, every value's meaning, then
    :class:`Answers`; every problem an :class:`AnswersError` line."""
    for bom, name in _BOMS:
        if data.startswith(bom):
            raise AnswersError(path, [f"the file is {name} text; save it as UTF-8"])
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        line = data.count(b"\n", 0, e.start) + 1
        column = e.start - (data.rfind(b"\n", 0, e.start) + 1) + 1
        problem = f"not UTF-8 text (byte 0x{data[e.start]:02x}); save it as UTF-8"
        raise AnswersError(path, [f"line {line}, column {column}: {problem}"]) from None
    try:
        doc = parse_answers_yaml(text)
    except AnswersSyntaxError as e:
        raise AnswersError(path, [e.describe()]) from None
    errors = validation_errors(doc, answers_schema())
    if not errors and isinstance(doc.get("report"), str):
        refused = report_dir_problem(doc["report"])
        if refused:
            errors.append(f"report: {refused}")
    if errors:
        raise AnswersError(path, errors)
    try:
        return answers_from_doc(doc)
    except ValueError as e:
        raise AnswersError(path, [str(e)]) from None


def load_answers(path: str) -> Answers:
    """Read, parse strictly, validate against the schema and by meaning,
    convert. Nothing else is touched."""
    return parse_answers(read_answers_bytes(path), path)


def dump_answers(answers: Answers, note: str | None = None) -> str:
    """The answers file; ``note`` becomes a comment under the header (what a
    replay needs that the file cannot hold)."""
    header = "# p2v answers file: replay with  p2v --answers-file THIS_FILE\n"
    if note:
        header += "".join(f"# {line}\n" for line in note.splitlines())
    return header + yaml.safe_dump(answers_to_doc(answers), sort_keys=False, default_flow_style=False)
