"""Job ids and the clock every record and event uses."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime


def utcnow() -> str:
    """Current UTC time, ISO 8601 with millisecond precision."""
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def new_job_id() -> str:
    """A URL-safe, unguessable job id."""
    return "job_" + secrets.token_hex(10)
