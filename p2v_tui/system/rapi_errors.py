"""What can go wrong talking to a Ganeti cluster's RAPI, one class per
thing a person does something different about: the address (connection,
timeout), the pin, the credentials (401), the user's rights (403), the
cluster's answer, a job's failure. Every message is one line for the user
(a job's failure adds the lines of Ganeti's message) and never holds the
password.
"""

from __future__ import annotations

from ..model.rapi import Job
from ..model.rapi_requests import CertPin


class RapiError(Exception):
    """Talking to the cluster failed; the message is one line for the user
    and never holds the password."""


class RapiConnectionError(RapiError):
    """The cluster could not be reached, or TLS with it failed."""


class RapiTimeout(RapiConnectionError):
    """The cluster did not answer within the timeout."""


class RapiPinMismatch(RapiError):
    """The server's certificate is not the pinned one; nothing was sent."""

    def __init__(self, message: str, *, expected: CertPin, got: CertPin | None) -> None:
        super().__init__(message)
        self.expected = expected
        self.got = got


class RapiBadAnswer(RapiError):
    """An answer too large, not JSON, or not of the shape Ganeti sends."""


class RapiHttpError(RapiError):
    """The cluster answered with an HTTP error."""

    def __init__(self, message: str, *, status: int, method: str, path: str) -> None:
        super().__init__(message)
        self.status = status
        self.method = method
        self.path = path


class RapiAuthFailed(RapiHttpError):
    """401: the user or the password is wrong."""


class RapiForbidden(RapiHttpError):
    """403: the user may not do this (a read-only RAPI user)."""


class RapiNotFound(RapiHttpError):
    """404, or a job id Ganeti does not know (that one is a 200 with nulls)."""


class RapiJobFailed(RapiError):
    """A job ended in error or was canceled; the message names the job id."""

    def __init__(self, message: str, job: Job) -> None:
        super().__init__(message)
        self.job = job


class RapiJobTimeout(RapiError):
    """A job had not ended by the deadline; it goes on on the cluster."""

    def __init__(self, message: str, *, job_id: int, status: str) -> None:
        super().__init__(message)
        self.job_id = job_id
        self.status = status


class RapiPasswordFileError(RapiError):
    """The password file cannot be used; the message never quotes it."""
