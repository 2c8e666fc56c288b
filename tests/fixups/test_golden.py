"""Golden files: real configuration files in, expected files out.

For each case in cases.py, golden/<case>/in holds the source's files (and
``.links``), golden/<case>/out the whole tree after the fixups plus
``commands.txt``, ``notes.txt`` and ``edits.txt``. ``P2V_UPDATE_GOLDEN=1``
rewrites out/ (review the diff by eye before committing it).
"""

from __future__ import annotations

import difflib
import os
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from p2v_tui.model.config_paths import CONFIG_GLOBS, DEVICE_LINK_GLOBS, LINK_GLOBS
from p2v_tui.model.fixups import plan_fixups
from p2v_tui.model.fixups._workspace import glob_match

from .builders import GOLDEN, apply, meta_texts, read_expected, read_tree, write_tree
from .cases import CASES, Case

UPDATE = os.environ.get("P2V_UPDATE_GOLDEN") == "1"


def _diff(name: str, expected: str, actual: str) -> str:
    return "".join(
        difflib.unified_diff(
            expected.splitlines(True), actual.splitlines(True), f"expected/{name}", f"actual/{name}"
        )
    )


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_golden(case: Case) -> None:
    root = GOLDEN / case.name
    config = read_tree(root / "in")
    result = plan_fixups(case.machine(config), case.plan, case.facts, case.choices)
    after = apply(config, result)
    meta = meta_texts(result, after)
    if UPDATE:
        write_tree(root / "out", after, meta)
    files, expected_meta = read_expected(root / "out")
    problems = []
    for path in sorted(set(files) | set(after.files)):
        want, got = files.get(path), after.files.get(path)
        if want != got:
            problems.append(
                f"{path}: "
                + (
                    _diff(path, want, got)
                    if want is not None and got is not None
                    else f"expected {'absent' if want is None else 'present'}"
                )
            )
    for name in sorted(set(meta) | set(expected_meta)):
        if meta.get(name, "") != expected_meta.get(name, ""):
            problems.append(_diff(name, expected_meta.get(name, ""), meta.get(name, "")))
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_the_probe_snapshots_every_input(case: Case) -> None:
    """Every file and link the cases feed in is one config_paths names."""
    config = read_tree(GOLDEN / case.name / "in")
    for path in config.files:
        assert any(glob_match(g, path) for g in CONFIG_GLOBS), path
    for path in config.links:
        assert any(glob_match(g, path) for g in (*LINK_GLOBS, *DEVICE_LINK_GLOBS)), path


def test_netplan_output_is_yaml_netplan_reads() -> None:
    found = sorted(GOLDEN.glob("*/out/etc/netplan/*.yaml"))
    assert found
    for path in found:
        doc = yaml.safe_load(path.read_text())
        assert isinstance(doc, dict) and isinstance(doc["network"]["ethernets"], dict), path


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_fixed_tree_needs_no_more_fixing(case: Case) -> None:
    """Running the fixups on their own output changes nothing."""
    config = read_tree(GOLDEN / case.name / "in")
    first = plan_fixups(case.machine(config), case.plan, case.facts, case.choices)
    fixed = apply(config, first)
    second = plan_fixups(case.machine(fixed), case.plan, case.facts, case.choices)
    assert [(e.path, e.diff()) for e in second.edits] == []
    assert second.commands == first.commands


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_diffs_apply_with_patch(case: Case, tmp_path: Path) -> None:
    """Each edit's diff, fed to GNU patch -p1 in a copy of in/, gives out/."""
    patch = shutil.which("patch")
    if patch is None:
        pytest.skip("needs GNU patch (Debian package patch)")
    root = GOLDEN / case.name
    config = read_tree(root / "in")
    result = plan_fixups(case.machine(config), case.plan, case.facts, case.choices)
    tree = tmp_path / "tree"
    for path, text in config.files.items():
        target = tree / path.lstrip("/")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)
    tree.mkdir(exist_ok=True)
    for edit in result.edits:
        if edit.kind == "symlink":
            continue
        done = subprocess.run(
            [patch, "-p1", "--forward", "--batch", "--silent"],
            cwd=tree,
            input=edit.diff(),
            text=True,
            capture_output=True,
        )
        assert done.returncode == 0, f"{edit.path}: {done.stdout}{done.stderr}\n{edit.diff()}"
    files, _meta = read_expected(root / "out")
    for path, want in files.items():
        got = (tree / path.lstrip("/")).read_text()
        assert got == want, _diff(path, want, got)
