"""The worker bootstrap: the Celery app with its tasks, signal handlers and describers.

``python -m workers worker -Q cpu`` (see ``workers/__main__.py``) builds it; nothing here runs
at import.
"""

from __future__ import annotations

from typing import Any

from celery import Celery

from shared import logs, steps
from shared.celery_app import make_celery
from workers import metrics, runtime


def create_worker_app() -> Celery:
    """The Celery app a worker process runs, with its heartbeat, logging and metrics installed."""
    from celery.signals import setup_logging

    s = runtime.settings()

    def configure_logging(**_: Any) -> None:  # connected: Celery leaves logging to us
        logs.configure("worker", s.log_level, s.log_format)

    setup_logging.connect(configure_logging, weak=False, dispatch_uid="ethos-logging")
    metrics.install(s)  # before the app: prometheus_client must see its folder at first import
    metrics.install_job_logging()
    app = make_celery(s)
    runtime.install_signals(describers())
    return app


def describers() -> dict[str, runtime.Describer]:
    """Per queue, what a worker on it runs (the describers of the steps routed there)."""
    by_queue: dict[str, list[runtime.Describer]] = {}
    for step in steps.STEPS:
        if step.describe:
            by_queue.setdefault(step.queue, []).append(steps.hook(step.describe))
    return {q: fns[0] if len(fns) == 1 else _combined(fns) for q, fns in by_queue.items()}


def _combined(fns: list[runtime.Describer]) -> runtime.Describer:
    """Several steps on one queue: their descriptions together, ready only if all are."""

    def describe() -> dict[str, Any]:
        out: dict[str, Any] = {}
        ready = True
        for fn in fns:
            part = fn()
            ready = ready and bool(part.get("ready", True))
            out.update(part)
        return {**out, "ready": ready}

    return describe
