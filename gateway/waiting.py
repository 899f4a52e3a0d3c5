"""Wait on a job's event stream (the one async reader, ``Context.events``) with a deadline."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import Any

from gateway.context import Context
from gateway.events import BLOCK_MS
from shared.jobs import is_final


class WaitTimedOut(Exception):
    """The job did not end within the wait."""


async def follow(c: Context, job_id: str, wait_s: float) -> AsyncIterator[dict[str, Any]]:
    """Yield the job's events from the first until its final one; WaitTimedOut past ``wait_s``.

    Leaving early (a client that went away) only stops reading: the job runs on."""
    deadline = time.monotonic() + wait_s
    last = "0"
    while True:
        left_ms = int((deadline - time.monotonic()) * 1000)
        if left_ms <= 0:
            raise WaitTimedOut(job_id)
        batch = await c.events.read(job_id, last, min(BLOCK_MS, left_ms))
        for eid, event in batch:
            last = eid
            yield event
            if is_final(event):
                return
        if not batch and await c.events.status(job_id) is None:
            raise WaitTimedOut(job_id)  # the record expired while we waited
