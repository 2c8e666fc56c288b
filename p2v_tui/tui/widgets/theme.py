"""Colours and glyphs, chosen once from the environment.

The wizard runs on a local VGA console, on a serial console with a VT100-ish
terminal and inside ``gnt-instance console``: colours may be absent and the
line may not carry UTF-8. Choosing is a pure function of the environment so
the composition root decides once and tests need no terminal.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

PaletteEntry = tuple[str, str, str, str]
"""urwid palette entry: (name, foreground, background, mono attributes)."""

ThemeName = Literal["color", "mono"]

# Only the eight basic ANSI colours (plus "bold" for emphasis) so the palette
# reads the same on a VT100-compatible serial terminal and the Linux console.
# Each entry also carries its monochrome attributes: urwid uses them when the
# screen is set to one colour.
COLOR_PALETTE: tuple[PaletteEntry, ...] = (
    ("body", "default", "default", ""),
    ("header", "white", "dark blue", "standout"),
    ("step.current", "yellow,bold", "dark blue", "standout,bold"),
    ("step.done", "light green", "dark blue", "standout"),
    ("step.todo", "light gray", "dark blue", "standout"),
    ("title", "white,bold", "default", "bold"),
    ("footer", "black", "light gray", "standout"),
    ("key", "dark blue,bold", "light gray", "standout,bold"),
    ("status", "light cyan", "default", ""),
    ("error", "light red,bold", "default", "bold"),
    ("button", "default", "default", ""),
    ("button.focus", "white,bold", "dark blue", "standout"),
    ("button.disabled", "dark gray", "default", ""),
    ("reason", "yellow", "default", "bold"),
    ("label", "default", "default", ""),
    ("field", "black", "light gray", "underline"),
    ("field.focus", "white,bold", "dark blue", "standout"),
    ("field.error", "light red", "default", "bold"),
    ("bar.fs", "light cyan", "default", ""),
    ("bar.fs2", "light blue", "default", ""),
    ("bar.swap", "light magenta", "default", ""),
    ("bar.other", "brown", "default", ""),
    ("bar.free", "dark gray", "default", ""),
    ("bar.over", "light red,bold", "default", "bold"),
    ("diff.add", "light green", "default", "bold"),
    ("diff.del", "light red", "default", "standout"),
    ("diff.hunk", "light cyan", "default", "underline"),
    ("diff.meta", "white,bold", "default", "bold"),
    ("progress.done", "white", "dark blue", "standout"),
    ("progress.todo", "default", "default", ""),
    ("check.running", "yellow,bold", "default", "bold"),
    ("check.done", "light green", "default", ""),
    ("check.failed", "light red,bold", "default", "bold,standout"),
    ("check.skipped", "dark gray", "default", ""),
    ("log.debug", "dark gray", "default", ""),
    ("log.info", "default", "default", ""),
    ("log.warning", "yellow", "default", "bold"),
    ("log.error", "light red,bold", "default", "standout"),
    ("dialog", "black", "light gray", ""),
    ("dialog.danger", "white,bold", "dark red", "standout"),
)


def _mono(entries: tuple[PaletteEntry, ...]) -> tuple[PaletteEntry, ...]:
    """The same names drawn with attributes only, for terminals (or people,
    NO_COLOR) that want no colour: bold, underline and reverse video."""
    out = []
    for name, _fg, _bg, mono in entries:
        fg = mono or "default"
        out.append((name, fg, "default", mono))
    return tuple(out)


MONO_PALETTE: tuple[PaletteEntry, ...] = _mono(COLOR_PALETTE)


@dataclass(frozen=True)
class Theme:
    name: ThemeName
    colors: int
    """What to pass to ``screen.set_terminal_properties(colors=...)``."""
    palette: tuple[PaletteEntry, ...]


COLOR = Theme("color", 16, COLOR_PALETTE)
MONO = Theme("mono", 1, MONO_PALETTE)

_MONO_TERMS = ("dumb", "unknown", "")
_COLOR_PREFIXES = ("xterm", "screen", "tmux", "rxvt", "linux", "vt100", "vt102", "vt220", "putty", "konsole")


def choose_theme(env: Mapping[str, str]) -> Theme:
    """Colour unless the person asked for none (``NO_COLOR``, any non-empty
    value, see no-color.org) or the terminal cannot do it (``dumb``, unset).

    VT100-family names get the colour palette on purpose: serial terminal
    emulators that announce ``vt100``/``vt102``/``vt220`` understand the
    basic ANSI colours, and a real monochrome one ignores them while the
    mono attributes each entry carries still tell the parts apart.
    """
    if env.get("NO_COLOR", ""):
        return MONO
    term = env.get("TERM", "").lower()
    if term in _MONO_TERMS:
        return MONO
    if term.startswith(_COLOR_PREFIXES) or "color" in term:
        return COLOR
    return MONO


_UTF8_NAMES = ("utf-8", "utf8")
_ASCII_TERMS = ("dumb", "vt52", "vt100", "vt102", "vt220", "unknown", "")


def locale_encoding(env: Mapping[str, str]) -> str:
    """The character set the locale variables name (LC_ALL over LC_CTYPE
    over LANG, as setlocale reads them); ``ascii`` for C/POSIX/unset."""
    for var in ("LC_ALL", "LC_CTYPE", "LANG"):
        value = env.get(var, "")
        if value:
            if "." in value:
                return value.split(".", 1)[1].split("@", 1)[0].lower()
            return "ascii"
    return "ascii"


def ascii_only(env: Mapping[str, str], encoding: str | None = None) -> bool:
    """True when box-drawing and block characters would come out as garbage.

    ``encoding`` is what Python's locale says (``locale.getpreferredencoding``);
    None reads the locale variables from ``env``. Without UTF-8 there is no
    choice. With UTF-8, VT100-family and dumb terminals still cannot draw the
    glyphs (a serial line to a real terminal); ``P2V_ASCII=1`` forces it.
    """
    if env.get("P2V_ASCII", "") not in ("", "0"):
        return True
    enc = (encoding if encoding is not None else locale_encoding(env)).lower()
    if enc not in _UTF8_NAMES:
        return True
    return env.get("TERM", "").lower() in _ASCII_TERMS


@dataclass(frozen=True)
class Glyphs:
    """Every non-letter character the widgets draw, so ASCII mode is one
    switch and no widget hard-codes a Unicode character."""

    ascii: bool
    bar_fill: str
    bar_fill_alt: str
    bar_swap: str
    bar_other: str
    bar_empty: str
    progress_done: str
    progress_todo: str
    hline: str
    vline: str
    tl: str
    tr: str
    bl: str
    br: str
    check: str
    cross: str
    arrow: str
    pending: str
    skipped: str
    ellipsis: str


UTF8_GLYPHS = Glyphs(
    ascii=False,
    bar_fill="█",
    bar_fill_alt="▓",
    bar_swap="▒",
    bar_other="▚",
    bar_empty="░",
    progress_done="█",
    progress_todo="░",
    hline="─",
    vline="│",
    tl="┌",
    tr="┐",
    bl="└",
    br="┘",
    check="✓",
    cross="✗",
    arrow="▶",
    pending="·",
    skipped="\u2013",  # en dash
    ellipsis="…",
)

ASCII_GLYPHS = Glyphs(
    ascii=True,
    bar_fill="#",
    bar_fill_alt="=",
    bar_swap="%",
    bar_other="+",
    bar_empty=".",
    progress_done="#",
    progress_todo=".",
    hline="-",
    vline="|",
    tl="+",
    tr="+",
    bl="+",
    br="+",
    check="+",
    cross="!",
    arrow=">",
    pending=".",
    skipped="-",
    ellipsis="...",
)


def glyphs_for(ascii: bool) -> Glyphs:
    return ASCII_GLYPHS if ascii else UTF8_GLYPHS
