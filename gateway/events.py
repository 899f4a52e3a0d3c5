"""Serve a job's event stream over a websocket: full replay, then live until the job ends."""

from __future__ import annotations

import logging

import redis.asyncio as aioredis
from starlette.websockets import WebSocket, WebSocketDisconnect

from gateway.context import Context
from shared.jobs import is_final
from shared.logs import JOB_ID

log = logging.getLogger("ethos.gateway.events")
BLOCK_MS = 1000


async def stream_events(ws: WebSocket, c: Context, job_id: str, owner: str | None = None) -> None:
    """Send every event from the first; close after the final one (or if the job is unknown,
    or, with ``owner``, belongs to another key: the two look alike)."""
    try:
        if (not JOB_ID.fullmatch(job_id) or await c.events.status(job_id) is None
                or (owner is not None and await c.events.owner(job_id) != owner)):
            await ws.send_json({"type": "error", "job_id": job_id, "code": "not_found",
                                "message": f"no job {job_id!r}"})
            await ws.close(code=4404)
            return
        last = "0"
        while True:
            batch = await c.events.read(job_id, last, BLOCK_MS)
            for eid, event in batch:
                last = eid
                await ws.send_json(event)
                if is_final(event):
                    await ws.close()
                    return
            if not batch and await c.events.status(job_id) is None:
                await ws.close()  # expired or removed while we waited
                return
    except WebSocketDisconnect:
        return
    except aioredis.RedisError as e:
        log.warning("event stream for %s stopped: %s", job_id, e)
        try:
            await ws.send_json({"type": "error", "job_id": job_id, "code": "redis_unavailable",
                                "message": "the job store (Redis) is unavailable"})
            await ws.close(code=1011)
        except Exception:  # noqa: BLE001 - the client may be gone too
            pass
