"""The Celery app: queues, routing and the settings that long GPU tasks need.

Queues: ``cpu`` (probe, audio extraction, merge, upkeep), ``webhooks`` (callback deliveries,
apart so that a slow receiver never holds a cpu process) and each analysis step's
(``shared.steps``: ``stt`` GPU speech work, ``fer`` face work that scales out, ``diarize``
speaker embeddings and clustering on CPU). Tasks are sent by name, so the gateway
never imports worker code. Nothing is built at import: the gateway calls :func:`make_celery` in its lifespan, the workers in
``workers.app.create_worker_app``.
"""

from __future__ import annotations

from celery import Celery
from kombu import Queue

from shared import steps
from shared.settings import Settings, get_settings

# Every queue: ``cpu``, the analysis steps' queues (shared.steps) and ``webhooks``.
QUEUES = (*steps.queues(), "webhooks")

# The tasks outside the step table (the steps' own task names are in shared.steps).
TASK_PREPARE = "ethos.prepare"
TASK_RECOUNT = "ethos.diarize.recount"  # a finished job's speakers counted again (workers/diarize/recount.py)
TASK_MERGE = "ethos.merge"
TASK_WEBHOOK = "ethos.webhook.deliver"
TASK_UPKEEP = "ethos.upkeep"
# The steps' task names under their old names.
TASK_STT = steps.STT.task
TASK_FER = steps.FER.task
TASK_DIARIZE = steps.DIARIZE.task
TASK_PREVIEW = steps.PREVIEW.task

ROUTES = {
    TASK_PREPARE: {"queue": "cpu"},
    TASK_MERGE: {"queue": "cpu"},
    TASK_WEBHOOK: {"queue": "webhooks"},
    TASK_UPKEEP: {"queue": "cpu"},
    **{step.task: {"queue": step.queue} for step in steps.STEPS},
    TASK_RECOUNT: {"queue": steps.DIARIZE.queue},
}

# The modules that define tasks: prepare and merge, the steps', webhooks and upkeep.
INCLUDES = list(dict.fromkeys(["workers.cpu.tasks", *(step.module for step in steps.STEPS),
                               "workers.webhooks", "workers.upkeep"]))


def make_celery(settings: Settings | None = None) -> Celery:
    """Build the app from settings (JSON only, late acks, prefetch 1, time limits)."""
    s = settings or get_settings()
    app = Celery(
        "ethos",
        broker=s.redis.url,
        backend=s.redis.url,
        include=INCLUDES,
    )
    app.conf.update(
        task_serializer="json",
        result_serializer="json",
        accept_content=["json"],
        task_queues=[Queue(q) for q in QUEUES],
        task_default_queue="cpu",
        task_routes=ROUTES,
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        task_acks_on_failure_or_timeout=True,
        worker_prefetch_multiplier=1,
        task_soft_time_limit=s.celery.soft_time_limit_s,
        task_time_limit=s.celery.time_limit_s,
        worker_max_tasks_per_child=s.celery.max_tasks_per_child,
        broker_transport_options={
            "visibility_timeout": s.celery.visibility_timeout_s,
            "socket_connect_timeout": 3,
        },
        result_backend_transport_options={"visibility_timeout": s.celery.visibility_timeout_s},
        broker_connection_retry_on_startup=True,
        result_expires=s.redis.job_ttl_s,
        task_track_started=False,
        worker_hijack_root_logger=False,
        worker_send_task_events=False,
        enable_utc=True,
        # Run by `python -m workers beat` (make run and compose start one): retention and the
        # reaper of lost jobs (workers/upkeep.py).
        beat_schedule={"upkeep": {"task": TASK_UPKEEP, "schedule": s.retention.sweep_every_s,
                                  "options": {"queue": "cpu", "expires": s.retention.sweep_every_s}}},
    )
    return app

