from __future__ import annotations

import pytest

from p2v_tui.tui.widgets.theme import (
    ASCII_GLYPHS,
    COLOR,
    COLOR_PALETTE,
    MONO,
    MONO_PALETTE,
    UTF8_GLYPHS,
    Glyphs,
    ascii_only,
    choose_theme,
    glyphs_for,
    locale_encoding,
)


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({"TERM": "xterm-256color"}, COLOR),
        ({"TERM": "xterm"}, COLOR),
        ({"TERM": "linux"}, COLOR),
        ({"TERM": "vt100"}, COLOR),
        ({"TERM": "vt102"}, COLOR),
        ({"TERM": "vt220"}, COLOR),
        ({"TERM": "screen.xterm-256color"}, COLOR),
        ({"TERM": "tmux-256color"}, COLOR),
        ({"TERM": "dumb"}, MONO),
        ({"TERM": ""}, MONO),
        ({}, MONO),
        ({"TERM": "adm3a"}, MONO),
        ({"TERM": "xterm", "NO_COLOR": "1"}, MONO),
        ({"TERM": "linux", "NO_COLOR": "yes"}, MONO),
        ({"TERM": "xterm", "NO_COLOR": ""}, COLOR),
    ],
)
def test_choose_theme(env: dict[str, str], expected: object) -> None:
    assert choose_theme(env) is expected


@pytest.mark.parametrize(
    ("env", "encoding", "expected"),
    [
        ({"TERM": "xterm"}, "UTF-8", False),
        ({"TERM": "xterm"}, "utf8", False),
        ({"TERM": "linux"}, "UTF-8", False),
        ({"TERM": "linux"}, "ANSI_X3.4-1968", True),
        ({"TERM": "xterm"}, "ISO-8859-1", True),
        ({"TERM": "vt100"}, "UTF-8", True),
        ({"TERM": "vt102"}, "UTF-8", True),
        ({"TERM": "vt220"}, "UTF-8", True),
        ({"TERM": "dumb"}, "UTF-8", True),
        ({}, "UTF-8", True),
        ({"TERM": "xterm", "P2V_ASCII": "1"}, "UTF-8", True),
        ({"TERM": "xterm", "P2V_ASCII": "0"}, "UTF-8", False),
        # Without an explicit encoding the locale variables decide.
        ({"TERM": "xterm", "LANG": "C.UTF-8"}, None, False),
        ({"TERM": "xterm", "LANG": "en_US.UTF-8", "LC_ALL": "C"}, None, True),
        ({"TERM": "xterm", "LC_CTYPE": "de_DE.utf8@euro"}, None, False),
        ({"TERM": "xterm"}, None, True),
    ],
)
def test_ascii_only(env: dict[str, str], encoding: str | None, expected: bool) -> None:
    assert ascii_only(env, encoding) is expected


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({}, "ascii"),
        ({"LANG": "C"}, "ascii"),
        ({"LANG": "POSIX"}, "ascii"),
        ({"LANG": "en_GB.UTF-8"}, "utf-8"),
        ({"LANG": "en_GB.UTF-8", "LC_CTYPE": "fr_FR.ISO-8859-1"}, "iso-8859-1"),
        ({"LC_ALL": "C.UTF-8", "LC_CTYPE": "C"}, "utf-8"),
        ({"LC_ALL": "", "LANG": "C.utf8"}, "utf8"),
    ],
)
def test_locale_encoding(env: dict[str, str], expected: str) -> None:
    assert locale_encoding(env) == expected


def test_palettes_name_the_same_attributes() -> None:
    assert [e[0] for e in COLOR_PALETTE] == [e[0] for e in MONO_PALETTE]
    assert len({e[0] for e in COLOR_PALETTE}) == len(COLOR_PALETTE)


def test_mono_palette_uses_attributes_only() -> None:
    allowed = {"default", "bold", "standout", "underline"}
    for _name, fg, bg, mono in MONO_PALETTE:
        assert set(fg.split(",")) <= allowed
        assert bg == "default"
        assert set(filter(None, mono.split(","))) <= allowed


def test_color_palette_uses_colours_a_vt100_terminal_knows() -> None:
    basic = {"black", "dark red", "dark green", "brown", "dark blue", "dark magenta", "dark cyan",
             "light gray", "default"}  # fmt: skip
    for _name, _fg, bg, _mono in COLOR_PALETTE:
        assert bg in basic  # backgrounds: the eight SGR 40-47 colours only
    assert COLOR.colors == 16 and MONO.colors == 1


def test_ascii_glyphs_are_ascii_and_utf8_ones_are_not() -> None:
    for name in Glyphs.__dataclass_fields__:
        value = getattr(ASCII_GLYPHS, name)
        if isinstance(value, str):
            assert value.isascii(), name
            assert value, name
    assert not UTF8_GLYPHS.bar_fill.isascii()
    assert glyphs_for(True) is ASCII_GLYPHS
    assert glyphs_for(False) is UTF8_GLYPHS
