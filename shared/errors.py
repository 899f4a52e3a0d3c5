"""Errors a job can end with: a stable ``code`` and a message meant for the user."""

from __future__ import annotations


class EthosError(Exception):
    """An error with a stable code that reaches the user as ``{"code", "message"}``."""

    code = "internal_error"

    def __init__(self, message: str, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code:
            self.code = code


class UnsupportedMedia(EthosError):
    code = "unsupported_media"


class TooLong(EthosError):
    code = "too_long"


class ModelUnavailable(EthosError):
    code = "model_unavailable"


class JobGone(Exception):
    """The job was canceled or deleted while a task worked on it; stop quietly."""
