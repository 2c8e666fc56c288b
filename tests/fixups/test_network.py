"""network-mac, network-names and network-static per configuration tool."""

from __future__ import annotations

from dataclasses import replace

from p2v_tui.model.edits import FixupChoices, StaticAddress
from p2v_tui.model.machine import OsInfo

from .builders import DEBIAN12, edit_for, facts, run, text_after

NIC0, NIC1 = "aa:00:00:00:00:01", "aa:00:00:00:00:02"
RULES = "/etc/udev/rules.d/70-persistent-net.rules"
RULE = (
    'SUBSYSTEM=="net", ACTION=="add", DRIVERS=="?*", ATTR{{address}}=="{mac}", ATTR{{dev_id}}=="0x0", '
    'ATTR{{type}}=="1", KERNEL=="eth*", NAME="{name}"\n'
)
REWRITTEN = RULE.replace(', KERNEL=="eth*"', "")
"""A rule p2v rewrote: matched by the MAC alone, whatever name an initramfs gave the NIC."""
SYSV = replace(DEBIAN12, init="sysvinit")
RHEL6 = OsInfo(id="centos", id_like=("rhel",), init="upstart", initramfs="dracut", bootloader="grub-legacy")
V4 = StaticAddress("192.0.2.10/24", "192.0.2.1", ("192.0.2.53",))
V6 = StaticAddress("2001:db8::10/64", "2001:db8::1")


def _interfaces(*names: str) -> str:
    return "auto lo\niface lo inet loopback\n" + "".join(f"\nauto {n}\niface {n} inet dhcp\n" for n in names)


def test_rules_follow_the_configured_order_and_nics() -> None:
    rules = RULE.format(mac="00:11:22:33:44:01", name="eth0") + RULE.format(
        mac="00:11:22:33:44:02", name="eth1"
    )
    files = {RULES: rules, "/etc/network/interfaces": _interfaces("eth0", "eth1")}
    both = text_after(run(files, os=SYSV, the_facts=facts("h", NIC0, NIC1)), RULES) or ""
    assert [line for line in both.splitlines() if not line.startswith("#")] == [
        REWRITTEN.format(mac=NIC0, name="eth0").strip(),
        REWRITTEN.format(mac=NIC1, name="eth1").strip(),
    ]
    swapped = (
        text_after(
            run(files, os=SYSV, the_facts=facts("h", NIC0, NIC1), choices=FixupChoices(interface="eth1")),
            RULES,
        )
        or ""
    )
    assert REWRITTEN.format(mac=NIC0, name="eth1").strip() in swapped.splitlines()
    one = text_after(run(files, os=SYSV, the_facts=facts("h", NIC0)), RULES) or ""
    assert "# p2v: no such NIC on the instance: " + RULE.format(mac="00:11:22:33:44:02", name="eth1") in one


def test_no_nic_in_the_facts_changes_nothing() -> None:
    rules = RULE.format(mac="00:11:22:33:44:01", name="eth0")
    result = run({RULES: rules, "/etc/network/interfaces": _interfaces("eth0")}, os=SYSV)
    assert edit_for(result, RULES) is None
    assert any("list no NIC" in n for n in result.notes)


def test_names_pinned_by_a_rule_without_systemd() -> None:
    ifcfg = "DEVICE=em1\nBOOTPROTO=dhcp\nONBOOT=yes\n"
    result = run({"/etc/sysconfig/network-scripts/ifcfg-em1": ifcfg}, os=RHEL6, the_facts=facts("h", NIC0))
    edit = edit_for(result, RULES)
    assert edit is not None and edit.old is None and edit.fixup == "network-names" and edit.optional
    assert edit.new == (
        "# p2v: keep the name the migrated configuration uses\n"
        f'SUBSYSTEM=="net", ACTION=="add", DRIVERS=="?*", ATTR{{address}}=="{NIC0}", '
        'ATTR{type}=="1", NAME="em1"\n'
    )
    assert "network-names" in result.optional_ids


def test_eth0_needs_no_pinning_without_renaming() -> None:
    files = {
        "/etc/network/interfaces": _interfaces("eth0"),
        "/etc/default/grub": 'GRUB_CMDLINE_LINUX="net.ifnames=0"\n',
    }
    assert edit_for(run(files, the_facts=facts("h", NIC0)), "/etc/systemd/network/10-p2v-eth0.link") is None
    assert (
        edit_for(
            run({**files, "/etc/default/grub": ""}, the_facts=facts("h", NIC0)),
            "/etc/systemd/network/10-p2v-eth0.link",
        )
        is not None
    )
    assert edit_for(run(files, os=SYSV, the_facts=facts("h", NIC0)), RULES) is None


