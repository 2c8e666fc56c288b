"""verify, as Ganeti calls it for OS API 20: ``verify parameters`` with OSP_*."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.osdef.harness import HOOKS_PATH, Node, make_node, require_tools, run_os_script, user_key


@pytest.fixture
def vnode(tmp_path: Path) -> Node:
    require_tools("ssh-keygen")
    return make_node(tmp_path / "node", None)


@pytest.fixture
def good_key(tmp_path: Path) -> str:
    require_tools("ssh-keygen")
    return user_key(tmp_path)


def osp_env(**params: str) -> dict[str, str]:
    env = {"OS_API_VERSION": "20", "OS_NAME": "p2v-target", "OS_VARIANT": "default", "PATH": HOOKS_PATH}
    env.update({f"OSP_{k.upper()}": v for k, v in params.items()})
    return env


GOOD = [
    {},
    {"address": "198.51.100.20/24", "gateway": "198.51.100.1", "dns": "192.0.2.53 192.0.2.54"},
    {"address": "2001:db8::20/64", "gateway": "2001:db8::1", "dns": "2001:db8::53;192.0.2.53"},
    {"address": "203.0.113.7/32", "gateway": "203.0.113.1"},
    {"dns": "192.0.2.53"},
]


@pytest.mark.parametrize("params", GOOD, ids=[",".join(p) or "none" for p in GOOD])
def test_good_parameters_pass(vnode: Node, good_key: str, params: dict[str, str]) -> None:
    result = run_os_script("verify", osp_env(ssh_key=good_key, **params), vnode, args=["parameters"])
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""


def test_other_key_types_pass(tmp_path: Path, vnode: Node) -> None:
    for kind in ("rsa", "ecdsa"):
        key = tmp_path / f"id_{kind}"
        subprocess.run(["ssh-keygen", "-q", "-t", kind, "-N", "", "-f", str(key)], check=True)
        env = osp_env(ssh_key=(tmp_path / f"id_{kind}.pub").read_text().strip())
        result = run_os_script("verify", env, vnode, args=["parameters"])
        assert result.returncode == 0, result.stderr


BAD: list[tuple[str, dict[str, str], str]] = [
    (
        "key-garbage",
        {"ssh_key": "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBROKEN"},
        "not a valid OpenSSH public key",
    ),
    ("key-not-a-key", {"ssh_key": "hello world"}, "must start with a key type"),
    ("key-options", {"ssh_key": 'command="/bin/sh" ssh-ed25519 AAAA'}, "must start with a key type"),
    ("key-private", {"ssh_key": "-----BEGIN OPENSSH PRIVATE KEY-----"}, "must start with a key type"),
    ("address-no-prefix", {"address": "198.51.100.20"}, "needs a prefix length"),
    ("address-garbage", {"address": "web01/24"}, "not an IPv4 or IPv6 address in CIDR form"),
    ("address-bad-prefix", {"address": "198.51.100.20/33"}, "not an IPv4 or IPv6 address in CIDR form"),
    ("address-network", {"address": "198.51.100.0/24"}, "network or broadcast address"),
    ("gateway-garbage", {"gateway": "gw.example.org"}, "gateway 'gw.example.org' is not an IPv4 or IPv6"),
    ("gateway-family", {"address": "198.51.100.20/24", "gateway": "2001:db8::1"}, "is IPv6 but address"),
    ("dns-garbage", {"dns": "192.0.2.53 resolver.example.org"}, "dns server 'resolver.example.org'"),
    ("dns-octet", {"dns": "192.0.2.300"}, "dns server '192.0.2.300'"),
]


@pytest.mark.parametrize(("params", "message"), [(p, m) for _, p, m in BAD], ids=[i for i, _, _ in BAD])
def test_bad_parameters_are_rejected(
    vnode: Node, good_key: str, params: dict[str, str], message: str
) -> None:
    merged = {"ssh_key": good_key, **params}
    result = run_os_script("verify", osp_env(**merged), vnode, args=["parameters"])
    assert result.returncode != 0
    assert message in result.stderr
    assert "invalid OS parameter" in result.stderr


def test_two_key_lines_are_rejected(vnode: Node, good_key: str) -> None:
    result = run_os_script("verify", osp_env(ssh_key=f"{good_key}\n{good_key}"), vnode, args=["parameters"])
    assert result.returncode != 0
    assert "single line" in result.stderr


def test_every_problem_is_reported(vnode: Node) -> None:
    env = osp_env(ssh_key="nonsense", address="bad", gateway="bad", dns="bad")
    result = run_os_script("verify", env, vnode, args=["parameters"])
    assert result.returncode != 0
    for what in ("ssh_key", "address 'bad'", "gateway 'bad'", "dns server 'bad'"):
        assert what in result.stderr


def test_usage(vnode: Node) -> None:
    assert run_os_script("verify", osp_env(), vnode).returncode != 0
    assert run_os_script("verify", osp_env(), vnode, args=["--help"]).returncode == 0
    unknown = run_os_script("verify", osp_env(), vnode, args=["colours"])
    assert unknown.returncode != 0
    assert "unknown check 'colours'" in unknown.stderr
