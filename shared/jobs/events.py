"""The end of a job's event stream, and the async reader of the streams (the gateway's
websocket and waits)."""

from __future__ import annotations

from typing import Any

import redis.asyncio as aioredis

from shared.jobs.encoding import decode_events
from shared.jobs.redis_keys import JobKeys
from shared.schemas.record import JobStatus

# Event streams end with one of these.
FINAL_EVENTS = ("done",)
FINAL_STATUSES = ("failed", "canceled")


def is_final(event: dict[str, Any]) -> bool:
    """The last event a job writes: ``done``, or a failed/canceled status."""
    return event.get("type") in FINAL_EVENTS or (
        event.get("type") == "status" and event.get("status") in FINAL_STATUSES
    )


class AsyncJobEvents:
    """The async reader of job records' existence and event streams (the gateway's websocket)."""

    def __init__(self, url: str, prefix: str = "ethos", socket_timeout_s: float = 5.0,
                 max_connections: int = 100) -> None:
        # A blocking pool: past ``max_connections`` a reader waits (up to 5 s) for a free one.
        pool = aioredis.BlockingConnectionPool.from_url(
            url, decode_responses=True, socket_connect_timeout=3, socket_timeout=socket_timeout_s,
            max_connections=max_connections, timeout=5)
        self.r: Any = aioredis.Redis(connection_pool=pool)
        self.keys = JobKeys(prefix)

    async def status(self, job_id: str) -> JobStatus | None:
        """The job's status, or None when there is no such job (or it expired)."""
        s = await self.r.hget(self.keys.job(job_id), "status")
        return JobStatus(s) if s else None

    async def owner(self, job_id: str) -> str | None:
        """The id of the API key that created the job (None: created on an open gateway)."""
        return await self.r.hget(self.keys.job(job_id), "owner")  # type: ignore[no-any-return]

    async def read(self, job_id: str, after: str, block_ms: int, count: int = 500) -> list[tuple[str, dict[str, Any]]]:
        """Events after stream id ``after``, waiting up to ``block_ms`` for the first."""
        res = await self.r.xread({self.keys.events(job_id): after}, block=block_ms, count=count)
        return [ev for _stream, rows in res or [] for ev in decode_events(rows)]

    async def close(self) -> None:
        await self.r.aclose()
