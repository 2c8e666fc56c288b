#!/bin/bash
# Records the `ip` outputs the network-state parser tests read
# (tests/model/test_netconfig.py). Needs root; touches only two network
# namespaces it creates (a "live" one playing the booted live image and a
# "peer" one playing the LAN) and deletes them on exit.
#
#   usage: record.sh [OUTDIR]     (default: the directory of this script)
set -eu -o pipefail

out=${1:-$(dirname "$0")}
token=$(od -An -N3 -tx1 /dev/urandom | tr -d ' \n')
live=p2vnet-rec-l-$token
peer=p2vnet-rec-p-$token

CLEANUP=()
cleanup() {
    local i
    for ((i = ${#CLEANUP[@]} - 1; i >= 0; i--)); do
        eval "${CLEANUP[i]}" || true
    done
}
trap cleanup EXIT

L() { ip -n "$live" "$@"; }
P() { ip -n "$peer" "$@"; }
record() {  # record NAME: the three state commands, run inside the live namespace
    L -json addr show >"$out/$1-addr.json"
    L -4 -json route show >"$out/$1-route4.json"
    L -6 -json route show >"$out/$1-route6.json"
}

ip netns add "$live"
CLEANUP+=("ip netns delete $live")
ip netns add "$peer"
CLEANUP+=("ip netns delete $peer")

# eth0: cabled to the peer (carrier); eth1: its peer end stays down (no carrier)
L link add eth0 address 52:54:00:12:34:56 type veth peer name eth0 netns "$peer"
L link add eth1 address 52:54:00:12:34:57 type veth peer name eth1 netns "$peer"
L link set lo up
P link set lo up
P link set eth0 up
P addr add 192.0.2.1/24 dev eth0

# 1. no DHCP answer: eth0 up with a cable but only its link-local address, eth1 down
L link set eth0 up
sleep 2  # the kernel adds the IPv6 link-local address once the link is up
record nodhcp

# 2. what a DHCP client leaves behind: an IPv4 address with finite lifetimes
#    (shown as "dynamic"), a default route from the lease, and an IPv6
#    address and default route as router advertisements set them up
L addr add 192.0.2.10/24 dev eth0 valid_lft 3600 preferred_lft 3600
L -6 addr add 2001:db8::10/64 dev eth0 nodad valid_lft 86400 preferred_lft 14400
L route add default via 192.0.2.1 dev eth0 proto dhcp metric 100
L -6 route add default via fe80::1 dev eth0 proto ra metric 1024
L link set eth1 up  # admin up, but the cable (peer end) is down
record dhcp

# 3. after a person set a static address: permanent ("forever") lifetimes
L addr flush dev eth0 scope global
L route flush exact 0/0
L -6 route flush exact ::/0
L addr add 192.0.2.20/24 dev eth0
L -6 addr add 2001:db8::20/64 dev eth0 nodad
L route replace default via 192.0.2.1 dev eth0
L -6 route replace default via 2001:db8::1 dev eth0
record static
