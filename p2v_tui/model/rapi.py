"""What Ganeti's remote API (RAPI, 3.0) answers, parsed strictly: jobs,
errors and the small answers.

The cluster is reached over the network and, even behind a pinned
certificate, answers whatever it answers: a wrong type, megabytes, escape
sequences in a job message. Each parser takes the decoded JSON document of
one answer (:func:`~p2v_tui.model.rapi_values.parse_json`) and returns
frozen dataclasses, or raises
:class:`~p2v_tui.model.rapi_values.MalformedRapiAnswer` with one line
saying what was wrong; the client (``system/rapi.py``) names the request
in front of it. Every text is made printable (control characters
escaped) and cut to a bounded length; sizes are in Ganeti's unit, MiB.

The shapes are those of Ganeti 3.0.2, recorded on a real cluster
(``tests/data/rapi``). Two of them are surprising: a job id Ganeti does
not know is ``200`` with every field ``null`` (:class:`UnknownJob`), and
the ``message`` of an error body is HTML-escaped (:func:`error_message`).
The cluster, its node groups, nodes and instances are parsed in
:mod:`p2v_tui.model.rapi_cluster`; what p2v sends is built in
:mod:`p2v_tui.model.rapi_requests`.
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field

from .rapi_values import (
    ITEMS_MAX,
    MESSAGE_MAX,
    NAME_MAX,
    TOKEN,
    MalformedRapiAnswer,
    as_int,
    as_list,
    as_message,
    as_name,
    as_names,
    as_object,
    as_token,
    clip,
)
from .validate import printable

JOB_STATUSES = frozenset({"queued", "waiting", "running", "canceling", "canceled", "success", "error"})
JOB_FINAL = frozenset({"success", "error", "canceled"})


class UnknownJob(ValueError):
    """Ganeti has no job of that id (it answers 200 with every field null)."""


# -- errors, ids, small answers --------------------------------------------------


def error_message(doc: object) -> str | None:
    """The ``message`` of a RAPI error body (``{"code", "message",
    "explain"}``) as one printable line, HTML entities unescaped (Ganeti's
    HTTP server escapes it: ``Can&#x27;t``); None when the body is not one."""
    message = doc.get("message") if isinstance(doc, dict) else None
    if not isinstance(message, str) or not message.strip():
        return None
    return printable(clip(html.unescape(message).strip(), MESSAGE_MAX))


def parse_job_id(doc: object) -> int:
    """What a job-submitting request answers: the new job's id, a bare
    JSON integer (``15``)."""
    return as_int(doc, "the job id")


def parse_api_version(doc: object) -> int:
    """``GET /version``: the RAPI's version, ``2`` on Ganeti 2.x and 3.x."""
    return as_int(doc, "the RAPI version", 1000)


def parse_features(doc: object) -> frozenset[str]:
    """``GET /2/features``, e.g. ``instance-create-reqv1``: the create body
    p2v sends (``__version__: 1``) needs that one."""
    return frozenset(as_token(v, "a feature") for v in as_list(doc, "the features", 100))


def parse_instance_names(doc: object) -> tuple[str, ...]:
    """``GET /2/instances``: ``[{"id": NAME, "uri": ...}, ...]``, the full names."""
    out = []
    for i, entry in enumerate(as_list(doc, "the instances")):
        out.append(as_name(as_object(entry, f"instance {i}").get("id"), f"instance {i}'s id"))
    return tuple(out)


# -- jobs --------------------------------------------------------------------------


@dataclass(frozen=True)
class JobLogEntry:
    serial: int
    """Increases by one per message over the whole job."""
    kind: str
    """``message`` for text; Ganeti has a few others (``remote-import``)."""
    message: str


@dataclass(frozen=True)
class OpError:
    """Why one opcode of a job failed, as Ganeti encodes exceptions:
    ``["OpPrereqError", ["Instance 'x' is already in the cluster", "already_exists"]]``."""

    index: int
    """The opcode's position in the job (p2v's jobs have one)."""
    error_class: str
    """``OpPrereqError`` (refused before anything was done), ``OpExecError``, ..."""
    message: str
    """Ganeti's message; an OS script's failure carries its last log lines."""
    code: str | None
    """Ganeti's error code (``wrong_input``, ``already_exists``, ...), when given."""


@dataclass(frozen=True)
class Job:
    """``GET /2/jobs/ID``."""

    id: int
    status: str
    """One of :data:`JOB_STATUSES`."""
    op_statuses: tuple[str, ...]
    log: tuple[JobLogEntry, ...]
    errors: tuple[OpError, ...]
    summary: tuple[str, ...]
    """One per opcode, e.g. ``INSTANCE_CREATE(web1.example.org)``."""
    results: tuple[object, ...] = field(default=(), repr=False)
    """Each opcode's raw result: read it with :func:`job_nodes` or
    :func:`job_changes`, which check it."""

    @property
    def finished(self) -> bool:
        return self.status in JOB_FINAL

    def failure(self) -> str | None:
        """One message naming the job and what Ganeti said when it failed or
        was canceled; None while it runs or when it succeeded."""
        if self.status == "canceled":
            return f"Ganeti job {self.id} was canceled"
        if self.status != "error":
            return None
        if not self.errors:
            return f"Ganeti job {self.id} failed without a message"
        e = self.errors[0]
        code = f" ({e.code})" if e.code else ""
        return f"Ganeti job {self.id} failed: {e.error_class}: {e.message}{code}"


def _log_entry(value: object, what: str) -> JobLogEntry:
    entry = as_list(value, what, 4)
    if len(entry) != 4:
        raise MalformedRapiAnswer(f"{what} has {len(entry)} fields, not [serial, time, type, message]")
    return JobLogEntry(
        as_int(entry[0], f"{what}'s serial"), as_token(entry[2], f"{what}'s type"), as_message(entry[3])
    )


def _op_error(index: int, value: object) -> OpError:
    """A failed opcode's result: ``[class, [message]]`` or ``[class,
    [message, ecode]]``; another shape still says the opcode failed."""
    if isinstance(value, list) and len(value) == 2 and isinstance(value[0], str) and TOKEN.match(value[0]):
        args = value[1]
        if isinstance(args, list) and args and isinstance(args[0], str):
            code = args[1] if len(args) > 1 and isinstance(args[1], str) and TOKEN.match(args[1]) else None
            return OpError(index, value[0], as_message(args[0]), code)
        return OpError(index, value[0], as_message(args), None)
    return OpError(index, "error", as_message(value), None)


def parse_job(doc: object, job_id: int) -> Job:
    """``GET /2/jobs/ID`` for the job ``job_id``."""
    job = as_object(doc, "the job")
    if job.get("status") is None and job.get("opstatus") is None:
        raise UnknownJob(f"Ganeti knows no job {job_id}")
    if as_int(job.get("id"), "the job's id") != job_id:
        raise MalformedRapiAnswer(f"the answer is about job {job.get('id')}, not job {job_id}")
    status = job.get("status")
    if not isinstance(status, str) or status not in JOB_STATUSES:
        raise MalformedRapiAnswer(f"job status {as_message(status)[:40]!r} is not one Ganeti has")
    op_statuses = tuple(
        as_token(s, "an opcode's status") for s in as_list(job.get("opstatus"), "opstatus", 100)
    )
    results = as_list(job.get("opresult"), "opresult", 100)
    if len(results) != len(op_statuses):
        raise MalformedRapiAnswer(f"{len(results)} opcode results for {len(op_statuses)} opcodes")
    log: list[JobLogEntry] = []
    for i, op_log in enumerate(as_list(job.get("oplog") or [], "oplog", 100)):
        entries = as_list(op_log, f"opcode {i}'s log")
        log.extend(_log_entry(e, f"log entry {len(log) + j}") for j, e in enumerate(entries))
        if len(log) > ITEMS_MAX:
            raise MalformedRapiAnswer(f"the job's log has more than {ITEMS_MAX} messages")
    errors = tuple(_op_error(i, results[i]) for i, s in enumerate(op_statuses) if s == "error")
    summary = job.get("summary")
    return Job(
        id=job_id,
        status=status,
        op_statuses=op_statuses,
        log=tuple(sorted(log, key=lambda e: e.serial)),
        errors=errors,
        summary=tuple(as_message(s, NAME_MAX, lines=False) for s in as_list(summary or [], "summary", 100)),
        results=tuple(results),
    )


def job_nodes(job: Job) -> tuple[str, ...]:
    """The node(s) an instance-create job placed the instance on: names,
    or node UUIDs after a dry run (Ganeti answers those there)."""
    return as_names(job.results[0] if job.results else None, "the create job's result")


def job_changes(job: Job) -> tuple[tuple[str, str], ...]:
    """What a modify job changed: ``(("hv/kernel_path", ""), ...)``."""
    out = []
    for i, pair in enumerate(as_list(job.results[0] if job.results else None, "the modify job's result")):
        items = as_list(pair, f"change {i}", 2)
        if len(items) != 2:
            raise MalformedRapiAnswer(f"change {i} is not [parameter, value]")
        out.append((as_name(items[0], f"change {i}'s parameter"), as_message(items[1])))
    return tuple(out)


@dataclass(frozen=True)
class JobProgress:
    """What changed in a job since the last poll, for a progress display."""

    job_id: int
    status: str
    status_changed: bool
    messages: tuple[str, ...]
    """Log messages that are new since the last poll, in order."""


def job_progress(previous: Job | None, current: Job) -> JobProgress | None:
    """The news between two polls of one job; None when there is none."""
    seen = max((e.serial for e in previous.log), default=-1) if previous else -1
    new = tuple(e.message for e in current.log if e.serial > seen)
    changed = previous is None or previous.status != current.status
    if not changed and not new:
        return None
    return JobProgress(current.id, current.status, changed, new)
