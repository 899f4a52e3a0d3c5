"""The FastAPI app factory; start-up work runs in the lifespan, nothing heavy at import."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles

from gateway import bodylimit, errors, hosts, metrics
from gateway.context import Context
from gateway.events import BLOCK_MS
from gateway.routes import (
    corrections,
    health,
    jobs,
    openai_audio,
    original_app,
    speakers,
    webhook_secret,
)
from gateway.sockets import SocketSlots
from shared.celery_app import make_celery
from shared.jobs import AsyncJobEvents, JobStore, connect
from shared.keys import KeyStore
from shared.logs import redacted
from shared.settings import Settings, get_settings
from shared.storage import make_storage

STATIC = Path(__file__).parent / "static"
log = logging.getLogger("ethos.gateway")
# The Studio runs its own scripts and styles only, talks to its own origin (HTTP and the
# websocket) and may not be framed: an injected script or a clickjacking frame gets nothing.
STUDIO_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; script-src 'self'; style-src 'self'; "
                               "img-src 'self' data: blob:; media-src 'self' blob:; connect-src 'self'; "
                               "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the gateway app."""
    s = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        client = connect(s.redis.url, s.redis.socket_timeout_s)
        # Room for every websocket the gateway allows, and for synchronous waits beside them.
        events = AsyncJobEvents(s.redis.url, s.redis.key_prefix,
                                socket_timeout_s=s.redis.socket_timeout_s + BLOCK_MS / 1000,
                                max_connections=s.gateway.max_websockets + 64)
        app.state.sockets = SocketSlots(s.gateway.max_websockets_per_key, s.gateway.max_websockets)
        app.state.ctx = Context(
            settings=s,
            jobs=JobStore(client, s.redis.key_prefix, s.redis.job_ttl_s),
            events=events,
            storage=make_storage(s.storage),
            celery=make_celery(s),
            keys=KeyStore(client, s.redis.key_prefix),
        )
        log.info("gateway ready: storage=%s redis=%s auth=%s", s.storage.backend, redacted(s.redis.url),
                 "required" if s.auth.required else "open")
        if not s.auth.required:
            log.warning("*** AUTH IS OFF: anyone who can reach %s:%d can upload, list and read "
                        "every job. Set ETHOS_AUTH__REQUIRED=true and create keys with "
                        "`ethos-admin keys create` before exposing this server. ***",
                        s.gateway.host, s.gateway.port)
        yield
        client.close()
        await events.close()

    # Swagger UI and ReDoc load their scripts from a CDN: not on an origin whose pages hold API
    # keys (the Studio's localStorage). /openapi.json stays.
    docs = not s.auth.required
    app = FastAPI(title="Ethos", version="0.1.0", lifespan=lifespan,
                  docs_url="/docs" if docs else None, redoc_url="/redoc" if docs else None,
                  description="Emotion-aware transcription: upload, poll or stream, read the result.")
    errors.install(app)
    bodylimit.install(app, s.gateway.max_json_bytes)
    if not s.auth.required:  # keys guard a closed gateway; an open one checks the Host
        hosts.install(app, s.gateway.allowed_hosts)
    if s.auth.cors_origins:  # none: browsers allow same-origin calls only
        app.add_middleware(CORSMiddleware, allow_origins=s.auth.cors_origins,
                           allow_methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
                           allow_headers=["Authorization", "Content-Type", "Range", "If-Match"],
                           expose_headers=["Retry-After", "Location", "Content-Range", "ETag"])
    metrics.install(app)
    app.include_router(jobs.router)
    app.include_router(corrections.router)
    app.include_router(speakers.router)
    app.include_router(original_app.router)
    app.include_router(openai_audio.router)
    app.include_router(health.router)
    app.include_router(webhook_secret.router)

    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    @app.get("/", include_in_schema=False)
    def studio() -> FileResponse:
        """The Studio page, with its own scripts only and in no frame."""
        return FileResponse(STATIC / "index.html", headers=STUDIO_HEADERS)

    return app
