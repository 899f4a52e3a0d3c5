"""Prometheus metrics of the gateway, served at ``GET /metrics`` (text format 0.0.4).

Measured here, per app (each app has its own registry):
  ``ethos_http_requests_total{method, route, status}`` and ``ethos_http_request_seconds{route}``
  (the route template, e.g. ``/v1/jobs/{job_id}``, so job ids never become labels),
  ``ethos_upload_bytes_total``.
Read from Redis at each scrape (true for the whole deployment, whichever gateway or worker
changed them): ``ethos_jobs_submitted_total``, ``ethos_jobs_finished_total{status}`` and
``ethos_queue_depth{queue}``.

The ASGI middleware also puts the request's job id (from the path, or the one
``accept_job`` creates) in scope for the log lines (shared/logs.py).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from typing import Any

from fastapi import Depends, FastAPI, Request
from fastapi.responses import Response
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gateway.auth import caller
from shared.celery_app import QUEUES
from shared.logs import JOB_ID, job_context

log = logging.getLogger("ethos.gateway.metrics")
FINAL = ("succeeded", "failed", "canceled")


class GatewayMetrics:
    """The gateway's registry and its request/upload instruments."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter("ethos_http_requests", "HTTP requests answered",
                                ["method", "route", "status"], registry=self.registry)
        self.latency = Histogram("ethos_http_request_seconds", "Time to answer an HTTP request",
                                 ["route"], registry=self.registry,
                                 buckets=(0.005, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 120, 600))
        self.upload_bytes = Counter("ethos_upload_bytes", "Upload bytes received into storage",
                                    registry=self.registry)


class JobsCollector(Collector):
    """Job counters and queue depths, read from Redis when scraped."""

    def __init__(self, app: FastAPI) -> None:
        self.app = app

    def collect(self) -> Iterator[Any]:
        c = getattr(self.app.state, "ctx", None)
        if c is None:
            return
        try:
            counts = c.jobs.job_counts()
            depths = c.jobs.queue_depths(QUEUES)
        except Exception:  # Redis down: the scrape still answers, without these series
            log.warning("metrics: Redis unreachable", exc_info=True)
            return
        submitted = CounterMetricFamily("ethos_jobs_submitted", "Jobs accepted (all gateways)")
        submitted.add_metric([], counts.get("submitted", 0))
        yield submitted
        finished = CounterMetricFamily("ethos_jobs_finished", "Jobs finished, by final status",
                                       labels=["status"])
        for status in FINAL:
            finished.add_metric([status], counts.get(status, 0))
        yield finished
        depth = GaugeMetricFamily("ethos_queue_depth", "Tasks waiting in a Celery queue", labels=["queue"])
        for q, n in depths.items():
            depth.add_metric([q], n)
        yield depth


def _route_of(scope: Scope) -> str:
    """The matched route's template (the router records it in the scope), never the raw path."""
    route = scope.get("route")
    path = getattr(route, "path_format", None) or getattr(route, "path", None)
    return str(path) if path else "unmatched"


class MetricsMiddleware:
    """Counts and times every HTTP request; sets the job id in scope for logging."""

    def __init__(self, app: ASGIApp, metrics: GatewayMetrics) -> None:
        self.app, self.metrics = app, metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        found = JOB_ID.search(scope.get("path", ""))
        with job_context(found.group(0) if found else None):
            if scope["type"] != "http":
                await self.app(scope, receive, send)
            else:
                await self._http(scope, receive, send)

    async def _http(self, scope: Scope, receive: Receive, send: Send) -> None:
        start = time.perf_counter()
        status = 500

        async def sending(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            route = _route_of(scope)
            self.metrics.requests.labels(scope["method"], route, str(status)).inc()
            self.metrics.latency.labels(route).observe(time.perf_counter() - start)


def install(app: FastAPI) -> GatewayMetrics:
    """Add the middleware, the Redis-backed collector and ``GET /metrics`` to the app."""
    metrics = GatewayMetrics()
    metrics.registry.register(JobsCollector(app))
    app.state.metrics = metrics
    app.add_middleware(MetricsMiddleware, metrics=metrics)

    @app.get("/metrics", include_in_schema=False, dependencies=[Depends(caller)])
    def prometheus(request: Request) -> Response:
        """Prometheus text format (with a key where the gateway needs one)."""
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    return metrics


def count_upload(request: Request, size: int) -> None:
    """Add an accepted upload's bytes to ``ethos_upload_bytes_total``."""
    metrics: GatewayMetrics | None = getattr(request.app.state, "metrics", None)
    if metrics is not None:
        metrics.upload_bytes.inc(size)
