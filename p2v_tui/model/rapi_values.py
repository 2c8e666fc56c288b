"""Checks for the values a Ganeti cluster's RAPI answers: each takes a
value of a decoded JSON document and returns it typed, made printable
and bounded, or raises :class:`MalformedRapiAnswer` with one line naming
the value and what it is instead. The parsers
of :mod:`p2v_tui.model.rapi` and :mod:`p2v_tui.model.rapi_cluster` are
built on them.
"""

from __future__ import annotations

import re

from .target_output import MalformedOutput, load_json
from .validate import printable

NAME_MAX = 255
"""Characters of a name (instance, node, group, OS) from the cluster."""

MESSAGE_MAX = 4000
"""Characters of a message from the cluster kept (an OS script's log tail
is 20 lines); the rest is cut and its length said."""

ITEMS_MAX = 10_000
"""Entries of one list (nodes, instances, log messages) accepted."""

MIB_MAX = 2**30
"""1 PiB in MiB: a larger size from the cluster is not a size."""

TOKEN = re.compile(r"[A-Za-z][A-Za-z0-9_.+-]{0,63}\Z")
"""A status, an error class, an ecode, a disk template: a word."""


class MalformedRapiAnswer(MalformedOutput):
    """The cluster's RAPI answered something Ganeti never sends."""


def parse_json(data: bytes) -> object:
    """The JSON document of an answer's body (UTF-8, bounded nesting, no
    NaN, no duplicate keys)."""
    try:
        return load_json(data)
    except MalformedOutput as e:
        raise MalformedRapiAnswer(str(e)) from None


# -- single values ---------------------------------------------------------------


def kind(value: object) -> str:
    names = {dict: "an object", list: "a list", str: "a string", bool: "a boolean", type(None): "null"}
    return names.get(type(value), "a number")


def clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else f"{text[:limit]}... ({len(text)} characters)"


def as_object(value: object, what: str) -> dict[str, object]:
    if not isinstance(value, dict):
        raise MalformedRapiAnswer(f"{what} is {kind(value)}, not an object")
    return value


def as_list(value: object, what: str, limit: int = ITEMS_MAX) -> list[object]:
    if not isinstance(value, list):
        raise MalformedRapiAnswer(f"{what} is {kind(value)}, not a list")
    if len(value) > limit:
        raise MalformedRapiAnswer(f"{what} has {len(value)} entries (at most {limit})")
    return value


def as_name(value: object, what: str) -> str:
    """A name or identifier: a non-empty string of at most NAME_MAX characters."""
    if not isinstance(value, str) or not value:
        raise MalformedRapiAnswer(f"{what} is {kind(value) if value != '' else 'empty'}, not a name")
    if len(value) > NAME_MAX:
        raise MalformedRapiAnswer(f"{what} has {len(value)} characters (at most {NAME_MAX})")
    return printable(value)


def as_optional_name(value: object, what: str) -> str | None:
    """A name, or None for null and for "" (Ganeti's "not set")."""
    return None if value is None or value == "" else as_name(value, what)


def as_token(value: object, what: str) -> str:
    if not isinstance(value, str) or not TOKEN.match(value):
        raise MalformedRapiAnswer(f"{what} is {kind(value) if not isinstance(value, str) else 'not a word'}")
    return value


def as_message(value: object, limit: int = MESSAGE_MAX, *, lines: bool = True) -> str:
    """A message for a person: any text (another value as its repr), cut
    to ``limit`` characters; with ``lines`` it may have several."""
    text = value if isinstance(value, str) else repr(value)
    return printable(clip(text, limit), lines=lines)


def as_int(value: object, what: str, high: int = 2**53) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= high:
        raise MalformedRapiAnswer(f"{what} is {kind(value)}, not a count from 0 to {high}")
    return value


def as_optional_int(value: object, what: str, high: int = 2**53) -> int | None:
    return None if value is None else as_int(value, what, high)


def as_bool(value: object, what: str) -> bool:
    if not isinstance(value, bool):
        raise MalformedRapiAnswer(f"{what} is {kind(value)}, not true or false")
    return value


def as_names(value: object, what: str) -> tuple[str, ...]:
    return tuple(as_name(v, f"{what}[{i}]") for i, v in enumerate(as_list(value, what)))


def as_path(value: object, what: str) -> str:
    """A path on the nodes, or "" (a boot file not set)."""
    return "" if value == "" else as_name(value, what)
