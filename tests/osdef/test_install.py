"""osdef/install --local into a temporary root, and the scripts' shell quality."""

from __future__ import annotations

import shutil
import stat
import subprocess
from pathlib import Path

import pytest

from tests.osdef.harness import OS_DIR, OSDEF, SHELL_SCRIPTS

INSTALL = OSDEF / "install"
CONFIG = "etc/default/ganeti-instance-p2v-target"
CONFDIR = "etc/ganeti/instance-p2v-target"
EXECUTABLES = ("create", "import", "export", "rename", "verify", "instance-facts")
DATA = ("common.sh", "ganeti_api_version", "variants.list", "parameters.list")
IMAGES = (
    "p2v-bootstrap-rootfs.tar.zst",
    "p2v-bootstrap-vmlinuz",
    "p2v-bootstrap-initrd.img",
    "p2v-bootstrap.manifest",
)


def install(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(INSTALL), *args], capture_output=True, text=True, check=False)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def tree(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*")}


@pytest.fixture
def images(tmp_path: Path) -> Path:
    d = tmp_path / "out"
    d.mkdir()
    for name in IMAGES:
        (d / name).write_bytes(name.encode() * 100)
    return d


def test_local_install_layout_modes_and_images(tmp_path: Path, images: Path) -> None:
    root = tmp_path / "root"
    root.mkdir()
    result = install("--local", "--root", str(root), "--images", str(images))
    assert result.returncode == 0, result.stderr
    osdir = root / "srv/ganeti/os/p2v-target"
    assert sorted(p.name for p in osdir.iterdir()) == sorted(EXECUTABLES + DATA)
    for name in EXECUTABLES:
        assert mode(osdir / name) == 0o755, name
        assert (osdir / name).read_bytes() == (OS_DIR / name).read_bytes()
    for name in DATA:
        assert mode(osdir / name) == 0o644, name
    assert (osdir / "ganeti_api_version").read_text().split() == ["20", "15", "10"]
    assert (osdir / "variants.list").read_text().split() == ["default"]
    params = [line.split()[0] for line in (osdir / "parameters.list").read_text().splitlines()]
    assert params == ["ssh_key", "address", "gateway", "dns", "ssh_host_key"]
    assert (root / CONFIG).read_bytes() == (OSDEF / "defaults/ganeti-instance-p2v-target").read_bytes()
    assert mode(root / CONFIG) == 0o644
    assert (root / CONFDIR / "variants/default.conf").is_file()
    assert (root / CONFDIR / "hooks").is_dir()
    assert mode(root / CONFDIR / "hooks") == 0o755
    image_dir = root / "var/lib/ganeti-instance-p2v-target"
    for name in IMAGES:
        assert (image_dir / name).read_bytes() == (images / name).read_bytes()
        assert mode(image_dir / name) == 0o644


def test_second_install_keeps_admin_config(tmp_path: Path, images: Path) -> None:
    root = tmp_path / "root"
    root.mkdir()
    assert install("--local", "--root", str(root)).returncode == 0
    edited = 'IMAGE_DIR=/srv/p2v-images\nDNS_SERVERS="192.0.2.53"\n'
    (root / CONFIG).write_text(edited)
    (root / CONFDIR / "variants/default.conf").write_text("FILESYSTEM=ext3\n")
    (root / CONFDIR / "hooks/10-site").write_text("#!/bin/sh\n")
    (root / "srv/ganeti/os/p2v-target/create").write_text("stale\n")
    result = install("--local", "--root", str(root), "--images", str(images))
    assert result.returncode == 0, result.stderr
    assert "keeping the existing" in result.stderr
    assert (root / CONFIG).read_text() == edited
    assert (root / CONFDIR / "variants/default.conf").read_text() == "FILESYSTEM=ext3\n"
    assert (root / "srv/ganeti/os/p2v-target/create").read_bytes() == (OS_DIR / "create").read_bytes()
    # The images follow the admin's IMAGE_DIR.
    assert (root / "srv/p2v-images/p2v-bootstrap-rootfs.tar.zst").is_file()
    assert not (root / "var/lib/ganeti-instance-p2v-target").exists()

    result = install("--local", "--root", str(root), "--uninstall")
    assert result.returncode == 0, result.stderr
    assert not (root / "srv/ganeti/os/p2v-target").exists()
    assert not (root / "srv/p2v-images").exists()
    assert (root / CONFIG).read_text() == edited
    assert (root / CONFDIR / "variants/default.conf").read_text() == "FILESYSTEM=ext3\n"
    assert (root / CONFDIR / "hooks/10-site").is_file()


def test_uninstall_removes_an_unedited_install(tmp_path: Path, images: Path) -> None:
    root = tmp_path / "root"
    root.mkdir()
    before = tree(root)
    assert install("--local", "--root", str(root), "--images", str(images)).returncode == 0
    assert install("--local", "--root", str(root), "--uninstall").returncode == 0
    left = tree(root) - before
    assert left <= {
        "etc",
        "etc/default",
        "etc/ganeti",
        "srv",
        "srv/ganeti",
        "srv/ganeti/os",
        "var",
        "var/lib",
    }


def test_os_dir_and_usage(tmp_path: Path) -> None:
    root = tmp_path / "root"
    root.mkdir()
    assert install("--local", "--root", str(root), "--os-dir", "/usr/share/ganeti/os").returncode == 0
    assert (root / "usr/share/ganeti/os/p2v-target/create").is_file()
    help_text = install("--help")
    assert help_text.returncode == 0
    for option in ("--local", "--cluster", "--images", "--os-dir", "--root", "--uninstall"):
        assert option in help_text.stdout
    assert install().returncode != 0
    assert install("--cluster", "--root", str(root)).returncode != 0
    missing = install("--local", "--root", str(root), "--images", str(tmp_path / "nowhere"))
    assert missing.returncode != 0
    assert "make-bootstrap-image" in missing.stderr


def test_shell_scripts_are_shellcheck_clean() -> None:
    if shutil.which("shellcheck") is None:
        pytest.skip("needs shellcheck")
    scripts = [str(OS_DIR / s) for s in SHELL_SCRIPTS] + [str(INSTALL)]
    result = subprocess.run(
        ["shellcheck", "-x", *scripts], capture_output=True, text=True, check=False, cwd=OS_DIR
    )
    assert result.returncode == 0, result.stdout


def test_scripts_answer_help() -> None:
    for name in ("create", "import", "export", "rename", "verify"):
        result = subprocess.run([str(OS_DIR / name), "--help"], capture_output=True, text=True, check=False)
        assert result.returncode == 0, name
        assert "usage" in (result.stdout + result.stderr), name


def test_shipped_config_documents_the_real_defaults(tmp_path: Path) -> None:
    """Each commented ``#VAR=value`` in the shipped config is what common.sh uses when unset."""
    documented = {}
    for line in (OSDEF / "defaults/ganeti-instance-p2v-target").read_text().splitlines():
        if line.startswith("#") and "=" in line and " " not in line.split("=", 1)[0]:
            var, value = line[1:].split("=", 1)
            documented[var] = value.strip('"')
    assert set(documented) == {
        "IMAGE_DIR",
        "ROOTFS_IMAGE",
        "FILESYSTEM",
        "PARTITION_STYLE",
        "HOOKS_DIR",
        "NODE_AUTHORIZED_KEYS",
        "DNS_SERVERS",
    }
    names = " ".join(sorted(documented))
    probe = (
        f'. {OS_DIR / "common.sh"}; load_config; for v in {names}; do printf "%s=%s\\n" "$v" "${{!v}}"; done'
    )
    confdir = tmp_path / "conf"
    env = {
        "PATH": "/usr/sbin:/usr/bin:/sbin:/bin",
        "P2V_TARGET_CONFIG": str(tmp_path / "absent"),
        "P2V_TARGET_CONFDIR": str(confdir),
    }
    out = subprocess.run(["bash", "-c", probe], env=env, capture_output=True, text=True, check=True).stdout
    actual = dict(line.split("=", 1) for line in out.splitlines())
    expected = {
        k: v.replace("$IMAGE_DIR", actual["IMAGE_DIR"]).replace(
            "/etc/ganeti/instance-p2v-target", str(confdir)
        )
        for k, v in documented.items()
    }
    assert expected == actual
