"""The worker bootstrap: the Celery app with its tasks, signal handlers and describers.

``python -m workers worker -Q cpu`` (see ``workers/__main__.py``) builds it; nothing here runs
at import.
"""

from __future__ import annotations

from celery import Celery

from shared.celery_app import make_celery
from workers import runtime


def create_worker_app() -> Celery:
    """The Celery app a worker process runs, with its heartbeat installed."""
    from workers.diarize.tasks import describe as describe_diarize
    from workers.fer.tasks import describe as describe_fer
    from workers.stt.tasks import describe as describe_stt

    app = make_celery(runtime.settings())
    runtime.install_signals({"stt": describe_stt, "fer": describe_fer,
                             "diarize": describe_diarize})
    return app
