"""The Host header an open gateway answers: a guard against DNS rebinding.

With auth off (``make run``) anyone who reaches the port may act, and a web page a developer
visits can reach it by rebinding its own name to 127.0.0.1; its requests then carry that name
as ``Host``. So an open gateway answers only the host names in ``gateway.allowed_hosts``
(loopback names by default; ``*``: any). A gateway that needs keys has them as its guard.
"""

from __future__ import annotations

import json
from typing import Any

from starlette.types import ASGIApp, Receive, Scope, Send


def host_name(header: str) -> str:
    """The name in a Host header, without the port (``[::1]:8000`` → ``[::1]``)."""
    header = header.strip().lower()
    if header.startswith("["):
        return header[:header.find("]") + 1]
    return header.split(":", 1)[0]


class HostGuard:
    """ASGI middleware: 400 ``invalid_host`` for a Host not in ``allowed`` (websockets: closed)."""

    def __init__(self, app: ASGIApp, allowed: list[str]) -> None:
        self.app, self.allowed = app, {a.lower() for a in allowed}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket") or "*" in self.allowed:
            await self.app(scope, receive, send)
            return
        host = host_name(dict(scope.get("headers") or []).get(b"host", b"").decode("latin-1"))
        if host in self.allowed:
            await self.app(scope, receive, send)
            return
        if scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 4400})
            return
        body = json.dumps({"error": {"code": "invalid_host", "message":
                                     f"this open gateway answers only {sorted(self.allowed)} as Host "
                                     "(ETHOS_GATEWAY__ALLOWED_HOSTS)"}}).encode()
        await send({"type": "http.response.start", "status": 400,
                    "headers": [(b"content-type", b"application/json"),
                                (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})


def install(app: Any, allowed: list[str]) -> None:
    """Guard an open gateway's Host header."""
    app.add_middleware(HostGuard, allowed=allowed)
