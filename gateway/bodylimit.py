"""The gate every request body passes before the app reads it: the key first, then a bound.

FastAPI reads a route's whole body before its dependencies (the key check) run, so both are
done here, at the ASGI level, for every route that is not an upload, whatever the body's
content type:

- when the gateway needs a key, a request that carries a body without a live key gets 401
  before one byte of the body is read;
- a body over ``limit`` bytes gets 413: at once when ``Content-Length`` says so, after reading
  at most ``limit`` bytes when it comes chunked.

Uploads (``UPLOAD_PATHS``) stream to storage with their own limits (``upload.py``), after the
route's key check.
"""

from __future__ import annotations

import json
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gateway.auth import _bearer as bearer
from gateway.auth import _identify as identify
from gateway.errors import ApiError

# POST routes whose body is a multipart upload, read by the route after its key check.
UPLOAD_PATHS = frozenset({"/v1/jobs", "/api/transcribe-diarize", "/transcribe-diarize", "/transcribe",
                          "/transcribe/stream", "/v1/audio/transcriptions", "/v1/audio/translations"})


async def _send_error(send: Send, status: int, code: str, message: str,
                      headers: dict[str, str] | None = None) -> None:
    body = json.dumps({"error": {"code": code, "message": message}}).encode()
    hdrs = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
            (b"connection", b"close")]
    hdrs += [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()]
    await send({"type": "http.response.start", "status": status, "headers": hdrs})
    await send({"type": "http.response.body", "body": body})


class BodyGate:
    """ASGI middleware: key before body, and a bound on every non-upload body."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app, self.limit = app, limit

    def _too_large(self) -> tuple[int, str, str]:
        return 413, "too_large", (f"the request body is over {self.limit} bytes "
                                  "(ETHOS_GATEWAY__MAX_JSON_BYTES)")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or (scope["method"] == "POST" and scope["path"] in UPLOAD_PATHS):
            await self.app(scope, receive, send)
            return
        headers: dict[bytes, bytes] = dict(scope.get("headers") or [])
        length = headers.get(b"content-length", b"")
        chunked = b"chunked" in headers.get(b"transfer-encoding", b"").lower()
        if not chunked and length in (b"", b"0"):  # no body: nothing to guard
            await self.app(scope, receive, send)
            return
        ctx = getattr(scope["app"].state, "ctx", None) if "app" in scope else None
        if ctx is not None and ctx.settings.auth.required:
            try:
                await run_in_threadpool(identify, ctx, bearer(headers.get(b"authorization", b"").decode("latin-1")))
            except ApiError as e:
                await _send_error(send, e.status, e.code, e.message, e.headers)
                return
        if not chunked:
            if not length.isdigit():
                await _send_error(send, 400, "invalid_request", "Content-Length is not a number")
            elif len(length) > 18 or int(length) > self.limit:
                await _send_error(send, *self._too_large())
            else:
                await self.app(scope, receive, send)
            return
        # Chunked: read it here, up to the limit, then hand it on whole.
        chunks: list[bytes] = []
        seen = 0
        while True:
            msg = await receive()
            if msg["type"] != "http.request":
                return  # the client went away
            seen += len(msg.get("body", b""))
            if seen > self.limit:
                await _send_error(send, *self._too_large())
                return
            chunks.append(msg.get("body", b""))
            if not msg.get("more_body"):
                break
        replay: list[Message] = [{"type": "http.request", "body": b"".join(chunks), "more_body": False}]

        async def replayed() -> Message:
            return replay.pop() if replay else await receive()

        await self.app(scope, replayed, send)


def install(app: Any, limit: int) -> None:
    """Guard the app's request bodies."""
    app.add_middleware(BodyGate, limit=limit)