def test_network_names_turned_off() -> None:
    files = {"/etc/network/interfaces": _interfaces("enp1s0")}
    result = run(
        files, the_facts=facts("h", NIC0), choices=FixupChoices(disabled=frozenset({"network-names"}))
    )
    assert edit_for(result, "/etc/systemd/network/10-p2v-enp1s0.link") is None
    assert "network-names" in result.optional_ids


def test_virtual_interfaces_are_not_nics() -> None:
    interfaces = (
        "auto br0\niface br0 inet static\n    address 10.0.0.2/24\n    bridge_ports eno1\n"
        "\niface eno1 inet manual\n"
    )
    result = run(
        {"/etc/network/interfaces": interfaces}, the_facts=facts("h", NIC0), choices=FixupChoices(static=V4)
    )
    link = edit_for(result, "/etc/systemd/network/10-p2v-eno1.link")
    assert link is not None and link.new is not None and f"MACAddress={NIC0}" in link.new
    assert text_after(result, "/etc/network/interfaces") == (
        "auto br0\niface br0 inet static\n    address 192.0.2.10\n    netmask 255.255.255.0\n"
        "    gateway 192.0.2.1\n    dns-nameservers 192.0.2.53\n    bridge_ports eno1\n"
        "\niface eno1 inet manual\n"
    )
    assert any("bridge br0" in n for n in result.notes)


def test_ifupdown_hwaddress_and_inet6_stanza() -> None:
    interfaces = "auto eth0\niface eth0 inet dhcp\n\thwaddress ether 00:11:22:33:44:55\n"
    result = run(
        {"/etc/network/interfaces": interfaces},
        os=SYSV,
        the_facts=facts("h", NIC0),
        choices=FixupChoices(static=V6),
    )
    assert text_after(result, "/etc/network/interfaces") == (
        "auto eth0\niface eth0 inet dhcp\n\t# p2v: was: hwaddress ether 00:11:22:33:44:55\n"
        f"\thwaddress ether {NIC0}\n\niface eth0 inet6 static\n\taddress 2001:db8::10\n\tnetmask 64\n"
        "\tgateway 2001:db8::1\n"
    )


IFCFG = "/etc/sysconfig/network-scripts/ifcfg-eth0"


def test_ifcfg_static_keeps_the_quoting() -> None:
    ifcfg = 'DEVICE="eth0"\nBOOTPROTO="dhcp"\nHWADDR="00:25:90:8A:1B:2C"\nNETMASK="255.0.0.0"\nONBOOT="yes"\n'
    result = run({IFCFG: ifcfg}, os=RHEL6, the_facts=facts("h", NIC0), choices=FixupChoices(static=V4))
    edit = edit_for(result, IFCFG)
    assert edit is not None and edit.fixup == "network-mac+network-static" and not edit.optional
    assert edit.new == (
        'DEVICE="eth0"\nBOOTPROTO="none"\n# p2v: was: HWADDR="00:25:90:8A:1B:2C"\n'
        'HWADDR="AA:00:00:00:00:01"\nONBOOT="yes"\nIPADDR="192.0.2.10"\nPREFIX="24"\n'
        'GATEWAY="192.0.2.1"\nDNS1="192.0.2.53"\n'
    )


def test_ifcfg_bridges_and_aliases_are_not_nics() -> None:
    files = {
        "/etc/sysconfig/network-scripts/ifcfg-br0": "DEVICE=br0\nTYPE=Bridge\n",
        "/etc/sysconfig/network-scripts/ifcfg-eth0:1": "DEVICE=eth0:1\nIPADDR=10.0.0.9\n",
        "/etc/sysconfig/network-scripts/ifcfg-eth0.bak": "DEVICE=eth0\nHWADDR=00:11:22:33:44:66\n",
        IFCFG: "DEVICE=eth0\nHWADDR=00:11:22:33:44:55\nBRIDGE=br0\n",
    }
    result = run(files, os=RHEL6, the_facts=facts("h", NIC0))
    assert text_after(result, IFCFG) == (
        f"DEVICE=eth0\n# p2v: was: HWADDR=00:11:22:33:44:55\nHWADDR={NIC0}\nBRIDGE=br0\n"
    )
    assert [e.path for e in result.edits if "network-scripts" in e.path] == [IFCFG]


NETPLAN = "/etc/netplan/00-installer-config.yaml"


def test_netplan_without_match_gets_its_name_pinned() -> None:
    yaml = (
        "# This is the network config written by 'subiquity'\nnetwork:\n  ethernets:\n    enp1s0:\n"
        "      dhcp4: true\n  version: 2\n"
    )
    result = run({NETPLAN: yaml}, the_facts=facts("h", NIC0))
    assert edit_for(result, NETPLAN) is None
    assert edit_for(result, "/etc/systemd/network/10-p2v-enp1s0.link") is not None


