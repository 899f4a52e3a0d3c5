"""Liveness and readiness."""

from __future__ import annotations

import time
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse

from gateway.auth import _bearer as bearer
from gateway.auth import _identify as identify
from gateway.context import Context, ctx
from gateway.errors import ApiError
from shared import steps
from shared.celery_app import QUEUES
from shared.schemas import Health, Readiness

router = APIRouter(tags=["health"])


@router.get("/healthz", response_model=Health)
def healthz() -> Health:
    """The gateway process is alive."""
    return Health(status="ok")


@router.get("/health", response_model=Health)
def health() -> Health:
    """Original Ethos liveness endpoint."""
    return Health(status="ok")


def readiness(c: Context) -> tuple[bool, dict[str, Any]]:
    """Each dependency and its state: Redis, storage, and live workers per queue."""
    deps: dict[str, Any] = {}
    try:
        c.jobs.ping()
        deps["redis"] = {"state": "ok"}
    except Exception as e:  # noqa: BLE001 - reported, not raised
        deps["redis"] = {"state": "down", "message": f"Redis unreachable: {e}"}
    try:
        c.storage.ping()
        deps["storage"] = {"state": "ok", "backend": c.storage.name}
    except Exception as e:  # noqa: BLE001
        deps["storage"] = {"state": "down", "backend": c.storage.name, "message": str(e)}
    # A step's queue is needed only while the step may run (e.g. diarize while it is on).
    optional = {st.queue for st in steps.STEPS} - {st.queue for st in steps.STEPS if st.needed(c.settings)}
    queues = [q for q in QUEUES if q not in optional]
    workers: dict[str, list[dict[str, Any]]] = {q: [] for q in queues}
    if deps["redis"]["state"] == "ok":
        now = time.time()
        for info in c.jobs.live_workers():
            entry = {"hostname": info.get("hostname"), "age_s": round(now - info.get("at", now), 1)}
            for q in info.get("queues", []):
                if q in workers:
                    workers[q].append({**entry, **(info.get(q) or {})})
    for q, found in workers.items():
        ready = [w for w in found if w.get("ready", True)]
        state = "ok" if ready else ("not_ready" if found else "no_workers")
        deps[f"workers.{q}"] = {"state": state, "workers": found}
    ok = all(d["state"] == "ok" for d in deps.values())
    return ok, deps


def _has_key(c: Context, request: Request) -> bool:
    try:
        identify(c, bearer(request.headers.get("authorization")))
    except ApiError:
        return False
    return True


@router.get("/readyz", response_model=Readiness,
            responses={503: {"model": Readiness, "description": "A dependency is not ready"}})
def readyz(request: Request, c: Context = Depends(ctx)) -> JSONResponse:
    """Ready when Redis and storage answer and every queue has a live, ready worker. Where the
    gateway needs keys, a caller without one sees each dependency's state only (no worker host
    names, no error messages)."""
    ok, deps = readiness(c)
    if c.settings.auth.required and not _has_key(c, request):
        deps = {name: {"state": d["state"]} for name, d in deps.items()}
    body = Readiness(status="ready" if ok else "not_ready", dependencies=deps,
                     auth="required" if c.settings.auth.required else "open")
    return JSONResponse(body.model_dump(mode="json"), status_code=200 if ok else 503)
