"""Line-level text surgery shared by the fixups.

Conventions every fixup follows (so that a reader of the migrated system
recognises p2v's hand):

- A line p2v rewrites in a file that allows comments is preceded by
  ``# p2v: was: <the original line>`` -- once, even when several fixups
  rewrite the same line in turn.
- A line p2v disables is commented out in place as
  ``# p2v: <why>: <the original line>``.
- Lines p2v adds are preceded by one ``# p2v: <why>`` comment.
- Everything else (comments, blank lines, spacing, order) stays as it was.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

MARK = "# p2v: "
WAS = MARK + "was: "


def lines_of(text: str) -> list[str]:
    """Lines with their endings; a missing final newline is kept missing."""
    return text.splitlines(keepends=True)


def ending(line: str) -> str:
    return line[len(line.rstrip("\r\n")) :]


def body(line: str) -> str:
    return line.rstrip("\r\n")


def indent_of(line: str) -> str:
    return line[: len(line) - len(line.lstrip(" \t"))]


def was_comment(line: str) -> str:
    return f"{indent_of(line)}{WAS}{line.strip()}\n"


def rewrite_line(lines: list[str], index: int, new: str) -> int:
    """Replace ``lines[index]`` by ``new`` (same ending) with a ``was:``
    comment above it unless one is there already; returns the new index of
    the line."""
    old = lines[index]
    if body(old) == body(new):
        return index
    lines[index] = body(new) + (ending(old) or "")
    if index > 0 and lines[index - 1].lstrip().startswith(WAS):
        return index
    lines.insert(index, was_comment(old))
    return index + 1


def disabled(line: str, why: str) -> str:
    """The line commented out, saying why."""
    return f"{indent_of(line)}{MARK}{why}: {line.strip()}{ending(line) or ''}"


def ensure_newline(text: str) -> str:
    return text if not text or text.endswith("\n") else text + "\n"


def append_block(text: str | None, block: list[str]) -> str:
    """``block`` (lines with newlines) added at the end of ``text``."""
    base = ensure_newline(text or "")
    return base + "".join(block)


_FIELD = re.compile(r"\S+")


def fields_with_spans(line: str) -> list[tuple[int, int, str]]:
    return [(m.start(), m.end(), m.group()) for m in _FIELD.finditer(body(line))]


def replace_field(line: str, index: int, new: str) -> str:
    """Field ``index`` of a whitespace-separated line replaced by ``new``.

    In a table aligned with spaces (the separator after the field was more
    than one space) the columns after it stay where they were when there is
    room; a single space or a tab separator is kept as it is."""
    spans = fields_with_spans(line)
    start, end, _old = spans[index]
    text = body(line)
    if index + 1 < len(spans):
        next_start = spans[index + 1][0]
        sep = text[end:next_start]
        if len(sep) > 1 and set(sep) == {" "}:
            pad = max(1, next_start - (start + len(new)))
            sep = " " * pad
        return text[:start] + new + sep + text[next_start:] + ending(line)
    return text[:start] + new + text[end:] + ending(line)


# ---------------------------------------------------------------- shell files

_ASSIGN = re.compile(r"^(?P<lead>\s*(?:export\s+)?)(?P<name>[A-Za-z_][A-Za-z0-9_]*)=(?P<rest>.*)$")
_NEEDS_QUOTES = re.compile(r"[\s\"'`$\\;&|<>()#*?]")


@dataclass(frozen=True)
class Assignment:
    """``NAME=value`` on one line of a shell-sourced file (``/etc/default/grub``,
    ``ifcfg-*``, initramfs ``conf.d``)."""

    index: int
    name: str
    value: str
    """The value without its quotes."""
    quote: str
    """``"``, ``'`` or empty."""
    head: str
    """Text before the value's opening quote."""
    tail: str
    """Text after the value's closing quote (a comment), without the newline."""


def parse_assignment(line: str, index: int = 0) -> Assignment | None:
    m = _ASSIGN.match(body(line))
    if not m:
        return None
    rest = m.group("rest")
    head = m.group("lead") + m.group("name") + "="
    if rest[:1] in ('"', "'"):
        quote = rest[0]
        i = 1
        while i < len(rest):
            if rest[i] == "\\" and quote == '"':
                i += 2
                continue
            if rest[i] == quote:
                break
            i += 1
        return Assignment(index, m.group("name"), rest[1:i], quote, head, rest[i + 1 :])
    cut = re.search(r"\s", rest)
    value = rest[: cut.start()] if cut else rest
    return Assignment(index, m.group("name"), value, "", head, rest[len(value) :])


def assignments(lines: list[str], name: str) -> list[Assignment]:
    found = []
    for i, line in enumerate(lines):
        a = parse_assignment(line, i)
        if a is not None and a.name == name:
            found.append(a)
    return found


def render(a: Assignment, value: str, line: str) -> str:
    quote = a.quote or ('"' if _NEEDS_QUOTES.search(value) else "")
    return f"{a.head}{quote}{value}{quote}{a.tail}{ending(line) or ''}"


def quoted(value: str, quote: str = '"') -> str:
    if not quote and _NEEDS_QUOTES.search(value):
        quote = '"'
    return f"{quote}{value}{quote}"


def set_var(
    lines: list[str], name: str, value: str, *, quote: str = '"', comment: str | None = None, was: bool = True
) -> list[str]:
    """``NAME=value``: the last assignment rewritten, or a new line after a
    commented-out example (``#NAME=...``), or at the end of the file."""
    out = list(lines)
    found = assignments(out, name)
    if found:
        a = found[-1]
        new = render(a, value, out[a.index])
        if was:
            rewrite_line(out, a.index, new)
        else:
            out[a.index] = new
        return out
    new_line = f"{name}={quoted(value, quote)}\n"
    block = ([f"{MARK}{comment}\n"] if comment else []) + [new_line]
    example = re.compile(rf"^\s*#\s*{re.escape(name)}=")
    for i in range(len(out) - 1, -1, -1):
        if example.match(out[i]):
            out[i] = ensure_newline(out[i])
            out[i + 1 : i + 1] = block
            return out
    if out:
        out[-1] = ensure_newline(out[-1])
    return out + block


def comment_out_var(lines: list[str], name: str, why: str) -> tuple[list[str], list[str]]:
    """Every assignment of ``name`` commented out; returns the new lines and
    the original lines that were disabled."""
    out = list(lines)
    gone = []
    for a in assignments(out, name):
        gone.append(out[a.index].strip())
        out[a.index] = disabled(out[a.index], why)
    return out, gone
