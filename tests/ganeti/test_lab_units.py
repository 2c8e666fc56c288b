"""The lab's pure parts: names, paths, argv lists, losetup parsing, loop ownership."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.lab import ganeti, ganeti_ns
from tests.lab.ganeti_proc import Loop, lab_loops, parse_losetup

# Recorded on this machine: util-linux 2.38 pads the device number.
LOSETUP_JSON = """{
   "loopdevices": [
      {
         "name": "/dev/loop0",
         "back-maj:min": "     254:0  ",
         "back-ino": 2252915,
         "back-file": "/ganeti/file-storage/stray.img (deleted)"
      },{
         "name": "/dev/loop1",
         "back-maj:min": "     254:0  ",
         "back-ino": 2247205,
         "back-file": "/tmp/pytest-of-root/pytest-182/test_create0/disk0.img"
      }
   ]
}
"""


def test_parse_losetup_json() -> None:
    loops = parse_losetup(LOSETUP_JSON)
    assert loops["/dev/loop0"] == Loop(
        "/dev/loop0", "254:0", 2252915, "/ganeti/file-storage/stray.img (deleted)"
    )
    assert loops["/dev/loop1"].back_dev == "254:0"
    assert parse_losetup("") == {}


def test_lab_loops_are_new_lab_files_only(tmp_path: Path) -> None:
    scratch = tmp_path / "lab"
    scratch.mkdir()
    img = scratch / "disk.img"
    img.write_bytes(b"x")
    st = img.stat()
    dev = f"{os.major(st.st_dev)}:{os.minor(st.st_dev)}"
    live = Loop("/dev/loop5", dev, st.st_ino, "/whatever/disk.img")
    deleted = Loop("/dev/loop6", dev, 1, "/ganeti/file-storage/x.img (deleted)")
    inside = Loop("/dev/loop7", dev, 2, "/srv/ganeti/file-storage/y.img")
    foreign = Loop("/dev/loop8", dev, 3, "/tmp/other/disk0.img")
    other_fs = Loop("/dev/loop9", "0:99", st.st_ino, "/ganeti/file-storage/z.img")
    old = Loop("/dev/loop4", dev, 4, "/ganeti/file-storage/old.img")
    now = {lp.name: lp for lp in (live, deleted, inside, foreign, other_fs, old)}
    prefixes = ["/srv/ganeti/file-storage", "/ganeti/file-storage"]
    mine = lab_loops({old.name: old}, now, scratch, prefixes)
    assert sorted(lp.name for lp in mine) == ["/dev/loop5", "/dev/loop6", "/dev/loop7"]


@pytest.mark.parametrize(
    ("inside", "host"),
    [
        ("/var/lib/ganeti/config.data", "root/var-lib-ganeti/config.data"),
        ("/srv/ganeti/os/testos", "root/srv/ganeti/os/testos"),
        ("/run/ganeti/kvm-hypervisor", "root/run/ganeti/kvm-hypervisor"),
        ("/root/.ssh/id_rsa", "root/root-ssh/id_rsa"),
        ("/etc/ssh", "root/etc-ssh"),
    ],
)
def test_host_path_of_lab_paths(inside: str, host: str) -> None:
    layout = ganeti_ns.Layout(Path("/s"))
    assert layout.host_path(inside) == Path("/s") / host


def test_host_path_refuses_host_paths() -> None:
    with pytest.raises(ValueError, match="not inside"):
        ganeti_ns.Layout(Path("/s")).host_path("/etc/passwd")


@pytest.mark.parametrize("scratch", ["/srv/x", "/run/lab", "/root/lab", "/var/lib/ganeti"])
def test_scratch_must_stay_visible(scratch: str) -> None:
    with pytest.raises(ValueError, match="hidden"):
        ganeti_ns.check_scratch(Path(scratch))


def test_netns_names_carry_the_creator() -> None:
    name = ganeti_ns.netns_name("ab12cd", creator=4242)
    assert name == "p2vgnt-4242-ab12cd"
    assert ganeti_ns.netns_creator(name) == 4242
    assert ganeti_ns.netns_creator("p2v-c-ab12cd") is None  # the SSH test pairs are not ours


@pytest.mark.parametrize(
    ("shadow", "expected"),
    [
        (
            "root:!$y$j9T$abc:19000:0:99999:7:::\nbin:*:19000::::::\n",
            "root:*:19000:0:99999:7:::\nbin:*:19000::::::\n",
        ),
        ("root:!:20228:0:99999:7:::\n", "root:*:20228:0:99999:7:::\n"),
        ("root:*:20228:0:99999:7:::\n", None),
        ("root:$6$salt$hash:20228:0:99999:7:::\n", None),
    ],
)
def test_unlocked_root_shadow(shadow: str, expected: str | None) -> None:
    assert ganeti_ns.unlocked_root_shadow(shadow) == expected


def test_cluster_init_uses_tcg_file_storage_and_the_lab_bridge() -> None:
    argv = ganeti.cluster_init_argv()
    assert argv[:2] == ["gnt-cluster", "init"]
    assert argv[-1] == ganeti.CLUSTER_NAME
    hv = argv[argv.index("-H") + 1]
    assert "kvm_flag=disabled" in hv and "kvm_path=/usr/bin/qemu-system-x86_64" in hv
    assert "--enabled-disk-templates=file" in argv and f"--master-netdev={ganeti.BRIDGE}" in argv


def test_lab_processes_are_entered_in_every_namespace() -> None:
    argv = ganeti_ns.nsenter_argv(123, ["gnt-node", "list"], cwd="/tmp")
    assert argv[: argv.index("--")] == [
        "nsenter",
        "--target",
        "123",
        "--net",
        "--uts",
        "--mount",
        "--pid",
        "--wd=/tmp",
    ]
    init = ganeti_ns.init_argv("p2vgnt-1-aa", "node1.gntlab.test")
    assert "--pdeathsig" in init and "--kill-child=KILL" in init and "--mount-proc" in init
