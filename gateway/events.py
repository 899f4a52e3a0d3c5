"""Serve a job's event stream over a websocket: full replay, then live until the job ends."""

from __future__ import annotations

import json
import logging
from typing import Any

import redis.asyncio as aioredis
from starlette.websockets import WebSocket, WebSocketDisconnect

from gateway.context import Context
from shared.jobs import is_final

log = logging.getLogger("ethos.gateway.events")
BLOCK_MS = 1000


async def stream_events(ws: WebSocket, c: Context, job_id: str) -> None:
    """Send every event from the first; close after the final one (or if the job is unknown)."""
    r: Any = ws.app.state.aredis
    key = c.jobs.events_key(job_id)
    try:
        if not job_id.startswith("job_") or not await r.exists(c.jobs.key(job_id)):
            await ws.send_json({"type": "error", "job_id": job_id, "code": "not_found",
                                "message": f"no job {job_id!r}"})
            await ws.close(code=4404)
            return
        last = "0"
        while True:
            batch: Any = await r.xread({key: last}, block=BLOCK_MS, count=500)
            for _stream, rows in batch or []:
                for eid, fields in rows:
                    last = eid
                    event = json.loads(fields["e"])
                    await ws.send_json(event)
                    if is_final(event):
                        await ws.close()
                        return
            if not batch:
                status = await r.hget(c.jobs.key(job_id), "status")
                if status is None:  # expired or removed while we waited
                    await ws.close()
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
