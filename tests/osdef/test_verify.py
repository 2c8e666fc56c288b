"""verify, as Ganeti calls it for OS API 20: ``verify parameters`` with OSP_*."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.osdef.harness import (
    HOOKS_PATH,
    OS_DIR,
    Node,
    files_holding,
    host_key,
    key_material,
    make_node,
    require_tools,
    run_os_script,
    user_key,
)


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


# ---------------------------------------------------------------- ssh_host_key (secret)


def assert_secret_kept(node: Node, result: subprocess.CompletedProcess[str], secret: str) -> None:
    """Nothing of ``secret`` on stdout, stderr or in any file under the node; no temporary left."""
    material = key_material(secret)
    assert material
    output = result.stdout + result.stderr
    assert [m for m in material if m in output] == []
    assert files_holding(node.base, material) == []
    assert list(node.tmpdir.iterdir()) == []


def test_host_key_passes(tmp_path: Path, vnode: Node, good_key: str) -> None:
    secret = host_key(tmp_path).read_text()
    env = osp_env(ssh_key=good_key, ssh_host_key=secret)
    result = run_os_script("verify", env, vnode, args=["parameters"])
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    assert_secret_kept(vnode, result, secret)


def test_host_key_stays_out_of_traces(tmp_path: Path, vnode: Node) -> None:
    """DEBUG_LEVEL=1 (Ganeti's --debug) turns on set -x; bash -x traces from the first line."""
    secret = host_key(tmp_path).read_text()
    env = {**osp_env(ssh_host_key=secret), "DEBUG_LEVEL": "1", **vnode.overrides()}
    debug = run_os_script("verify", env, vnode, args=["parameters"])
    assert debug.returncode == 0, debug.stderr
    assert "+ " in debug.stderr  # the trace is on
    assert_secret_kept(vnode, debug, secret)
    traced = subprocess.run(
        ["bash", "-x", str(OS_DIR / "verify"), "parameters"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert traced.returncode == 0, traced.stderr
    assert "check_host_key" in traced.stderr
    assert_secret_kept(vnode, traced, secret)


def oversized(tmp_path: Path) -> str:
    lines = host_key(tmp_path).read_text().splitlines()
    filler = [("A" * 69 + str(i % 10)) for i in range(80)]
    return "\n".join([lines[0], *filler, *lines[1:]]) + "\n"


BAD_HOST_KEYS: dict[str, tuple[Callable[[Path], str], str]] = {
    "rsa": (lambda d: host_key(d, kind="rsa").read_text(), "is an ssh-rsa key: only an ssh-ed25519"),
    "ecdsa": (lambda d: host_key(d, kind="ecdsa").read_text(), "is an ecdsa-sha2-nistp256 key"),
    "encrypted": (lambda d: host_key(d, passphrase="secret words").read_text(), "is encrypted (aes256-ctr)"),
    "public": (lambda d: host_key(d).with_suffix(".pub").read_text(), "is a public key"),
    "two-keys": (lambda d: host_key(d, "a").read_text() + host_key(d, "b").read_text(), "holds 2 keys"),
    "text-after": (lambda d: host_key(d).read_text() + "copied from the wiki\n", "has text after the key"),
    "pem-format": (lambda d: host_key(d, kind="rsa", key_format="PEM").read_text(), "not in OpenSSH format"),
    "crlf": (lambda d: host_key(d).read_text().replace("\n", "\r\n"), "has carriage returns"),
    "cut-short": (lambda d: "".join(host_key(d).read_text().splitlines(True)[:-1]), "is cut short"),
    "garbage": (lambda d: "not-a-key-3f9c1e2d8b7a6f5e4d3c2b1a0f9e8d7c\n", "is not an OpenSSH private key"),
    "oversized": (oversized, "bytes: one ed25519 private key is at most 4096"),
}


@pytest.mark.parametrize(("make", "message"), BAD_HOST_KEYS.values(), ids=BAD_HOST_KEYS.keys())
def test_bad_host_key_is_refused_in_one_line(
    tmp_path: Path, vnode: Node, make: Callable[[Path], str], message: str
) -> None:
    secret = make(tmp_path)
    result = run_os_script("verify", osp_env(ssh_host_key=secret), vnode, args=["parameters"])
    assert result.returncode != 0
    assert result.stdout == ""
    [line] = result.stderr.splitlines()
    assert line.startswith("invalid OS parameter: ssh_host_key ")
    assert message in line
    assert_secret_kept(vnode, result, secret)


def test_empty_host_key_means_none(vnode: Node) -> None:
    result = run_os_script("verify", osp_env(ssh_host_key=""), vnode, args=["parameters"])
    assert result.returncode == 0, result.stderr