def test_netplan_static_keeps_other_routes_and_the_other_family() -> None:
    yaml = (
        "network:\n  version: 2\n  ethernets:\n    eno1:\n      addresses:\n      - 10.0.0.5/24\n"
        "      - 2001:db8::5/64\n      gateway4: 10.0.0.1\n      routes:\n      - to: 0.0.0.0/0\n"
        "        via: 10.0.0.1\n      - to: 172.16.0.0/12\n        via: 10.0.0.254\n"
        "      nameservers:\n        search: [example.com]\n        addresses: [10.0.0.2]\n"
        "  # trailing comment\n"
    )
    result = run({NETPLAN: yaml}, the_facts=facts("h", NIC0), choices=FixupChoices(static=V4))
    assert text_after(result, NETPLAN) == (
        "network:\n  version: 2\n  ethernets:\n    eno1:\n      routes:\n      - to: 172.16.0.0/12\n"
        "        via: 10.0.0.254\n      - to: 0.0.0.0/0\n        via: 192.0.2.1\n      addresses:\n"
        "        - 2001:db8::5/64\n        - 192.0.2.10/24\n      nameservers:\n        addresses:\n"
        "          - 192.0.2.53\n        search:\n          - example.com\n  # trailing comment\n"
    )


def test_netplan_flow_style_is_left_alone() -> None:
    yaml = "network:\n  ethernets:\n    eth0: {dhcp4: true}\n"
    result = run({NETPLAN: yaml}, the_facts=facts("h", NIC0), choices=FixupChoices(static=V4))
    assert edit_for(result, NETPLAN) is None
    assert any("flow style" in n for n in result.notes)


NM = "/etc/NetworkManager/system-connections/Wired connection 1.nmconnection"


def test_nm_profile_bound_by_mac_only() -> None:
    profile = (
        "[connection]\nid=Wired connection 1\ntype=ethernet\n\n[ethernet]\n"
        "mac-address=3c:ec:ef:00:00:01\ncloned-mac-address=3c:ec:ef:00:00:01\n\n[ipv6]\nmethod=auto\n"
    )
    result = run({NM: profile}, the_facts=facts("h", NIC0), choices=FixupChoices(static=V4))
    assert text_after(result, NM) == (
        "[connection]\nid=Wired connection 1\ntype=ethernet\n\n[ethernet]\n"
        f"# p2v: was: mac-address=3c:ec:ef:00:00:01\nmac-address={NIC0}\n"
        f"# p2v: was: cloned-mac-address=3c:ec:ef:00:00:01\ncloned-mac-address={NIC0}\n"
        "\n[ipv6]\nmethod=auto\n"
        "\n[ipv4]\nmethod=manual\naddress1=192.0.2.10/24\ngateway=192.0.2.1\ndns=192.0.2.53;\n"
    )
    assert not any(e.path.endswith(".link") for e in result.edits)


def test_networkd_link_files_get_the_new_mac() -> None:
    link = "[Match]\nMACAddress=00:11:22:33:44:55\n\n[Link]\nName=lan0\n"
    network = "[Match]\nName=lan0\n\n[Network]\nDHCP=ipv4\n"
    result = run(
        {"/etc/systemd/network/70-lan.link": link, "/etc/systemd/network/70-lan.network": network},
        the_facts=facts("h", NIC0),
        choices=FixupChoices(static=V4),
    )
    assert text_after(result, "/etc/systemd/network/70-lan.link") == (
        f"[Match]\n# p2v: was: MACAddress=00:11:22:33:44:55\nMACAddress={NIC0}\n\n[Link]\nName=lan0\n"
    )
    assert text_after(result, "/etc/systemd/network/70-lan.network") == (
        "[Match]\nName=lan0\n\n[Network]\nDHCP=no\nAddress=192.0.2.10/24\nGateway=192.0.2.1\nDNS=192.0.2.53\n"
    )
    assert edit_for(result, "/etc/systemd/network/10-p2v-lan0.link") is None


def test_static_without_a_configuration_for_the_interface() -> None:
    result = run(
        {"/etc/network/interfaces": _interfaces("eth0")},
        the_facts=facts("h", NIC0),
        choices=FixupChoices(static=V4, interface="eth7"),
    )
    assert edit_for(result, "/etc/network/interfaces") is None
    assert any("no configuration for eth7" in n for n in result.notes)
    assert "network-static" not in result.optional_ids


def test_bad_static_address() -> None:
    result = run(
        {"/etc/network/interfaces": _interfaces("eth0")},
        the_facts=facts("h", NIC0),
        choices=FixupChoices(static=StaticAddress("not-an-address")),
    )
    assert any("not an address" in n for n in result.notes)
