"""A bound on JSON request bodies (corrections): 413 before a large body is held in memory.

Multipart uploads stream to storage with their own limit (``upload.py``); a JSON body is read
whole by FastAPI before validation, so it is bounded here, by ``Content-Length`` at once and
by reading it here up to the limit when it comes chunked.
"""

from __future__ import annotations

import json
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send


def _refuse(limit: int) -> list[Message]:
    body = json.dumps({"error": {"code": "too_large",
                                 "message": f"the JSON body is over {limit} bytes "
                                            "(ETHOS_GATEWAY__MAX_JSON_BYTES)"}}).encode()
    return [{"type": "http.response.start", "status": 413,
             "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]},
            {"type": "http.response.body", "body": body}]


class JsonBodyLimit:
    """ASGI middleware: JSON bodies over ``limit`` bytes get 413 ``too_large``."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app, self.limit = app, limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers: dict[bytes, bytes] = dict(scope.get("headers") or []) if scope["type"] == "http" else {}
        if b"json" not in headers.get(b"content-type", b""):
            await self.app(scope, receive, send)
            return
        length = headers.get(b"content-length", b"")
        if length.isdigit() and int(length) > self.limit:
            for m in _refuse(self.limit):
                await send(m)
            return
        if length.isdigit():
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
                for m in _refuse(self.limit):
                    await send(m)
                return
            chunks.append(msg.get("body", b""))
            if not msg.get("more_body"):
                break
        replay: list[Message] = [{"type": "http.request", "body": b"".join(chunks), "more_body": False}]

        async def replayed() -> Message:
            return replay.pop() if replay else await receive()

        await self.app(scope, replayed, send)


def install(app: Any, limit: int) -> None:
    """Bound the app's JSON request bodies."""
    app.add_middleware(JsonBodyLimit, limit=limit)
