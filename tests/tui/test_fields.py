from __future__ import annotations

import pytest
import urwid

from p2v_tui.model.units import GiB, MiB, TiB, parse_size
from p2v_tui.tui.widgets.fields import CheckboxList, PortField, RadioGroup, SizeField, TextField, size_text
from p2v_tui.tui.widgets.theme import ASCII_GLYPHS, UTF8_GLYPHS

from .render import is_ascii, press, render


def needs_host(text: str) -> str | None:
    return None if text.strip() else "the target's host name or address is needed"


def test_text_field_shows_its_error_only_once_edited() -> None:
    field = TextField("Host", glyphs=UTF8_GLYPHS, validate=needs_host)
    assert render(field) == ["Host".rjust(16) + " " * 64]
    assert field.error == "the target's host name or address is needed"
    press(field, "x", "backspace")
    lines = render(field)
    assert lines[1].strip() == "✗ the target's host name or address is needed"
    assert lines[1].index("✗") == 17  # under the text, not under the label
    press(field, *"192.0.2.10")
    assert field.text == "192.0.2.10"
    assert field.valid
    assert len(render(field)) == 1


def test_check_shows_the_error_of_an_untouched_field() -> None:
    field = TextField("Key file", glyphs=ASCII_GLYPHS, validate=needs_host)
    assert field.check() is not None
    lines = render(field)
    assert lines[1].strip().startswith("! ")
    assert is_ascii(lines)


def test_on_change_follows_typing() -> None:
    seen: list[str] = []
    field = TextField("Path", "/media", glyphs=UTF8_GLYPHS, on_change=lambda: seen.append(field.text))
    press(field, "/", "k")
    assert seen == ["/media/", "/media/k"]


def test_port_field_takes_digits_only() -> None:
    field = PortField("Port", glyphs=UTF8_GLYPHS)
    assert field.port == 22
    press(field, "backspace", "backspace", "x", "2", ":", "2", "2")
    assert field.text == "222"
    assert field.port == 222
    press(field, *"222")
    assert field.port is None
    assert "between 1 and 65535" in render(field)[1]
    press(field, *["backspace"] * 6)
    assert field.port is None
    assert "a port number is needed" in render(field)[1]


@pytest.mark.parametrize(
    ("typed", "size", "error"),
    [
        ("20G", 20 * GiB, None),
        ("512M", 512 * MiB, None),
        ("1.5T", 3 * TiB // 2, None),
        ("8 GiB", 8 * GiB, None),
        ("100m", None, "at least 256 MiB"),
        ("3T", None, "at most 2.00 TiB"),
        ("lots", None, "type a size such as 20G, 512M or 1.5T"),
        ("", None, "type a size such as 20G, 512M or 1.5T"),
    ],
)
def test_size_field(typed: str, size: int | None, error: str | None) -> None:
    field = SizeField("Size of /", 10 * GiB, glyphs=UTF8_GLYPHS, minimum=256 * MiB, maximum=2 * TiB)
    press(field, *["backspace"] * 5, *typed)
    assert field.text == typed
    assert field.size == size
    assert field.error == error
    if error:
        assert render(field)[1].strip() == f"✗ {error}"


def test_size_field_keeps_the_exact_initial_size_until_edited() -> None:
    exact = 19 * GiB + 123 * MiB + 4096
    field = SizeField("Size of /", exact, glyphs=UTF8_GLYPHS)
    assert field.text == "19.1G"
    assert field.size == exact
    press(field, "backspace", "G")  # the same text again: still exact
    assert field.size == exact
    press(field, "backspace", "backspace", "5", "G")
    assert field.text == "19.5G"
    assert field.size == parse_size("19.5G")


def test_size_field_extra_check() -> None:
    field = SizeField(
        "Swap",
        1 * GiB,
        glyphs=UTF8_GLYPHS,
        validate=lambda n: "more than the free space" if n > 4 * GiB else None,
    )
    press(field, "backspace", "backspace", "8", "G")
    assert field.error == "more than the free space"


@pytest.mark.parametrize(
    ("size", "text"),
    [
        (20 * GiB, "20G"),
        (512 * MiB, "512M"),
        (3 * TiB // 2, "1.5T"),
        (1536 * MiB, "1.5G"),
        (4096, "4K"),
        (100, "100"),
    ],
)
def test_size_text_reads_back(size: int, text: str) -> None:
    assert size_text(size) == text
    assert parse_size(text) == size


def test_checkbox_list() -> None:
    changes: list[list[str]] = []
    boxes = CheckboxList(
        [("/", "/  ext4  12.0 GiB used", True), ("/home", "/home  xfs  80.0 GiB used", False)],
        on_change=lambda: changes.append(boxes.selected),
    )
    lines = render(boxes)
    assert lines[0].startswith("[X] /  ext4") and lines[1].startswith("[ ] /home")
    press(boxes, " ", "down", " ")
    assert boxes.selected == ["/home"]
    assert changes == [[], ["/home"]]
    assert render(boxes)[1].startswith("[X] /home")
    boxes.set_checked("/", True)
    assert boxes.selected == ["/", "/home"]


def test_radio_group() -> None:
    changes: list[str] = []
    group = RadioGroup(
        [("own", "Own kernel (GRUB on the target disk)"), ("cluster", "Cluster kernel")],
        "own",
        on_change=lambda: changes.append(group.value),
    )
    assert render(group)[0].startswith("(X) Own kernel")
    press(group, "down", " ")
    assert group.value == "cluster"
    assert changes == ["cluster"]
    assert render(group)[1].startswith("(X) Cluster kernel")
    group.set_value("own")
    assert group.value == "own"


def test_fields_in_a_form_at_80x24() -> None:
    host = TextField("Host", glyphs=ASCII_GLYPHS, validate=needs_host)
    port = PortField("Port", glyphs=ASCII_GLYPHS)
    form = urwid.ListBox(urwid.SimpleFocusListWalker([host, port]))
    press(form, *"node1", "down", "backspace", "backspace", "2", "2", "2")
    lines = render(form)
    assert len(lines) == 24
    assert lines[0].strip() == "Host node1"
    assert lines[1].strip() == "Port 222"
    assert is_ascii(lines)


def test_arriving_in_a_field_from_a_list_puts_the_cursor_at_its_end() -> None:
    first = TextField("Hostname", "web01", glyphs=UTF8_GLYPHS)
    second = TextField("Gateway", "192.0.2.1", glyphs=UTF8_GLYPHS)
    box = urwid.ListBox(urwid.SimpleFocusListWalker([first, second]))
    press(box, "home", "down", "0")
    assert second.text == "192.0.2.10"
    press(box, "up", "s")
    assert first.text == "web01s"
