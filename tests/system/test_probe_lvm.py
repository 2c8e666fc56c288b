"""LVM read-only activation: the lvchange command lines, the configuration
they pass (checked by the real lvmconfig where installed), and which LVs
are activated and deactivated, with a runner that plays device-mapper by
creating and removing the LVs' device nodes (the test host has no
device-mapper; tests/livecd/test_lvm_source.py activates a real VG)."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path

import pytest

from p2v_tui.model.machine import LogicalVolume, VolumeGroup
from p2v_tui.system.probe.lvm import (
    activate_argv,
    activated_readonly,
    already_active_writable,
    deactivate_argv,
    inactive_volumes,
    readonly_config,
)
from p2v_tui.system.runner import CommandResult


def group(name: str, pvs: Sequence[str], lvs: Sequence[str], dev: Path) -> VolumeGroup:
    return VolumeGroup(
        name=name,
        size=3 << 30,
        pvs=tuple(pvs),
        lvs=tuple(LogicalVolume(name, lv, 1 << 30, str(dev / name / lv)) for lv in lvs),
    )


def test_activation_is_read_only_and_limited_to_the_source_pvs(tmp_path: Path) -> None:
    vg0 = group("vg0", ["/dev/sda3"], ["root", "swap"], tmp_path)
    data = group("data-vg", ["/dev/sdb1", "/dev/sdc1"], ["srv"], tmp_path)
    argv = activate_argv([vg0, data], [*vg0.lvs, *data.lvs])
    assert argv[:3] == ["lvchange", "--activate", "y"]
    assert argv[argv.index("--devices") + 1] == "/dev/sda3,/dev/sdb1,/dev/sdc1"
    assert argv[-3:] == ["vg0/root", "vg0/swap", "data-vg/srv"]
    config = argv[argv.index("--config") + 1]
    assert config == readonly_config([vg0, data])
    assert "metadata_read_only = 1" in config
    assert 'read_only_volume_list = [ "vg0", "data-vg" ]' in config
    assert "--ignoremonitoring" in argv
    off = deactivate_argv([vg0, data], [*vg0.lvs, *data.lvs])
    assert off[:3] == ["lvchange", "--activate", "n"]
    assert off[-3:] == ["data-vg/srv", "vg0/swap", "vg0/root"]  # the reverse order
    assert off[off.index("--config") + 1] == config


@pytest.mark.parametrize(
    ("setting", "value"),
    [
        ("global/metadata_read_only", "metadata_read_only=1"),
        ("activation/read_only_volume_list", 'read_only_volume_list=["vg0","data-vg"]'),
        ("activation/monitoring", "monitoring=0"),
        ("backup/backup", "backup=0"),
        ("backup/archive", "archive=0"),
    ],
)
def test_lvm_reads_the_configuration_as_meant(tmp_path: Path, setting: str, value: str) -> None:
    if shutil.which("lvmconfig") is None:
        pytest.skip("needs lvmconfig (lvm2)")
    groups = [
        group("vg0", ["/dev/sda3"], ["root"], tmp_path),
        group("data-vg", ["/dev/sdb1"], ["srv"], tmp_path),
    ]
    proc = subprocess.run(
        ["lvmconfig", "--config", readonly_config(groups), setting],
        capture_output=True,
        text=True,
        env={**os.environ, "LVM_SUPPRESS_FD_WARNINGS": "1"},
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == value


class DeviceMapper:
    """Answers lvchange as LVM does: ``-ay`` makes the nodes of the named
    LVs, ``-an`` removes them; ``fail`` makes activation fail halfway."""

    def __init__(self, groups: Sequence[VolumeGroup], *, fail_after: int | None = None) -> None:
        self.paths = {f"{lv.vg}/{lv.name}": Path(lv.path) for vg in groups for lv in vg.lvs}
        self.fail_after = fail_after
        self.asked: list[list[str]] = []

    def run(
        self,
        argv: Sequence[str],
        *,
        check: bool = True,
        input: str | None = None,
        timeout: float | None = None,
        env: Mapping[str, str] | None = None,
    ) -> CommandResult:
        self.asked.append(list(argv))
        names = [a for a in argv if a in self.paths]
        if argv[2] == "y":
            for i, name in enumerate(names):
                if self.fail_after is not None and i >= self.fail_after:
                    return CommandResult(tuple(argv), 5, "", "device-mapper: reload ioctl failed")
                self.paths[name].parent.mkdir(parents=True, exist_ok=True)
                self.paths[name].write_text("")
        else:
            for name in names:
                self.paths[name].unlink(missing_ok=True)
        return CommandResult(tuple(argv), 0, "", "")


def active(dm: DeviceMapper) -> set[str]:
    return {name for name, path in dm.paths.items() if path.exists()}


def test_inactive_lvs_are_activated_for_the_block_and_deactivated_after(tmp_path: Path) -> None:
    vg0 = group("vg0", ["/dev/sda3"], ["root", "swap"], tmp_path)
    dm = DeviceMapper([vg0])
    with activated_readonly(dm, [vg0], wait=0) as activated:
        assert [lv.name for lv in activated] == ["root", "swap"]
        assert active(dm) == {"vg0/root", "vg0/swap"}
    assert active(dm) == set()
    assert [a[2] for a in dm.asked] == ["y", "n"]


def test_lvs_active_before_are_left_alone(tmp_path: Path) -> None:
    vg0 = group("vg0", ["/dev/sda3"], ["root", "swap"], tmp_path)
    dm = DeviceMapper([vg0])
    (tmp_path / "vg0").mkdir()
    (tmp_path / "vg0/root").write_text("")  # someone ran lvchange -ay vg0/root
    assert [lv.name for lv in inactive_volumes([vg0], os.path.exists)] == ["swap"]
    with activated_readonly(dm, [vg0], wait=0) as activated:
        assert [lv.name for lv in activated] == ["swap"]
        assert "vg0/root" not in dm.asked[0]
    assert active(dm) == {"vg0/root"}
    dm.paths["vg0/swap"].write_text("")
    with activated_readonly(dm, [vg0], wait=0) as activated:
        assert activated == ()
    assert len(dm.asked) == 2  # nothing asked when everything is active


def test_deactivated_also_when_the_probe_fails(tmp_path: Path) -> None:
    vg0 = group("vg0", ["/dev/sda3"], ["root", "swap"], tmp_path)
    dm = DeviceMapper([vg0])
    with pytest.raises(RuntimeError, match="probe broke"), activated_readonly(dm, [vg0], wait=0):
        raise RuntimeError("probe broke")
    assert active(dm) == set()


def test_half_failed_activation_is_undone(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    vg0 = group("vg0", ["/dev/sda3"], ["root", "swap"], tmp_path)
    dm = DeviceMapper([vg0], fail_after=1)
    with activated_readonly(dm, [vg0], wait=0):
        assert active(dm) == {"vg0/root"}
    assert active(dm) == set()
    assert "could not all be activated" in caplog.text
    assert f"{tmp_path}/vg0/swap did not appear" in caplog.text


def test_no_volume_groups_no_lvm_command(tmp_path: Path) -> None:
    dm = DeviceMapper([])
    with activated_readonly(dm, []) as activated:
        assert activated == ()
    assert dm.asked == []
    assert already_active_writable([group("vg0", ["/dev/sda3"], ["root"], tmp_path)]) == ()
