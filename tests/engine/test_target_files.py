"""Writing fixups into the migrated tree: links resolve inside it, never in
the bootstrap OS; a re-run finds its own changes already made."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from p2v_tui.engine.target_files import EditError, TargetFiles
from p2v_tui.model.edits import FileEdit
from p2v_tui.system.simulated import SimulatedTarget


@pytest.fixture
def target(tmp_path: Path) -> SimulatedTarget:
    t = SimulatedTarget(tmp_path, {}, {})
    etc = tmp_path / "target/etc"
    etc.mkdir(parents=True)
    (tmp_path / "target/run/resolvconf").mkdir(parents=True)
    (tmp_path / "target/run/resolvconf/resolv.conf").write_text("nameserver 192.0.2.53\n")
    # absolute: on the bootstrap OS this would name its own /run
    os.symlink("/run/resolvconf/resolv.conf", etc / "resolv.conf")
    os.symlink("../run/missing/hosts.real", etc / "hosts")  # dangling
    (etc / "hostname").write_text("oldbox\n")
    return t


def edit(path: str, old: str | None, new: str) -> FileEdit:
    return FileEdit(path, old, new, "test", "test")


def test_absolute_links_resolve_inside_the_migrated_tree(target: SimulatedTarget, tmp_path: Path) -> None:
    files = TargetFiles(target)
    assert files.resolve("/etc/resolv.conf") == "/target/run/resolvconf/resolv.conf"
    change = edit("/etc/resolv.conf", "nameserver 192.0.2.53\n", "nameserver 198.51.100.53\n")
    assert files.apply(change) == "applied"
    assert (tmp_path / "target/etc/resolv.conf").is_symlink()
    assert (tmp_path / "target/run/resolvconf/resolv.conf").read_text() == "nameserver 198.51.100.53\n"


def test_a_dangling_link_is_replaced_itself(target: SimulatedTarget, tmp_path: Path) -> None:
    files = TargetFiles(target)
    assert files.resolve("/etc/hosts") == "/target/etc/hosts"
    assert files.apply(edit("/etc/hosts", None, "127.0.0.1 localhost\n")) == "applied"
    assert not (tmp_path / "target/etc/hosts").is_symlink()


def test_a_second_run_finds_the_change_made(target: SimulatedTarget) -> None:
    files = TargetFiles(target)
    change = edit("/etc/hostname", "oldbox\n", "web01\n")
    assert files.apply(change) == "applied"
    assert files.apply(change) == "already applied"


def test_a_file_that_is_neither_old_nor_new_is_not_touched(target: SimulatedTarget, tmp_path: Path) -> None:
    with pytest.raises(EditError, match="differs from the source snapshot"):
        TargetFiles(target).apply(edit("/etc/hostname", "something else\n", "web01\n"))
    assert (tmp_path / "target/etc/hostname").read_text() == "oldbox\n"


def test_link_loops_are_an_error(target: SimulatedTarget, tmp_path: Path) -> None:
    os.symlink("loop-b", tmp_path / "target/etc/loop-a")
    os.symlink("loop-a", tmp_path / "target/etc/loop-b")
    with pytest.raises(EditError, match="too many levels"):
        TargetFiles(target).resolve("/etc/loop-a")
