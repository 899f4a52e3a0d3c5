"""Structured logs: one JSON object a line, carrying the job id wherever one is in scope.

Every service calls :func:`configure` once at start (the gateway in ``gateway/__main__.py``, the
workers through Celery's ``setup_logging`` signal). The job id comes from a context variable
that the gateway sets per request (``gateway/metrics.py``) and the workers per task
(``workers/metrics.py``); ``ETHOS_LOG_FORMAT=text`` switches to the plain format.
"""

from __future__ import annotations

import contextlib
import contextvars
import json
import logging
import re
import sys
from collections.abc import Iterator
from datetime import UTC, datetime

job_id_var: contextvars.ContextVar[str | None] = contextvars.ContextVar("ethos_job_id", default=None)

JOB_ID = re.compile(r"job_[0-9a-f]{20}")
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s%(job_suffix)s: %(message)s"
# LogRecord attributes that are not extra fields.
_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime", "job_id", "job_suffix"}


def current_job() -> str | None:
    return job_id_var.get()


@contextlib.contextmanager
def job_context(job_id: str | None) -> Iterator[None]:
    """Log lines written inside carry ``job_id``."""
    token = job_id_var.set(job_id)
    try:
        yield
    finally:
        job_id_var.reset(token)


class JobIdFilter(logging.Filter):
    """Puts the job in scope on the record (``job_id``; an explicit ``extra`` wins)."""

    def filter(self, record: logging.LogRecord) -> bool:
        job_id = getattr(record, "job_id", None) or job_id_var.get()
        record.job_id = job_id  # type: ignore[attr-defined]
        record.job_suffix = f" [{job_id}]" if job_id else ""  # type: ignore[attr-defined]
        return True


class JsonFormatter(logging.Formatter):
    """``{"ts", "level", "logger", "service", "msg", "job_id"?, "exc"?, ...extra}``."""

    def __init__(self, service: str) -> None:
        super().__init__()
        self.service = service

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, object] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "level": record.levelname,
            "logger": record.name,
            "service": self.service,
            "msg": record.getMessage(),
        }
        job_id = getattr(record, "job_id", None)
        if job_id:
            out["job_id"] = job_id
        for key, value in vars(record).items():
            if key not in _STANDARD and not key.startswith("_"):
                out[key] = value if isinstance(value, str | int | float | bool | type(None)) else repr(value)
        if record.exc_info:
            out["exc"] = self.formatException(record.exc_info)
        if record.stack_info:
            out["stack"] = self.formatStack(record.stack_info)
        return json.dumps(out, ensure_ascii=False)


def configure(service: str, level: str = "INFO", fmt: str = "json") -> None:
    """Route every logger (ours, Celery's, uvicorn's) through one stderr handler."""
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(JobIdFilter())
    handler.setFormatter(JsonFormatter(service) if fmt == "json" else logging.Formatter(TEXT_FORMAT))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access", "celery"):
        lg = logging.getLogger(name)
        lg.handlers.clear()
        lg.propagate = True


def redacted(url: str) -> str:
    """A URL fit for a log line: its password (``redis://:secret@host``) shown as ``***``."""
    return re.sub(r"(//[^/@:]*):[^/@]*@", r"\1:***@", url)
