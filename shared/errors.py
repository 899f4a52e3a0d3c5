"""Errors a job can end with: a stable ``code`` and a message meant for the user."""

from __future__ import annotations


class JobError(Exception):
    """An error that ends a job with a stable code, reaching the user as ``{"code", "message"}``
    (the Python client's own ``ethos_client.EthosError`` is an HTTP error it receives)."""

    code = "internal_error"

    def __init__(self, message: str, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code:
            self.code = code


class UnsupportedMedia(JobError):
    code = "unsupported_media"


class TooLong(JobError):
    code = "too_long"


class ModelUnavailable(JobError):
    code = "model_unavailable"


class JobGone(Exception):
    """The job was canceled or deleted while a task worked on it; stop quietly."""
