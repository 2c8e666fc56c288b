"""The answers file: what a person decides, as data.

``answers_from_doc`` turns a document that passed the JSON Schema
(p2v_tui/data/answers.schema.json) into :class:`Answers`;
``validation_errors`` explains schema violations by key path
(``target.host: required``); ``answers_to_doc`` writes choices back so that a
wizard run can be replayed headless.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import jsonschema

from .answers_checks import semantic_errors
from .answers_cluster import ClusterAnswers, cluster_from_doc, cluster_to_doc
from .edits import FixupChoices, StaticAddress
from .plan import LayoutChoices, LayoutRequest, SwapPolicy
from .target import FactsError, InstanceFacts, facts_from_json, facts_to_json
from .units import exact_size_text, format_size, parse_size
from .validate import quoted

After = Literal["poweroff", "reboot", "none"]


class UnusableKeyError(ValueError):
    """The private key offered for ``target.identity`` is not one SSH can
    use (a paste that is no private key, or needs a passphrase); nothing was
    kept. What reads keys (system/keyfile) raises a subclass; the wizard
    says the message."""


@dataclass(frozen=True)
class TargetAnswers:
    host: str
    """Empty with a cluster section (the created instance's address is used)."""
    identity: str
    """Path of the private key file. The key itself is never stored here."""
    host_key: str
    """Empty with a cluster section (p2v generates the instance's host key)."""
    port: int = 22
    user: str = "root"
    connect_timeout: float = 20.0


@dataclass(frozen=True)
class RunningAnswers:
    """The source server while it still runs (warm passes): the probe
    logs in with ``identity`` from here, the target pulls with ``copy_identity``."""

    host: str
    identity: str
    host_key: str
    copy_identity: str
    port: int = 22
    user: str = "root"
    connect_timeout: float = 20.0


@dataclass(frozen=True)
class Answers:
    target: TargetAnswers
    layout: LayoutChoices = field(default_factory=LayoutChoices)
    fixups: FixupChoices = field(default_factory=FixupChoices)
    source_disks: tuple[str, ...] | None = None
    after: After = "poweroff"
    confirm: bool = False
    instance: InstanceFacts | None = None
    report: str | None = None
    bandwidth_limit: int | None = None
    """Bytes per second the copy may use; None: as fast as it goes."""
    interactive: bool = False
    """Open the wizard pre-filled with these answers instead of running headless."""
    cluster: ClusterAnswers | None = None
    """p2v creates the bootstrap instance through RAPI (model/answers_cluster)."""
    running: RunningAnswers | None = None
    """The source while it runs, for warm passes (``source.running``)."""


def _key(key: Any) -> str:
    """A key as a message shows it: quoted unless it is a plain word (a key
    from a hostile file may hold escape sequences or be megabytes long)."""
    text = str(key)
    return text if _PLAIN_KEY.fullmatch(text) else quoted(text)


_PLAIN_KEY = re.compile(r"[A-Za-z0-9_-]{1,40}")


def _path(parts: Iterable[Any]) -> str:
    out = ""
    for p in parts:
        out += f"[{p}]" if isinstance(p, int) else (f".{_key(p)}" if out else _key(p))
    return out


def _describe(error: jsonschema.ValidationError) -> str:
    where = _path(error.absolute_path)
    prefix = f"{where}: " if where else ""
    schema = error.schema if isinstance(error.schema, Mapping) else {}
    hint = schema.get("description")
    if error.validator == "required":
        missing = error.message.split("'")[1] if "'" in error.message else error.message
        return f"{where + '.' if where else ''}{missing}: required"
    if error.validator == "additionalProperties":
        known = sorted(schema.get("properties", {}))
        extras = sorted(set(error.instance) - set(known)) if isinstance(error.instance, Mapping) else []
        lines = []
        for key in extras:
            close = difflib.get_close_matches(key, known, n=1)
            guess = f" (did you mean {close[0]}?)" if close else ""
            lines.append(
                f"{where + '.' if where else ''}{_key(key)}: unknown key{guess}; known: {', '.join(known)}"
            )
        return "\n".join(lines) or f"{prefix}{error.message}"
    if error.validator in ("enum", "const"):
        allowed = schema.get("enum", [schema.get("const")])
        return f"{prefix}expected one of {', '.join(map(str, allowed))}; got {quoted(error.instance)}"
    if error.validator == "type":
        got = f"{type(error.instance).__name__} {quoted(error.instance)}"
        return f"{prefix}expected {error.validator_value}, got {got}"
    if error.validator == "pattern":
        wanted = hint or f"to match {error.validator_value}"
        return f"{prefix}expected {wanted}; got {quoted(error.instance)}"
    if (
        error.validator == "dependentRequired"
        and isinstance(error.instance, Mapping)
        and isinstance(error.validator_value, Mapping)
    ):
        dot = where + "." if where else ""
        for key, needed in error.validator_value.items():
            for need in needed:
                if key in error.instance and need not in error.instance:
                    return f"{dot}{need}: required when {dot}{key} is given"
    if error.validator in ("maximum", "minimum", "exclusiveMinimum", "maxLength", "minLength", "maxItems"):
        return f"{prefix}{quoted(error.instance)} is {_BOUND[str(error.validator)]} {error.validator_value}"
    return f"{prefix}{error.message[:200]}" + (f" ({hint})" if hint else "")


_BOUND = {
    "maximum": "more than",
    "minimum": "less than",
    "exclusiveMinimum": "not more than",
    "maxLength": "longer than",
    "minLength": "shorter than",
    "maxItems": "more items than",
}


def _strict_integer(checker: Any, instance: Any) -> bool:
    """An integer is an int: JSON Schema also counts 22.0, which YAML reads
    as a float (``port: 22.0``) and nothing here should take."""
    return isinstance(instance, int) and not isinstance(instance, bool)


_Validator = jsonschema.validators.extend(  # type: ignore[no-untyped-call]
    jsonschema.Draft202012Validator,
    type_checker=jsonschema.Draft202012Validator.TYPE_CHECKER.redefine("integer", _strict_integer),
)


def validation_errors(doc: Any, schema: Mapping[str, Any]) -> list[str]:
    """Every schema violation as ``key.path: what was expected``, sorted by
    path, then (for a document the schema accepts) every value that is not
    what it claims to be (model/answers_checks); empty when the document is
    valid."""
    if not isinstance(doc, Mapping):
        return [f"expected a mapping of keys at the top of the file, got {type(doc).__name__}"]
    validator = _Validator(schema)
    errors = sorted(validator.iter_errors(doc), key=lambda e: (list(map(str, e.absolute_path)), e.message))
    if errors:
        return [line for e in errors for line in _describe(e).splitlines()]
    return semantic_errors(doc)


def _swap(text: str | None) -> SwapPolicy:
    if text is None:
        return "auto"
    if text in ("keep", "auto", "drop"):
        return text  # type: ignore[return-value]
    return parse_size(text)


def _request(item: Mapping[str, Any]) -> LayoutRequest:
    size = str(item.get("size", "fit")).strip()
    common = {"mountpoint": item["mount"], "fstype": item.get("fs"), "disk": item.get("disk", 0)}
    if size in ("fit", "rest"):
        return LayoutRequest(mode=size, **common)  # type: ignore[arg-type]
    if size.endswith("%"):
        return LayoutRequest(mode="percent", size=round(float(size[:-1])), **common)
    return LayoutRequest(mode="size", size=parse_size(size), **common)


def answers_from_doc(doc: Mapping[str, Any]) -> Answers:
    """Convert a schema-valid document. Semantic errors (a size of 0 ...)
    raise ValueError with the key path."""
    t = doc.get("target", {})
    layout = doc.get("layout", {})
    net = doc.get("network", {})
    static = None
    if "address" in net:
        static = StaticAddress(
            address=net["address"], gateway=net.get("gateway"), dns=tuple(net.get("dns", ()))
        )
    explicit = None
    if "partitions" in layout:
        explicit = tuple(_request(p) for p in layout["partitions"])
    instance = None
    if "instance" in doc:
        try:
            instance = facts_from_json({"version": 1, **doc["instance"]}, origin="answers")
        except FactsError as e:
            raise ValueError(f"instance.{e}") from None
    return Answers(
        target=TargetAnswers(
            host=t.get("host", ""),
            identity=t.get("identity", ""),
            host_key=t.get("host_key", ""),
            port=t.get("port", 22),
            user=t.get("user", "root"),
            connect_timeout=float(t.get("connect_timeout", 20.0)),
        ),
        layout=LayoutChoices(
            headroom=float(layout.get("headroom", "20%").rstrip("%")) / 100,
            swap=_swap(doc.get("swap")),
            table=layout.get("table", "auto"),
            explicit=explicit,
            drop=tuple(layout.get("drop", ())),
            exclude=tuple(doc.get("exclude", ())),
            boot=doc.get("boot", "own"),
            firmware=doc.get("firmware", "bios"),
        ),
        fixups=FixupChoices(
            hostname=doc.get("hostname"),
            static=static,
            interface=net.get("interface"),
            console=doc.get("console", "auto"),
            disabled=frozenset(doc.get("fixups", {}).get("disable", ())),
        ),
        source_disks=tuple(doc["source"]["disks"]) if "disks" in doc.get("source", {}) else None,
        after=doc.get("after", "poweroff"),
        confirm=bool(doc.get("confirm", False)),
        interactive=bool(doc.get("interactive", False)),
        instance=instance,
        report=doc.get("report"),
        bandwidth_limit=parse_size(doc["bandwidth_limit"]) if "bandwidth_limit" in doc else None,
        cluster=cluster_from_doc(doc["cluster"]) if "cluster" in doc else None,
        running=_running(doc["source"]["running"]) if "running" in doc.get("source", {}) else None,
    )


def _running(r: Mapping[str, Any]) -> RunningAnswers:
    return RunningAnswers(
        host=r["host"],
        identity=r["identity"],
        host_key=r["host_key"],
        copy_identity=r["copy_identity"],
        port=r.get("port", 22),
        user=r.get("user", "root"),
        connect_timeout=float(r.get("connect_timeout", 20.0)),
    )


def answers_to_doc(a: Answers) -> dict[str, Any]:
    """The answers file that reproduces ``a`` (inverse of answers_from_doc)."""
    doc: dict[str, Any] = {"version": 1}
    if a.confirm:
        doc["confirm"] = True
    target: dict[str, Any] = {
        "host": a.target.host,
        "port": a.target.port,
        "user": a.target.user,
        "identity": a.target.identity,
        "host_key": a.target.host_key,
    }
    if a.target.connect_timeout != 20.0:
        target["connect_timeout"] = a.target.connect_timeout
    if a.cluster is not None:
        del target["host"], target["host_key"]  # the created instance's
    doc["target"] = target
    if a.cluster is not None:
        doc["cluster"] = cluster_to_doc(a.cluster)
    if a.source_disks is not None:
        doc["source"] = {"disks": list(a.source_disks)}
    if a.running is not None:
        run = a.running
        running: dict[str, Any] = {
            "host": run.host,
            "port": run.port,
            "user": run.user,
            "identity": run.identity,
            "host_key": run.host_key,
            "copy_identity": run.copy_identity,
        }
        if run.connect_timeout != 20.0:
            running["connect_timeout"] = run.connect_timeout
        doc.setdefault("source", {})["running"] = running
    lc = a.layout
    layout: dict[str, Any] = {"table": lc.table, "headroom": f"{lc.headroom * 100:g}%"}
    if lc.drop:
        layout["drop"] = list(lc.drop)
    if lc.explicit is not None:
        parts = []
        for r in lc.explicit:
            named = {"fit": "fit", "rest": "rest", "percent": f"{r.size}%"}
            size = named.get(r.mode) or exact_size_text(r.size)
            item: dict[str, Any] = {"mount": r.mountpoint, "size": size, "disk": r.disk}
            if r.fstype:
                item["fs"] = r.fstype
            parts.append(item)
        layout["partitions"] = parts
    doc["layout"] = layout
    doc["swap"] = lc.swap if isinstance(lc.swap, str) else exact_size_text(lc.swap)
    if lc.exclude:
        doc["exclude"] = list(lc.exclude)
    if a.bandwidth_limit is not None:
        doc["bandwidth_limit"] = exact_size_text(a.bandwidth_limit)
    fx = a.fixups
    if fx.hostname:
        doc["hostname"] = fx.hostname
    net: dict[str, Any] = {}
    if fx.interface:
        net["interface"] = fx.interface
    if fx.static:
        net["address"] = fx.static.address
        if fx.static.gateway:
            net["gateway"] = fx.static.gateway
        if fx.static.dns:
            net["dns"] = list(fx.static.dns)
    if net:
        doc["network"] = net
    doc["boot"] = lc.boot
    doc["firmware"] = lc.firmware
    doc["console"] = fx.console
    if fx.disabled:
        doc["fixups"] = {"disable": sorted(fx.disabled)}
    if a.cluster is None:  # with a cluster, p2v stops and starts the instance itself
        doc["after"] = a.after
    if a.report:
        doc["report"] = a.report
    if a.instance is not None:
        inst = facts_to_json(a.instance)
        inst.pop("version")
        doc["instance"] = inst
    return doc


def describe_swap(policy: SwapPolicy) -> str:
    return policy if isinstance(policy, str) else format_size(policy)
