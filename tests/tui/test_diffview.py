from __future__ import annotations

import pytest

from p2v_tui.tui.widgets.diffview import DiffView, diff_attr
from p2v_tui.tui.widgets.theme import ASCII_GLYPHS, UTF8_GLYPHS

from .render import is_ascii, press, render

FSTAB_DIFF = (
    "--- a/etc/fstab\n"
    "+++ b/etc/fstab\n"
    "@@ -1,3 +1,3 @@\n"
    "-UUID=0a1b2c3d-0000-4000-8000-000000000001 / ext4 errors=remount-ro 0 1\n"
    "+UUID=5e6f7a8b-0000-4000-8000-000000000002 / ext4 errors=remount-ro 0 1\n"
    " /dev/sr0 /media/cdrom0 udf,iso9660 user,noauto 0 0\n"
)


def long_diff(n: int = 40) -> str:
    body = "".join(f" line {i}\n" for i in range(n))
    return f"--- a/etc/hosts\n+++ b/etc/hosts\n@@ -1,{n + 1} +1,{n + 1} @@\n{body}-old last\n+new last\n"


@pytest.mark.parametrize(
    ("line", "attr"),
    [
        ("--- a/etc/fstab", "diff.meta"),
        ("+++ b/etc/fstab", "diff.meta"),
        ("@@ -1,3 +1,3 @@", "diff.hunk"),
        ("+UUID=new / ext4", "diff.add"),
        ("-UUID=old / ext4", "diff.del"),
        (" unchanged", "body"),
        ("", "body"),
    ],
)
def test_diff_attr(line: str, attr: str) -> None:
    assert diff_attr(line) == attr


def test_title_and_markers_at_80x24() -> None:
    view = DiffView(FSTAB_DIFF, UTF8_GLYPHS, path="/etc/fstab", index=2, count=5)
    lines = render(view)
    assert len(lines) == 24
    assert lines[0].startswith(" /etc/fstab (2/5)")
    assert lines[0].rstrip().endswith("lines 1-6 of 6")
    assert lines[4].startswith("-UUID=0a1b2c3d") and lines[5].startswith("+UUID=5e6f7a8b")
    assert lines[7:] == [" " * 80] * 17


def test_colours_by_line_kind() -> None:
    view = DiffView(FSTAB_DIFF, UTF8_GLYPHS, path="/etc/fstab")
    rows = list(view.render((80, 24), focus=True).content())
    first_attr = [row[0][0] for row in rows]
    assert first_attr[1:7] == ["diff.meta", "diff.meta", "diff.hunk", "diff.del", "diff.add", "body"]


def test_scrolling_keys() -> None:
    view = DiffView(long_diff(), ASCII_GLYPHS, path="/etc/hosts")
    assert view.line_count == 45
    assert render(view)[0].rstrip().endswith("lines 1-23 of 45")
    press(view, "down", "down")
    lines = render(view)
    assert lines[0].rstrip().endswith("lines 3-25 of 45")
    assert lines[1].startswith("@@")
    press(view, "page down")
    assert render(view)[0].rstrip().endswith("lines 23-45 of 45")  # stops at the end
    press(view, "page up")
    assert render(view)[0].rstrip().endswith("lines 1-23 of 45")
    press(view, "end")
    lines = render(view)
    assert lines[-1].startswith("+new last")
    press(view, "home")
    assert render(view)[1].startswith("--- a/etc/hosts")
    assert press(view, "up", "tab") == ["tab"]  # unknown keys go to the screen
    assert view.top_line == 0


def test_long_lines_wrap_instead_of_hiding_the_end() -> None:
    diff = "@@ -1 +1 @@\n+" + "opt," * 30 + "END\n"
    lines = render(DiffView(diff, ASCII_GLYPHS, path="/etc/default/grub"))
    assert "END" in lines[3]


def test_long_path_is_cut_and_line_count_kept() -> None:
    path = "/etc/NetworkManager/system-connections/" + "x" * 80 + ".nmconnection"
    lines = render(DiffView(FSTAB_DIFF, ASCII_GLYPHS, path=path, index=1, count=9))
    assert lines[0].rstrip().endswith("lines 1-6 of 6")
    assert "..." in lines[0]
    assert is_ascii(lines)


def test_empty_diff() -> None:
    view = DiffView("", ASCII_GLYPHS, path="/etc/hostname")
    lines = render(view)
    assert lines[0].split() == ["/etc/hostname", "no", "changes"]
    assert lines[1].strip() == "(no changes)"
    assert view.line_count == 0
    assert press(view, "page down", "end", "home") == []
