"""Which files of the source system the fixups read.

The probe snapshots every existing match (text only, size-capped) into
:class:`~p2v_tui.model.machine.ConfigSnapshot` while the source is mounted
read-only, so that fixups are pure functions of that snapshot and their diffs
can be shown before anything is written.
"""

from __future__ import annotations

CONFIG_GLOBS: tuple[str, ...] = (
    "/etc/fstab",
    "/etc/crypttab",
    "/etc/hostname",
    "/etc/hosts",
    "/etc/mailname",
    "/etc/os-release",
    "/usr/lib/os-release",
    "/etc/default/grub",
    "/etc/default/grub.d/*.cfg",
    "/etc/inittab",
    "/etc/initramfs-tools/modules",
    "/etc/initramfs-tools/initramfs.conf",
    "/etc/initramfs-tools/conf.d/*",
    "/etc/dracut.conf",
    "/etc/dracut.conf.d/*.conf",
    "/etc/network/interfaces",
    "/etc/network/interfaces.d/*",
    "/etc/netplan/*.yaml",
    "/etc/NetworkManager/system-connections/*",
    "/etc/sysconfig/network",
    "/etc/sysconfig/network-scripts/ifcfg-*",
    "/etc/systemd/network/*.network",
    "/etc/systemd/network/*.link",
    "/etc/udev/rules.d/*persistent-net*.rules",
    "/etc/resolv.conf",
    "/etc/ssh/ssh_host_*_key.pub",  # the migrated server proves itself with one of them
    "/etc/kernel/cmdline",
    "/etc/securetty",
    "/boot/loader/entries/*.conf",
    "/etc/init/serial.conf",
    "/etc/init/ttyS*.conf",
    "/etc/init/hvc*.conf",
)
"""Absolute globs as the source system sees them (fnmatch syntax, ``*`` does
not cross ``/``)."""

LINK_GLOBS: tuple[str, ...] = (
    "/lib",
    "/sbin/init",
    "/etc/systemd/system/getty.target.wants/*",
    "/etc/systemd/system/default.target",
    "/etc/resolv.conf",
)
"""Symlinks whose targets the fixups need (init system, enabled gettys,
``/lib`` -> ``usr/lib`` on a merged-/usr system)."""

DEVICE_LINK_GLOBS: tuple[str, ...] = (
    "/dev/disk/by-id/*",
    "/dev/disk/by-path/*",
)
"""Symlinks read from the *live* system's ``/dev`` (not the source tree, whose
/dev is empty): the live system runs on the source's hardware, so these
resolve the names the source's fstab and crypttab may use. They go into
``ConfigSnapshot.links`` under the same paths."""

MAX_CONFIG_BYTES = 1024 * 1024
"""Larger files are not configuration; they are skipped with a log line."""
