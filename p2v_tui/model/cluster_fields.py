"""The wizard's "create it on a Ganeti cluster" fields, as an answers file
says them.

The Target screen asks for the few values a person must give (where the
cluster is, who p2v is there, the instance's name and addresses, the
node); the rest take the answers' defaults (the disk size from the plan,
256 MiB for the bootstrap, 1 GiB for the migrated server, one NIC on the
cluster's default link). The fields are turned into a ``cluster:`` section
of the answers document the wizard would write, and that document goes
through the very checks an answers file goes through
(:func:`~p2v_tui.model.answers.validation_errors`): the wizard refuses
exactly what an answers file refuses, and what it accepts replays headless.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .answers import Answers, answers_from_doc, answers_to_doc, validation_errors
from .answers_cluster import ClusterAnswers, cluster_to_doc
from .cluster_plan import host_ip

LABELS = {
    "cluster.rapi": "RAPI URL",
    "cluster.user": "RAPI user",
    "cluster.password_file": "Password file",
    "cluster.certificate": "Certificate",
    "cluster.migrated_address": "Migrated addr",
    "cluster.instance.name": "Instance name",
    "cluster.instance.address": "Bootstrap CIDR",
    "cluster.instance.gateway": "Gateway",
    "cluster.instance.pnode": "Node",
    "target.identity": "Key file",
}
"""The answers' key paths and the wizard's labels for them: an error is
shown under the name the person sees."""


class ClusterFieldsError(ValueError):
    """The fields do not make a ``cluster:`` section an answers file could
    hold; ``errors``: one line each, starting with the field's label."""

    def __init__(self, errors: list[str]) -> None:
        super().__init__("; ".join(errors))
        self.errors = errors


@dataclass(frozen=True)
class ClusterFields:
    """What was typed, as text (empty: not given)."""

    rapi: str = ""
    user: str = ""
    password_file: str = ""
    certificate: str = ""
    """A SHA-256 fingerprint, or the absolute path of a copy of rapi.pem."""
    name: str = ""
    address: str = ""
    """The bootstrap's address with its prefix (CIDR)."""
    gateway: str = ""
    migrated_address: str = ""
    """Empty: the bootstrap's IP (:func:`migrated_default`)."""
    pnode: str = ""


def migrated_default(address: str) -> str:
    """The address the migrated server is proven at when the field is left
    empty: the bootstrap's IP (the migrated server keeps the instance's
    NIC); empty while the bootstrap's address is not one."""
    try:
        return host_ip(address)
    except ValueError:
        return ""


def fields_of(cluster: ClusterAnswers | None) -> ClusterFields:
    """The fields that show ``cluster`` (a pre-filled answers file)."""
    if cluster is None:
        return ClusterFields()
    i = cluster.instance
    return ClusterFields(
        rapi=str(cluster.rapi),
        user=cluster.user,
        password_file=cluster.password_file,
        certificate=str(cluster.pin) if cluster.pin is not None else cluster.certificate_file or "",
        name=i.name,
        address=i.address or "",
        gateway=i.gateway or "",
        migrated_address=cluster.migrated_address or "",
        pnode=i.pnode or "",
    )


def cluster_section(fields: ClusterFields, base: ClusterAnswers | None = None) -> dict[str, Any]:
    """The ``cluster:`` section the fields say. ``base``: a section from a
    pre-filled answers file, whose values the wizard does not ask for
    (disk sizes, NICs, memory ...) are kept."""
    f = dataclasses.replace(fields, **{k: v.strip() for k, v in dataclasses.asdict(fields).items()})
    section: dict[str, Any] = cluster_to_doc(base) if base is not None else {}
    inst: dict[str, Any] = dict(section.get("instance", {}))
    for key in ("address", "gateway", "pnode"):
        inst.pop(key, None)
    inst["name"] = f.name
    if f.address:
        inst["address"] = f.address
    if f.gateway:
        inst["gateway"] = f.gateway
    if f.pnode:
        inst["pnode"] = f.pnode
        inst.pop("iallocator", None)
    section.update(
        rapi=f.rapi, user=f.user, password_file=f.password_file, certificate=f.certificate, instance=inst
    )
    section.pop("migrated_address", None)
    migrated = f.migrated_address or migrated_default(f.address)
    if migrated:
        section["migrated_address"] = migrated
    return section


def _labelled(line: str) -> str:
    for key in sorted(LABELS, key=len, reverse=True):
        if line.startswith(key) and line[len(key) : len(key) + 1] in (":", ".", "["):
            return LABELS[key] + line[len(key) :]
    return line


def with_cluster(
    answers: Answers, fields: ClusterFields, identity: str, schema: Mapping[str, Any]
) -> Answers:
    """``answers`` with the cluster the fields say and ``identity`` as the
    key p2v logs in with, checked as an answers file is; raises
    :class:`ClusterFieldsError`."""
    needed = [
        f"{LABELS[key]}: needed"
        for key, text in (
            ("cluster.rapi", fields.rapi),
            ("cluster.user", fields.user),
            ("cluster.password_file", fields.password_file),
            ("cluster.certificate", fields.certificate),
            ("cluster.instance.name", fields.name),
            ("target.identity", identity),
        )
        if not text.strip()
    ]
    if needed:  # said so, rather than as the schema's "'' is shorter than 1"
        raise ClusterFieldsError(needed)
    target = dataclasses.replace(answers.target, identity=identity.strip())
    doc = answers_to_doc(dataclasses.replace(answers, target=target, cluster=None))
    # what a cluster section replaces: the created instance's address and
    # host key, its own facts, and p2v stopping and starting it itself
    for key in ("host", "host_key"):
        doc["target"].pop(key, None)
    doc.pop("after", None)
    doc.pop("instance", None)
    doc["cluster"] = cluster_section(fields, answers.cluster)
    errors = validation_errors(doc, schema)
    if errors:
        raise ClusterFieldsError([_labelled(e) for e in errors])
    try:
        read = answers_from_doc(doc)
    except ValueError as e:
        raise ClusterFieldsError([_labelled(str(e))]) from None
    return dataclasses.replace(answers, target=read.target, cluster=read.cluster, instance=None)
