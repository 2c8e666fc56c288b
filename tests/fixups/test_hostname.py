"""hostname: /etc/hostname, /etc/hosts, HOSTNAME=, /etc/mailname."""

from __future__ import annotations

import pytest

from p2v_tui.model.edits import FixupChoices
from p2v_tui.model.fixups.hostname import Names, hosts_for
from p2v_tui.model.machine import OsInfo

from .builders import DEBIAN12, edit_for, facts, run, text_after

DEBIAN_HOSTS = "127.0.0.1\tlocalhost\n127.0.1.1\told.example.org\told\n\n::1 localhost ip6-localhost\n"
RHEL = OsInfo(id="rhel", init="systemd", initramfs="dracut")


@pytest.mark.parametrize(
    ("text", "old", "new", "debian", "expected"),
    [
        (
            DEBIAN_HOSTS,
            Names("old", "old.example.org"),
            Names("new", "new.example.org"),
            True,
            "127.0.0.1\tlocalhost\n127.0.1.1\tnew.example.org\tnew\n\n::1 localhost ip6-localhost\n",
        ),
        (
            "127.0.0.1 localhost\n",
            None,
            Names("web", "web.example.com"),
            True,
            "127.0.0.1 localhost\n127.0.1.1\tweb.example.com\tweb\n",
        ),
        ("127.0.0.1 localhost\n", None, Names("web", None), True, "127.0.0.1 localhost\n127.0.1.1\tweb\n"),
        ("127.0.0.1 localhost\n", None, Names("web", "web.example.com"), False, "127.0.0.1 localhost\n"),
        (
            "10.0.0.5   old.example.org old oldalias # old\n",
            Names("old", "old.example.org"),
            Names("new", None),
            False,
            "10.0.0.5   new oldalias # old\n",
        ),
        (
            "::1 localhost\n127.0.0.1 localhost old\n",
            Names("old", None),
            Names("new", "new.x"),
            True,
            "::1 localhost\n127.0.0.1 localhost new\n",
        ),
        ("# old is here\n", Names("old", None), Names("new", None), False, "# old is here\n"),
    ],
)
def test_hosts(text: str, old: Names | None, new: Names, debian: bool, expected: str) -> None:
    assert hosts_for(text, old, new, debian=debian) == expected


def test_debian_short_hostname_keeps_the_domain() -> None:
    files = {"/etc/hostname": "old\n", "/etc/hosts": DEBIAN_HOSTS, "/etc/mailname": "old.example.org\n"}
    result = run(files, the_facts=facts("vm17"))
    assert text_after(result, "/etc/hostname") == "vm17\n"
    assert "127.0.1.1\tvm17.example.org\tvm17\n" in (text_after(result, "/etc/hosts") or "")
    assert text_after(result, "/etc/mailname") == "vm17.example.org\n"


def test_choice_beats_the_instance_name_and_fqdn_style_is_kept() -> None:
    files = {"/etc/hostname": "db01.example.com\n"}
    result = run(
        files,
        os=RHEL,
        the_facts=facts("inst1.cluster.example"),
        choices=FixupChoices(hostname="db02.example.com"),
    )
    assert text_after(result, "/etc/hostname") == "db02.example.com\n"


def test_rhel6_sysconfig_network() -> None:
    files = {"/etc/sysconfig/network": "NETWORKING=yes\nHOSTNAME=old.example.org\n"}
    os = OsInfo(id="centos", id_like=("rhel",), init="upstart")
    result = run(files, os=os, the_facts=facts("new.example.org"))
    assert text_after(result, "/etc/sysconfig/network") == "NETWORKING=yes\nHOSTNAME=new.example.org\n"
    assert edit_for(result, "/etc/hostname") is None


def test_same_name_changes_nothing() -> None:
    files = {"/etc/hostname": "old\n", "/etc/hosts": DEBIAN_HOSTS}
    result = run(files, the_facts=facts("old.example.org"))
    assert edit_for(result, "/etc/hostname") is None
    assert edit_for(result, "/etc/hosts") is None


def test_missing_hostname_file_is_created_on_systemd() -> None:
    result = run({}, os=DEBIAN12, the_facts=facts("fresh.example.net"))
    edit = edit_for(result, "/etc/hostname")
    assert edit is not None and edit.old is None and edit.new == "fresh\n"


def test_localhost_as_old_name_is_not_replaced() -> None:
    files = {
        "/etc/hostname": "localhost.localdomain\n",
        "/etc/hosts": "127.0.0.1 localhost localhost.localdomain\n",
    }
    result = run(files, os=RHEL, the_facts=facts("web.example.com"))
    assert text_after(result, "/etc/hosts", files["/etc/hosts"]) == files["/etc/hosts"]
    assert text_after(result, "/etc/hostname") == "web.example.com\n"
