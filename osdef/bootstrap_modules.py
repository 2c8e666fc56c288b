#!/usr/bin/python3
"""Prune a kernel's modules to what the p2v bootstrap OS loads.

The bootstrap OS runs from a tmpfs, so every module file kept costs RAM for
the instance's whole life: a Debian kernel ships ~400 MB of modules, the
bootstrap needs a few MB (virtio, the filesystems p2v creates, device-mapper
and md for LVM/RAID targets, loop). The kept set is closed over the kernel's
own dependency data - modules.dep (hard dependencies) and modules.softdep
(e.g. ext4 -> crc32c), with module aliases resolved through modules.alias
(``crc32c`` is provided by ``crc32c_generic`` and ``crc32c-intel``) - so
nothing a kept module needs is cut. Kept modules are xz-compressed (kmod
loads them; a third of the RAM) and the caller runs depmod afterwards.

Usage: bootstrap_modules.py MODULES_DIR [--list] [--no-compress]
Python 3 standard library only: runs on any build host.
"""

from __future__ import annotations

import argparse
import fnmatch
import lzma
import os
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

# Module names (fnmatch patterns, '-' and '_' equivalent) the bootstrap
# needs, by what it does with them.
WANTED: tuple[str, ...] = (
    # Ganeti KVM devices: paravirtual disks and NICs, virtio-scsi, console,
    # entropy, balloon; emulated disk and NIC types for other hv settings
    "virtio*",
    "virtio_*",
    "virtio-*",
    "sd_mod",
    "sr_mod",
    "ata_piix",
    "ahci",
    "e1000",
    "8139cp",
    "ne2k_pci",
    "pcnet32",
    "failover",
    "net_failover",
    # filesystems p2v creates and copies into (ext2/3 through ext4)
    "ext4",
    "xfs",
    "btrfs",
    "vfat",
    "fat",
    "nls_cp437",
    "nls_ascii",
    "nls_utf8",
    "nls_iso8859_1",
    # LVM (device-mapper) and software RAID (md) on the target
    "dm_*",
    "dm-*",
    "md_mod",
    "md-mod",
    "linear",
    "raid0",
    "raid1",
    "raid10",
    "raid456",
    # disk images, DHCP raw sockets, systemd's automounts, swap in RAM
    "loop",
    "af_packet",
    "autofs4",
    "zram",
    "zstd",
    # ACPI power button (gnt-instance shutdown)
    "button",
    # checksums the filesystems ask for by name at mount time
    "crc32c*",
    "crc32_generic",
    "crc32-pclmul",
    "crc32_pclmul",
    "crct10dif*",
    "libcrc32c",
    "xxhash_generic",
    "sha256*",
    "blake2b*",
)


def normalize(name: str) -> str:
    """kmod treats '-' and '_' in module names alike."""
    return name.replace("-", "_")


def module_name(path: str) -> str:
    """``kernel/fs/ext4/ext4.ko`` (or ``.ko.xz``) -> ``ext4``."""
    base = path.rsplit("/", 1)[-1]
    return normalize(base.split(".ko", 1)[0])


@dataclass(frozen=True)
class ModuleIndex:
    """The kernel's module metadata: path and hard dependencies by name,
    soft dependencies, and aliases (alias -> module names)."""

    paths: Mapping[str, str]
    deps: Mapping[str, tuple[str, ...]]
    softdeps: Mapping[str, tuple[str, ...]]
    aliases: Mapping[str, tuple[str, ...]]


def parse_index(modules_dep: str, modules_softdep: str, modules_alias: str) -> ModuleIndex:
    """Parse the text of depmod's modules.dep, modules.softdep, modules.alias."""
    paths: dict[str, str] = {}
    deps: dict[str, tuple[str, ...]] = {}
    for line in modules_dep.splitlines():
        if ":" not in line:
            continue
        path, _, rest = line.partition(":")
        name = module_name(path)
        paths[name] = path
        deps[name] = tuple(module_name(dep) for dep in rest.split())
    softdeps: dict[str, tuple[str, ...]] = {}
    for line in modules_softdep.splitlines():
        words = line.split()
        if len(words) < 2 or words[0] != "softdep":
            continue
        targets = tuple(normalize(w) for w in words[2:] if w not in ("pre:", "post:"))
        softdeps[normalize(words[1])] = softdeps.get(normalize(words[1]), ()) + targets
    aliases: dict[str, list[str]] = {}
    for line in modules_alias.splitlines():
        words = line.split()
        if len(words) == 3 and words[0] == "alias":
            aliases.setdefault(normalize(words[1]), []).append(normalize(words[2]))
    return ModuleIndex(paths, deps, softdeps, {k: tuple(v) for k, v in aliases.items()})


def resolve(index: ModuleIndex, name: str) -> tuple[str, ...]:
    """Module names a request for ``name`` may load: the module itself, or
    every module declaring that alias; () when built in or unknown."""
    name = normalize(name)
    if name in index.paths:
        return (name,)
    return tuple(m for m in index.aliases.get(name, ()) if m in index.paths)


def select(index: ModuleIndex, patterns: Iterable[str]) -> frozenset[str]:
    """Modules matching ``patterns`` and everything they depend on, hard or
    soft, transitively."""
    wanted = [normalize(p) for p in patterns]
    todo = [name for name in index.paths if any(fnmatch.fnmatchcase(name, p) for p in wanted)]
    kept: set[str] = set()
    while todo:
        name = todo.pop()
        if name in kept:
            continue
        kept.add(name)
        todo.extend(index.deps.get(name, ()))
        for soft in index.softdeps.get(name, ()):
            todo.extend(resolve(index, soft))
    return frozenset(kept)


def prune(modules_dir: Path, keep: frozenset[str], compress: bool) -> tuple[int, int]:
    """Delete module files not in ``keep`` (and emptied directories),
    xz-compress kept ones; returns (files kept, bytes kept)."""
    kept_files = 0
    kept_bytes = 0
    for found in sorted(modules_dir.rglob("*.ko*")):
        if not found.is_file():
            continue
        if module_name(found.name) not in keep:
            found.unlink()
            continue
        path = found
        if compress and found.name.endswith(".ko"):
            path = found.with_name(found.name + ".xz")
            # kmod's decompressor wants CRC32 checks, as the kernel's own
            # compressed modules carry
            path.write_bytes(lzma.compress(found.read_bytes(), check=lzma.CHECK_CRC32))
            os.utime(path, ns=(found.stat().st_atime_ns, found.stat().st_mtime_ns))
            found.unlink()
        kept_files += 1
        kept_bytes += path.stat().st_size
    for directory in sorted((d for d in modules_dir.rglob("*") if d.is_dir()), reverse=True):
        if not any(directory.iterdir()):
            directory.rmdir()
    return kept_files, kept_bytes


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("modules_dir", type=Path, help="/lib/modules/KVER of the image")
    parser.add_argument("--list", action="store_true", help="print the kept modules, change nothing")
    parser.add_argument("--no-compress", action="store_true", help="keep module files uncompressed")
    args = parser.parse_args(argv)
    directory: Path = args.modules_dir
    index = parse_index(
        (directory / "modules.dep").read_text(),
        (directory / "modules.softdep").read_text() if (directory / "modules.softdep").exists() else "",
        (directory / "modules.alias").read_text() if (directory / "modules.alias").exists() else "",
    )
    keep = select(index, WANTED)
    if args.list:
        for name in sorted(keep):
            print(index.paths[name])
        return 0
    files, size = prune(directory, keep, compress=not args.no_compress)
    print(f"bootstrap_modules: kept {files} modules, {size // 1024} KiB, in {directory}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
