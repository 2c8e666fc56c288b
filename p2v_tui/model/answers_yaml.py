"""The answers file's YAML, read strictly.

An answers file is a few nested mappings of words, numbers and lists. YAML
can say much more, and a file from a stick or a URL may be careless or
hostile: a key given twice (the last one silently won: ``confirm: false``
then ``confirm: true``), anchors and aliases (a few lines that expand to
gigabytes), nesting deep enough to exhaust the stack, keys that are numbers
or lists, numbers of thousands of digits, dates. :func:`parse_answers_yaml`
refuses all of these with the line and column, before the schema sees the
document.
"""

from __future__ import annotations

import re
from typing import Any

import yaml
from yaml.error import Mark, MarkedYAMLError
from yaml.nodes import MappingNode, Node, ScalarNode

from .validate import quoted

MAX_DEPTH = 16
"""Nesting levels a document may have (the schema's deepest key,
``instance.disks[0].size``, is at level 4)."""

MAX_NUMBER_DIGITS = 30
"""Longest number accepted: anything longer is a typo or an attack (Python
refuses to convert integers of more than 4300 digits with a ValueError)."""

STR_TAG = "tag:yaml.org,2002:str"


class AnswersSyntaxError(ValueError):
    """Not an answers document: ``line`` and ``column`` (1-based, 0 when
    unknown) say where."""

    def __init__(self, problem: str, line: int = 0, column: int = 0) -> None:
        self.problem = problem
        self.line = line
        self.column = column
        super().__init__(self.describe())

    def describe(self) -> str:
        where = f"line {self.line}, column {self.column}: " if self.line else ""
        return f"{where}{self.problem}"


class _Refused(MarkedYAMLError):
    """Valid YAML that an answers file does not take."""

    def __init__(self, problem: str, mark: Mark) -> None:
        super().__init__(problem=problem, problem_mark=mark)


class _StrictLoader(yaml.SafeLoader):
    """SafeLoader without anchors, aliases, merge keys, timestamps or
    non-string keys, with bounded depth and number length, and duplicate
    keys refused."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._depth = 0

    def compose_node(self, parent: Node | None, index: int) -> Node | None:
        event = self.peek_event()  # type: ignore[no-untyped-call]
        if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None):
            raise _Refused(
                "anchors and aliases (&name, *name) are not allowed in an answers file", event.start_mark
            )
        self._depth += 1
        try:
            if self._depth > MAX_DEPTH:
                raise _Refused(f"nested more than {MAX_DEPTH} levels deep", event.start_mark)
            node: Node | None = super().compose_node(parent, index)
            return node
        finally:
            self._depth -= 1

    def construct_mapping(self, node: MappingNode, deep: bool = False) -> dict[Any, Any]:
        first: dict[str, int] = {}
        for key_node, _value in node.value:
            if not isinstance(key_node, ScalarNode) or key_node.tag != STR_TAG:
                scalar = isinstance(key_node, ScalarNode)
                shown = quoted(str(key_node.value)) if scalar else "a list or mapping"
                raise _Refused(f"keys are names; {shown} is not one", key_node.start_mark)
            key = str(key_node.value)
            if key in first:
                raise _Refused(
                    f"key {quoted(key)} is given twice (first on line {first[key]})", key_node.start_mark
                )
            first[key] = key_node.start_mark.line + 1
        mapping: dict[Any, Any] = super().construct_mapping(node, deep=deep)
        return mapping

    def construct_number(self, node: ScalarNode) -> Any:
        if len(str(node.value)) > MAX_NUMBER_DIGITS:
            raise _Refused(
                f"a number of {len(str(node.value))} characters is not a value p2v takes", node.start_mark
            )
        if node.tag.endswith(":int"):
            return self.construct_yaml_int(node)
        return self.construct_yaml_float(node)


_StrictLoader.add_constructor("tag:yaml.org,2002:int", _StrictLoader.construct_number)
_StrictLoader.add_constructor("tag:yaml.org,2002:float", _StrictLoader.construct_number)
# Dates stay text: answers hold none, and an impossible date such as
# 2024-13-45 would fail inside the constructor with a ValueError.
_StrictLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def _position(text: str, index: int) -> tuple[int, int]:
    line = text.count("\n", 0, index) + 1
    column = index - (text.rfind("\n", 0, index) + 1) + 1
    return line, column


_NOT_PRINTABLE = re.compile(r"[^\x09\x0A\x0D\x20-\x7E\x85\xA0-\uD7FF\uE000-\uFFFD\U00010000-\U0010FFFF]")


def parse_answers_yaml(text: str) -> Any:
    """The document in ``text``; raises :class:`AnswersSyntaxError`."""
    bad = _NOT_PRINTABLE.search(text)
    if bad:
        line, column = _position(text, bad.start())
        raise AnswersSyntaxError(
            f"the control character U+{ord(bad.group()):04X} is not allowed", line, column
        )
    loader = _StrictLoader(text)
    try:
        return loader.get_single_data()
    except _Refused as e:
        assert e.problem_mark is not None
        raise AnswersSyntaxError(str(e.problem), e.problem_mark.line + 1, e.problem_mark.column + 1) from None
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        problem = e.problem or e.context or "not valid YAML"
        if mark is None:
            raise AnswersSyntaxError(f"not valid YAML: {problem}") from None
        raise AnswersSyntaxError(f"not valid YAML: {problem}", mark.line + 1, mark.column + 1) from None
    except yaml.YAMLError as e:
        raise AnswersSyntaxError(f"not valid YAML: {e}") from None
    finally:
        loader.dispose()
