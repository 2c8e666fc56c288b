"""The bootstrap image's module pruner (osdef/bootstrap_modules.py) on
metadata recorded from Debian bookworm's 6.1.0-56-amd64 kernel: what is kept
must load, with every hard and soft dependency; what is not wanted goes."""

from __future__ import annotations

import importlib.util
import lzma
import sys
from pathlib import Path
from types import ModuleType

import pytest

REPO = Path(__file__).resolve().parents[2]


def _load() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "bootstrap_modules", REPO / "osdef" / "bootstrap_modules.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["bootstrap_modules"] = module
    spec.loader.exec_module(module)
    return module


bm = _load()

# recorded from /lib/modules/6.1.0-56-amd64 (modules.dep, .alias, .softdep)
MODULES_DEP = """\
kernel/arch/x86/crypto/crc32c-intel.ko:
kernel/fs/mbcache.ko:
kernel/fs/ext4/ext4.ko: kernel/lib/crc16.ko kernel/fs/mbcache.ko kernel/fs/jbd2/jbd2.ko
kernel/fs/jbd2/jbd2.ko:
kernel/fs/btrfs/btrfs.ko: kernel/crypto/xor.ko kernel/lib/raid6/raid6_pq.ko \
kernel/lib/zstd/zstd_compress.ko kernel/lib/libcrc32c.ko
kernel/crypto/xor.ko:
kernel/lib/raid6/raid6_pq.ko:
kernel/lib/zstd/zstd_compress.ko:
kernel/lib/libcrc32c.ko:
kernel/lib/crc16.ko:
kernel/crypto/crc32c_generic.ko:
kernel/crypto/xxhash_generic.ko:
kernel/crypto/blake2b_generic.ko:
kernel/drivers/md/dm-mod.ko:
kernel/drivers/md/dm-snapshot.ko: kernel/drivers/md/dm-bufio.ko kernel/drivers/md/dm-mod.ko
kernel/drivers/md/dm-bufio.ko:
kernel/drivers/gpu/drm/bochs/bochs.ko: kernel/drivers/gpu/drm/drm.ko
kernel/drivers/gpu/drm/drm.ko:
kernel/sound/core/snd.ko:
"""
MODULES_ALIAS = """\
alias crypto-crc32c crc32c_intel
alias crc32c crc32c_intel
alias crypto-crc32c crc32c_generic
alias crc32c crc32c_generic
alias crypto-xxhash64 xxhash_generic
alias xxhash64 xxhash_generic
alias crypto-blake2b-256 blake2b_generic
alias blake2b-256 blake2b_generic
alias pci:v00001234d00001111sv*sd*bc03sc00i00* bochs
"""
MODULES_SOFTDEP = """\
# Soft dependencies extracted from modules themselves.
softdep ext4 pre: crypto-crc32c
softdep btrfs pre: blake2b-256
softdep btrfs pre: sha256
softdep btrfs pre: xxhash64
softdep btrfs pre: crypto-crc32c
"""
INDEX = bm.parse_index(MODULES_DEP, MODULES_SOFTDEP, MODULES_ALIAS)


@pytest.mark.parametrize(
    ("wanted", "kept"),
    [
        # hard dependencies from modules.dep, soft ones through aliases
        (("ext4",), {"ext4", "crc16", "mbcache", "jbd2", "crc32c_intel", "crc32c_generic"}),
        (
            ("btrfs",),
            {
                "btrfs",
                "xor",
                "raid6_pq",
                "zstd_compress",
                "libcrc32c",
                "blake2b_generic",
                "xxhash_generic",
                "crc32c_intel",
                "crc32c_generic",
            },
        ),
        # patterns; '-' and '_' are the same to kmod
        (("dm-*",), {"dm_mod", "dm_snapshot", "dm_bufio"}),
        (("dm_snapshot",), {"dm_snapshot", "dm_bufio", "dm_mod"}),
        # a built-in or unknown name keeps nothing
        (("sha256", "nosuchmodule"), set()),
    ],
)
def test_select_closes_over_hard_and_soft_dependencies(wanted: tuple[str, ...], kept: set[str]) -> None:
    assert bm.select(INDEX, wanted) == kept


def test_wanted_list_keeps_no_graphics_or_sound() -> None:
    kept = bm.select(INDEX, bm.WANTED)
    assert {"ext4", "btrfs", "dm_mod", "dm_snapshot"} <= kept
    assert not {"bochs", "drm", "snd"} & kept


def test_resolve_prefers_the_module_then_aliases() -> None:
    assert bm.resolve(INDEX, "ext4") == ("ext4",)
    assert set(bm.resolve(INDEX, "crypto-crc32c")) == {"crc32c_intel", "crc32c_generic"}
    assert bm.resolve(INDEX, "sha256") == ()


def test_prune_deletes_unwanted_and_compresses_kept(tmp_path: Path) -> None:
    root = tmp_path / "6.1.0-test"
    for line in MODULES_DEP.splitlines():
        path = root / line.split(":")[0]
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"\x7fELF module " + path.name.encode() * 50)
    keep = bm.select(INDEX, ("ext4",))
    files, size = bm.prune(root, keep, compress=True)
    left = sorted(str(p.relative_to(root)) for p in root.rglob("*.ko*"))
    assert left == [
        "kernel/arch/x86/crypto/crc32c-intel.ko.xz",
        "kernel/crypto/crc32c_generic.ko.xz",
        "kernel/fs/ext4/ext4.ko.xz",
        "kernel/fs/jbd2/jbd2.ko.xz",
        "kernel/fs/mbcache.ko.xz",
        "kernel/lib/crc16.ko.xz",
    ]
    assert files == 6 and size == sum(p.stat().st_size for p in root.rglob("*.ko.xz"))
    ext4 = lzma.decompress((root / "kernel/fs/ext4/ext4.ko.xz").read_bytes())
    assert ext4.startswith(b"\x7fELF module ext4.ko")
    # emptied directories go too
    assert not (root / "kernel/drivers").exists() and not (root / "kernel/sound").exists()
