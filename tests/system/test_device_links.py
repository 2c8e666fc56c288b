from __future__ import annotations

import os
from pathlib import Path

from p2v_tui.model.machine import ConfigSnapshot
from p2v_tui.system.probe.config import live_device_links, with_device_links


def test_live_device_links_are_read_from_the_live_dev(tmp_path: Path) -> None:
    by_id = tmp_path / "dev/disk/by-id"
    by_id.mkdir(parents=True)
    os.symlink("../../sda1", by_id / "ata-ST380815AS_5QZ0ABCD-part1")
    (tmp_path / "dev/disk/by-path").mkdir()
    os.symlink("../../sda", tmp_path / "dev/disk/by-path/pci-0000:00:1f.2-ata-1")
    links = live_device_links(root=str(tmp_path))
    assert links == {
        "/dev/disk/by-id/ata-ST380815AS_5QZ0ABCD-part1": "../../sda1",
        "/dev/disk/by-path/pci-0000:00:1f.2-ata-1": "../../sda",
    }
    merged = with_device_links(ConfigSnapshot(files={"/etc/fstab": ""}, links={"/sbin/init": "x"}), links)
    assert merged.links["/sbin/init"] == "x" and len(merged.links) == 3 and "/etc/fstab" in merged.files
