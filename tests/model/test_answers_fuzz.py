"""Property tests over the answers file: whatever the bytes, reading them
ends in Answers or in AnswersError lines, never in another exception; and
what is accepted is what it claims to be.

The documents are the shipped examples mutated at random key paths (values
of every YAML type, control characters, huge numbers, nesting, unknown and
missing keys), dumped as YAML, plus raw text and bytes.
"""

from __future__ import annotations

import ipaddress
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from p2v_tui.model.answers import Answers, answers_to_doc
from p2v_tui.model.answers_checks import MAX_BYTES, OPTIONAL_FIXUPS
from p2v_tui.model.validate import control_character, hostname_problem, parse_interface_address
from p2v_tui.system.answers_io import AnswersError, parse_answers

EXAMPLES = sorted((Path(__file__).parents[2] / "examples" / "answers").glob("*.yaml"))
DOCS = [yaml.safe_load(p.read_text()) for p in EXAMPLES]
FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])

nasty_text = st.one_of(
    st.text(max_size=40),
    st.sampled_from(
        [
            "", " ", "\n", "a\nb", "\x1b[2J", "\u202e", "..", "/../x", "/", "0", "-1", "1e999",
            "9" * 400, "nan", ".inf", "198.51.100.1\n up reboot", "web-", "SHA256:", "%", "100%",
            "0%", "500", "2G", "fit", "rest", "keep", "/dev/sda", "/etc", "ssh-rsa AAAA",
        ]
    ),
)  # fmt: skip
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**80), max_value=2**80),
    st.floats(allow_nan=True, allow_infinity=True),
    nasty_text,
)
values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)


def _paths(doc: Any, prefix: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    yield prefix
    if isinstance(doc, dict):
        for k, v in doc.items():
            yield from _paths(v, (*prefix, k))
    elif isinstance(doc, list):
        for i, v in enumerate(doc):
            yield from _paths(v, (*prefix, i))


def _set(doc: Any, path: tuple[Any, ...], value: Any) -> Any:
    if not path:
        return value
    head, rest = path[0], path[1:]
    if isinstance(doc, dict):
        return {**doc, head: _set(doc.get(head), rest, value)}
    if isinstance(doc, list):
        return [_set(v, rest, value) if i == head else v for i, v in enumerate(doc)]
    return doc


@st.composite
def mutated_documents(draw: st.DrawFn) -> Any:
    doc = draw(st.sampled_from(DOCS))
    for _ in range(draw(st.integers(1, 4))):
        paths = list(_paths(doc))
        # the whole document replaced now and then; mostly one value in it
        path = draw(st.sampled_from(paths[1:] if len(paths) > 1 and draw(st.integers(0, 9)) else paths))
        action = draw(st.sampled_from(["replace", "delete", "add"]))
        if action == "replace":
            doc = _set(doc, path, draw(values))
        elif action == "delete" and path:
            parent_path, key = path[:-1], path[-1]
            parent = doc
            for p in parent_path:
                parent = parent[p]
            if isinstance(parent, dict):
                doc = _set(doc, parent_path, {k: v for k, v in parent.items() if k != key})
        else:
            doc = _set(doc, (*path, draw(st.text(max_size=10))), draw(values)) if path else doc
    return doc


def _as_yaml(doc: Any) -> bytes:
    return yaml.safe_dump(doc, allow_unicode=True).encode("utf-8")


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for k, v in value.items():
            yield str(k)
            yield from _strings(v)
    elif isinstance(value, list | tuple | frozenset):
        for v in value:
            yield from _strings(v)


def _check_accepted(a: Answers) -> None:
    """What an accepted file holds is usable as what it claims to be."""
    doc = answers_to_doc(a)
    assert not [s for s in _strings(doc) if control_character(s)]
    t = a.target
    assert 1 <= t.port <= 65535 and type(t.port) is int
    assert math.isfinite(t.connect_timeout) and 0 < t.connect_timeout <= 3600
    if a.fixups.hostname is not None:
        assert hostname_problem(a.fixups.hostname) is None
    if a.fixups.static is not None:
        parse_interface_address(a.fixups.static.address)
        for server in a.fixups.static.dns:
            ipaddress.ip_address(server)
    assert a.fixups.disabled <= set(OPTIONAL_FIXUPS)
    assert a.bandwidth_limit is None or 1024 <= a.bandwidth_limit <= MAX_BYTES
    assert isinstance(a.layout.swap, str) or 0 < a.layout.swap <= MAX_BYTES
    for path in a.layout.exclude:
        assert ".." not in path.split("/")


def _read(data: bytes) -> None:
    try:
        answers = parse_answers(data, "fuzz.yaml")
    except AnswersError as e:
        assert e.errors and all(isinstance(line, str) and line for line in e.errors)
        assert all(len(line) < 1000 for line in e.errors), e.errors
        # what reaches the console is plain text: a hostile key or value is quoted
        assert not [line for line in e.errors if control_character(line)], e.errors
        return
    _check_accepted(answers)


@FUZZ
@given(mutated_documents())
def test_mutated_examples_are_accepted_or_refused_cleanly(doc: Any) -> None:
    _read(_as_yaml(doc))


@FUZZ
@given(st.text(max_size=400))
def test_any_text_is_accepted_or_refused_cleanly(text: str) -> None:
    _read(text.encode("utf-8", "surrogatepass"))


@FUZZ
@given(st.binary(max_size=400))
def test_any_bytes_are_refused_cleanly(data: bytes) -> None:
    _read(data)


@FUZZ
@given(st.sampled_from(DOCS), st.integers(0, 40), st.sampled_from(["[", "{a: ", "- "]))
def test_nesting_is_refused_cleanly(doc: Any, depth: int, opener: str) -> None:
    closer = {"[": "]", "{a: ": "}", "- ": ""}[opener]
    nested = opener * depth + "1" + closer * depth
    text = _as_yaml(doc).decode() + f"extra: {nested}\n" if opener != "- " else "- " * depth + "1\n"
    _read(text.encode())


def test_the_examples_are_accepted() -> None:
    for path in EXAMPLES:
        _check_accepted(parse_answers(path.read_bytes(), str(path)))
