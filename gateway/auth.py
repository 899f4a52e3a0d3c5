"""Who is calling: API keys on every job endpoint, per-key rate and concurrency limits.

HTTP callers send ``Authorization: Bearer <key>``. The websocket takes the key before it
accepts the connection, from the same header (non-browser clients) or, since browsers cannot
set headers on a websocket, from the subprotocol list: ``["ethos", "ethos.key.<key>"]``; the
server answers with the ``ethos`` subprotocol. (A subprotocol rather than a query parameter,
so the key never lands in access logs or proxy logs.) With ``auth.required`` off the gateway
is open: every caller is the same anonymous one and sees every job.
"""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import Depends, Request
from starlette.websockets import WebSocket

from gateway.context import Context, ctx
from gateway.errors import ApiError
from shared.schemas import JobRecord

WS_SUBPROTOCOL = "ethos"
WS_KEY_PREFIX = "ethos.key."
MEDIA_COOKIE = "ethos_key"
CHALLENGE = {"WWW-Authenticate": 'Bearer realm="ethos"'}


@dataclass(frozen=True)
class Caller:
    """The API key behind a request; ``key_id`` None on an open gateway."""

    key_id: str | None

    def owns(self, rec: JobRecord) -> bool:
        """Whether this caller may see the job (everyone may on an open gateway)."""
        return self.key_id is None or rec.owner == self.key_id


OPEN = Caller(None)


def _bearer(header: str | None) -> str | None:
    if not header:
        return None
    scheme, _, value = header.partition(" ")
    return value.strip() if scheme.lower() == "bearer" and value.strip() else None


def _identify(c: Context, key: str | None) -> Caller:
    """The caller behind ``key``; 401 when the gateway needs one and this is not a live key."""
    if not c.settings.auth.required:
        return OPEN
    if key is None:
        raise ApiError(401, "unauthorized", "this server needs an API key: send "
                       "'Authorization: Bearer <key>' (ask its operator for one)", CHALLENGE)
    key_id = c.keys.verify(key)
    if key_id is None:
        raise ApiError(401, "unauthorized", "the API key is not valid or was revoked", CHALLENGE)
    return Caller(key_id)


def caller(request: Request, c: Context = Depends(ctx)) -> Caller:
    """FastAPI dependency: the calling key, checked and counted against its request rate."""
    key = _bearer(request.headers.get("authorization"))
    if key is None and request.method == "GET":
        # The Studio's <audio>/<video> cannot send headers: its SameSite=Strict cookie counts
        # for reads only, so no cross-site form can act with it.
        key = request.cookies.get(MEDIA_COOKIE) or None
    who = _identify(c, key)
    limit = c.settings.auth.requests_per_minute
    if who.key_id and limit:
        wait = c.keys.hit(who.key_id, limit)
        if wait:
            raise ApiError(429, "rate_limited", f"more than {limit} requests per minute with this key; "
                           f"retry after {wait:g} s", {"Retry-After": str(int(wait))})
    return who


def reserve_job_slot(c: Context, who: Caller, job_id: str) -> None:
    """Hold one of the key's unfinished-job slots for ``job_id`` (atomically: parallel uploads
    cannot all take the last one); 429 when its unfinished jobs and reservations fill them."""
    limit = c.settings.auth.max_active_jobs
    if who.key_id and limit and not c.jobs.reserve_slot(who.key_id, job_id, limit):
        raise ApiError(429, "too_many_jobs", f"this key already has {limit} unfinished jobs; wait "
                       "for one to finish (or delete one)", {"Retry-After": "10"})


def release_job_slot(c: Context, who: Caller, job_id: str) -> None:
    """Give back the slot of a job that was not recorded after all."""
    if who.key_id:
        c.jobs.release_slot(who.key_id, job_id)


def reserve_storage(c: Context, who: Caller, job_id: str, total: int) -> None:
    """Count ``total`` bytes (the upload's running size) against the key's storage quota before
    they are written; 413 ``storage_quota_exceeded`` when they would pass it."""
    quota = c.settings.auth.max_stored_bytes
    if not who.key_id or not quota:
        return
    ok, used = c.jobs.reserve_bytes(who.key_id, job_id, total, quota)
    if not ok:
        raise ApiError(413, "storage_quota_exceeded",
                       f"this key keeps {used} bytes of uploads stored and may keep {quota}: this upload "
                       "would pass that; delete finished jobs (DELETE /v1/jobs/{id}) or wait for retention")


def ws_key(ws: WebSocket) -> tuple[str | None, str | None]:
    """The key a websocket client offered, and the subprotocol to answer with."""
    offered = [p.strip() for p in ws.headers.get("sec-websocket-protocol", "").split(",") if p.strip()]
    key = next((p[len(WS_KEY_PREFIX):] for p in offered if p.startswith(WS_KEY_PREFIX)), None)
    answer = WS_SUBPROTOCOL if WS_SUBPROTOCOL in offered else None
    return key or _bearer(ws.headers.get("authorization")), answer


def ws_caller(ws: WebSocket, c: Context) -> Caller | None:
    """The websocket's caller, or None when its key is missing or not valid."""
    key, _ = ws_key(ws)
    try:
        return _identify(c, key)
    except ApiError:
        return None
