"""The worker bootstrap: the Celery app with its tasks, signal handlers and describers.

``python -m workers worker -Q cpu`` (see ``workers/__main__.py``) builds it; nothing here runs
at import.
"""

from __future__ import annotations

from typing import Any

from celery import Celery

from shared import logs
from shared.celery_app import make_celery
from workers import metrics, runtime


def create_worker_app() -> Celery:
    """The Celery app a worker process runs, with its heartbeat, logging and metrics installed."""
    from celery.signals import setup_logging

    from workers.diarize.tasks import describe as describe_diarize
    from workers.fer.tasks import describe as describe_fer
    from workers.stt.tasks import describe as describe_stt
    from workers.vocal.tasks import describe as describe_vocal

    s = runtime.settings()

    def configure_logging(**_: Any) -> None:  # connected: Celery leaves logging to us
        logs.configure("worker", s.log_level, s.log_format)

    setup_logging.connect(configure_logging, weak=False, dispatch_uid="ethos-logging")
    metrics.install(s)  # before the app: prometheus_client must see its folder at first import
    metrics.install_job_logging()
    app = make_celery(s)
    runtime.install_signals({"stt": describe_stt, "fer": describe_fer,
                             "diarize": describe_diarize, "cpu": describe_vocal})
    return app
