"""A cluster run proves the migrated server booted by one of the source's
own host keys: a source without a usable one is refused in the checks,
before anything is created (tests/ganeti/test_p2v_cluster.py shows it on a
real cluster)."""

from __future__ import annotations

import pytest

from p2v_tui.engine.cluster import source_key_problem
from p2v_tui.model.machine import ConfigSnapshot, Machine

ED25519 = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHW6K2aHeKcSmSyS9B2W4Q9Km0+I9mAZhW4Ov2Fnlexe root@oldbox\n"


@pytest.mark.parametrize(
    ("files", "refused"),
    [
        ({}, True),
        ({"/etc/ssh/sshd_config": "Port 22\n"}, True),
        ({"/etc/ssh/ssh_host_ed25519_key.pub": "not a key\n"}, True),  # unusable: no pin
        ({"/root/.ssh/id_ed25519.pub": ED25519}, True),  # a user's key proves no host
        ({"/etc/ssh/ssh_host_ed25519_key.pub": ED25519}, False),
    ],
    ids=["no-files", "no-keys", "garbled-key", "user-key", "host-key"],
)
def test_source_without_a_host_key_is_refused(files: dict[str, str], refused: bool) -> None:
    problem = source_key_problem(Machine(config=ConfigSnapshot(files=files)))
    if refused:
        assert problem is not None and "the source has no SSH host key" in problem
        assert "ssh-keygen -A" in problem
    else:
        assert problem is None
