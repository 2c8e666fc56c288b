"""The network fixups.

``network-mac`` (required): configuration bound to the source's MAC
addresses -- persistent-net rules, ifcfg ``HWADDR``/``MACADDR``, netplan
``macaddress``, NetworkManager ``mac-address``, networkd ``MACAddress``,
ifupdown ``hwaddress`` -- gets the MAC of the instance NIC that replaces
that interface (see :mod:`._interfaces` for the pairing).

``network-names`` (optional): the instance's virtio NIC is ``eth0`` to the
kernel, and udev's predictable naming then calls it after its PCI slot
(``ens3``...), which p2v cannot know. Where the source's configuration needs
an interface to carry its name (ifupdown, ifcfg, NetworkManager
``interface-name``, netplan or networkd without a MAC match), the name is
pinned to the NIC's MAC: by a ``10-p2v-NAME.link`` file on systemd, by a
persistent-net rule otherwise. Nothing is written when the name already
holds: a persistent-net rule or ``.link`` for it exists (now with the new
MAC), or the name is the kernel's own ``ethN`` for NIC N on a system that
does not rename (no systemd, ``net.ifnames=0``, Xen PV NICs). A ``.link``
naming ``ethN`` is written only when predictable naming would otherwise
rename the NIC; it asks for the name the kernel gave NIC N in the first
place (virtio NICs are probed in PCI order, which is Ganeti's NIC order), so
it does not race the kernel's own names.

``network-static`` (optional, only with ``choices.static``): the address of
the interface that becomes NIC 0 (or ``choices.interface``) is replaced in
every tool that configures it. Only the static address's family changes:
an IPv4 address leaves the IPv6 configuration as it is, and vice versa.
"""

from __future__ import annotations

import re

from ..edits import StaticAddress
from ..validate import parse_dns_server, parse_gateway, parse_interface_address
from . import network_ifupdown, network_netplan, network_networkd, network_nm, network_rhel
from ._context import Context
from ._interfaces import NicMap, SourceInterface, build_map
from ._text import lines_of
from ._workspace import Scope
from .grub import BLS, KERNEL_CMDLINE, grub_files
from .kernel_cmdline import has_arg
from .udev import RULES, fix_rules, link_file, link_path, rule_macs, with_rule

FIX_MAC = "network-mac"
FIX_NAMES = "network-names"
FIX_STATIC = "network-static"


def interfaces(scope: Scope) -> list[SourceInterface]:
    return [
        *network_netplan.discover(scope),
        *network_nm.discover(scope),
        *network_rhel.discover(scope),
        *network_ifupdown.discover(scope),
        *network_networkd.discover(scope),
    ]


def nic_map(ctx: Context, scope: Scope) -> NicMap:
    known = {**network_networkd.link_names(scope), **rule_macs(scope)}
    return build_map(interfaces(scope), known, [n.mac for n in ctx.facts.nics], ctx.choices.interface)


def fix_network_mac(ctx: Context, scope: Scope) -> None:
    found = interfaces(scope)
    if not found:
        scope.note(
            "network: no configuration for a network interface found (ifupdown, netplan, "
            "NetworkManager, ifcfg, networkd); the network is left as it is"
        )
    if not ctx.facts.nics:
        scope.note("network: the instance facts list no NIC; MAC-bound configuration is left as it is")
        return
    nics = nic_map(ctx, scope)
    reason = "bind the configuration to the instance's NIC"
    fix_rules(scope, nics, reason)
    network_netplan.fix_macs(scope, nics, reason)
    network_nm.fix_macs(scope, nics, reason)
    network_rhel.fix_macs(scope, nics, reason)
    network_ifupdown.fix_macs(scope, dict(nics.new_mac), reason)
    network_networkd.fix_macs(scope, nics, reason)
    for name in nics.names[len(ctx.facts.nics) :]:
        scope.note(
            f"network: the instance has {len(ctx.facts.nics)} NIC(s); the configuration of "
            f"{name} is left as it is and will not be used"
        )
    for path in scope.glob(network_netplan.GLOB):
        if network_netplan.cloud_init_generated(scope.read(path) or ""):
            scope.note(
                f"network: {path} was written by cloud-init, which may write it again on the "
                "instance's first boot (network: {config: disabled} in /etc/cloud/cloud.cfg.d/ "
                "prevents that)"
            )


def ifnames_off(ctx: Context, scope: Scope) -> bool:
    """``net.ifnames=0`` on a kernel command line the instance boots with."""
    texts = [ctx.facts.kernel_args] if not ctx.boot_own else []
    for path in [*grub_files(scope), *scope.glob(BLS), KERNEL_CMDLINE]:
        texts += [
            line.replace('"', " ")
            for line in lines_of(scope.read(path) or "")
            if not line.lstrip().startswith("#")
        ]
    return any(has_arg(t, "net.ifnames=0") for t in texts)


def fix_network_names(ctx: Context, scope: Scope) -> None:
    if not ctx.facts.nics:
        return
    found = interfaces(scope)
    nics = nic_map(ctx, scope)
    pinned = {**network_networkd.link_names(scope), **rule_macs(scope)}
    no_renaming = not ctx.systemd or ctx.facts.hypervisor == "xen-pvm" or ifnames_off(ctx, scope)
    for index, name in enumerate(nics.names[: len(ctx.facts.nics)]):
        if not any(i.by_name for i in found if i.name == name) or name in pinned:
            continue
        m = re.fullmatch(r"eth(\d+)", name)
        if m and int(m.group(1)) == index and no_renaming:
            continue
        mac = nics.new_mac[name]
        reason = f"the instance's NIC {index} keeps the name {name}"
        if ctx.systemd:
            scope.write(link_path(name), link_file(mac, name), reason)
        else:
            scope.write(RULES, with_rule(scope.read(RULES), mac, name), reason)


def static_problem(static: StaticAddress) -> str | None:
    """Why ``static`` cannot be written (None when it can)."""
    try:
        address = parse_interface_address(static.address)
        if static.gateway:
            parse_gateway(static.gateway, address)
        for server in static.dns:
            parse_dns_server(server)
    except ValueError as e:
        return str(e)
    return None


def fix_network_static(ctx: Context, scope: Scope) -> None:
    static = ctx.choices.static
    if static is None:
        return
    problem = static_problem(static)
    if problem:
        # the answers and the wizard refuse these already; nothing that is
        # not an address is ever written into a network configuration
        scope.note(f"network-static: not an address to write ({problem}); nothing changed")
        return
    nics = nic_map(ctx, scope)
    name = ctx.choices.interface or (nics.names[0] if nics.names else None)
    if name is None:
        scope.note("network-static: no configured interface found; the static address is not written")
        return
    reason = f"static address {static.address} on {name}"
    changed = []
    for tool in (network_netplan, network_nm, network_rhel, network_ifupdown, network_networkd):
        for item in tool.set_static(scope, name, static, reason):
            if item.startswith("/"):
                changed.append(item)
            else:
                scope.note(f"network-static: {item}")
    if not changed:
        scope.note(f"network-static: no configuration for {name} found; the static address is not written")
