"""Every examples/answers/*.yaml runs: the example's choices against a lab
source machine and target (the example's target address, key, host key and
disk names are replaced by the lab's; nothing else). The lab's source has
no kernel and no GRUB: an example that boots the instance's own disk is
first refused before anything is written, then runs with the cluster's
kernel."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from p2v_tui.model.units import GiB
from tests.integration.harness import (
    changed_files,
    check_diffs_match_target,
    check_fstab_resolves,
    check_partition_table,
    check_trees_equal,
    image_hash,
    migration_target,
    run_p2v,
    sfdisk_dump,
    source_machine,
    target_tree,
)
from tests.lab.disks import require

pytestmark = [pytest.mark.root, pytest.mark.slow]

EXAMPLES = sorted((Path(__file__).resolve().parents[2] / "examples" / "answers").glob("*.yaml"))
BY_RAPI = pytest.mark.skip(
    reason="it creates its instance through RAPI: it needs a Ganeti cluster, not this lab target"
)


def _example(path: Path) -> Any:
    """An example; one with a cluster section needs a cluster, not this lab target."""
    cluster = "cluster" in yaml.safe_load(path.read_text())
    return pytest.param(path, id=path.stem, marks=[BY_RAPI] if cluster else [])


@pytest.mark.parametrize("example", [_example(e) for e in EXAMPLES])
def test_example_answers_file_migrates(example: Path, tmp_path: Path) -> None:
    require("rsync", "sshd", "mkfs.xfs", "mkfs.btrfs", "patch")
    doc: dict[str, Any] = yaml.safe_load(example.read_text())
    size = 24 * GiB  # sparse: room for the examples' real-world sizes
    with (
        source_machine("gpt-mixed", tmp_path, small_files=300) as source,
        migration_target(tmp_path, size, facts="instance" not in doc) as target,
    ):
        source_hash = image_hash(source.image)
        lab = target.answers(source)
        doc["target"] = {**doc["target"], **lab["target"]}
        doc["source"] = lab["source"]
        doc["after"] = "none"
        doc.pop("report", None)
        if "instance" in doc:
            doc["instance"]["disks"] = [{"index": 0, "path": target.device, "size": size}]
            doc["instance"]["root_path"] = target.device + "p1"
        if doc.get("boot", "own") == "own":
            refused = run_p2v(target, doc, tmp_path)
            assert refused.returncode == 1, refused.output
            assert "refused, nothing was written: the source has no GRUB 2" in refused.output
            assert "start=" not in sfdisk_dump(target.device)  # the target's disk is as it was
            doc["boot"] = "cluster"
        run = run_p2v(target, doc, tmp_path)
        assert run.returncode == 0, run.output

        plan = run.plan()
        check_partition_table(target.device, plan)
        changes = changed_files(run.report)
        excludes = doc.get("exclude", [])
        with target_tree(target.device, plan) as dst, source.mounted_readonly() as src:
            check_trees_equal(source, plan, dst, excludes=excludes, changed=list(changes))
            check_diffs_match_target(src, dst, changes, tmp_path)
            check_fstab_resolves(dst, plan)
            name = doc.get("hostname") or doc.get("instance", {}).get("name") or "web01"
            assert (dst["/"] / "etc/hostname").read_text().strip() == name.split(".")[0]
            if "network" in doc:
                interfaces = (dst["/"] / "etc/network/interfaces").read_text()
                assert doc["network"]["address"].split("/")[0] in interfaces
                assert doc["network"]["gateway"] in interfaces
        partitions = {p["mountpoint"]: p for d in plan["disks"] for p in d["partitions"]}
        if doc.get("boot") == "cluster":
            assert partitions["/"]["number"] == 1, "the cluster kernel's root_path is partition 1"
            assert not any(p["role"] == "bios_grub" for p in partitions.values())
        for request in doc.get("layout", {}).get("partitions", []):
            if request["mount"] != "swap":
                assert request["mount"] in partitions
                if "fs" in request:
                    assert partitions[request["mount"]]["fstype"] == request["fs"]
        assert image_hash(source.image) == source_hash
