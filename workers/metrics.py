"""Worker metrics for Prometheus, and the job id in scope of each task's log lines.

``ETHOS_METRICS__WORKER_PORT`` (the images set 9100; 0, the default, serves none) makes the
worker's main process serve ``/metrics``. Tasks run in prefork children, so the counters use
prometheus_client's multiprocess mode: :func:`install` points ``PROMETHEUS_MULTIPROC_DIR`` at a
fresh folder before prometheus_client is first imported, the children inherit it, and the
server sums every process's files at each scrape.

  ``ethos_worker_tasks_total{task, queue, state}``   state: success, failure, retry, revoked...
  ``ethos_worker_task_seconds{task, queue}``         histogram of run time
  ``ethos_worker_tasks_active{task, queue}``         tasks running now
"""

from __future__ import annotations

import contextlib
import logging
import os
import tempfile
import time
from typing import Any

from shared.logs import JOB_ID, job_context
from shared.settings import Settings

log = logging.getLogger("ethos.worker.metrics")
BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 900, 1800, 3600, 10800)


class _Instruments:
    def __init__(self) -> None:
        from prometheus_client import Counter, Gauge, Histogram

        self.tasks = Counter("ethos_worker_tasks", "Tasks finished, by outcome", ["task", "queue", "state"])
        self.seconds = Histogram("ethos_worker_task_seconds", "Task run time", ["task", "queue"], buckets=BUCKETS)
        self.active = Gauge("ethos_worker_tasks_active", "Tasks running now", ["task", "queue"],
                            multiprocess_mode="livesum")


def _queue(task: Any) -> str:
    info = getattr(getattr(task, "request", None), "delivery_info", None) or {}
    return str(info.get("routing_key") or info.get("exchange") or "unknown")


def _job_of(args: Any, kwargs: Any) -> str | None:
    cand = args[0] if args else (kwargs or {}).get("job_id")
    return cand if isinstance(cand, str) and JOB_ID.fullmatch(cand) else None


def install_job_logging() -> None:
    """Each task's log lines carry its job id (the first argument of every job task)."""
    from celery.signals import task_postrun, task_prerun

    scopes: dict[str, contextlib.AbstractContextManager[None]] = {}

    def before(task_id: str = "", args: Any = None, kwargs: Any = None, **_: Any) -> None:
        scope = scopes[task_id] = job_context(_job_of(args, kwargs))
        scope.__enter__()  # left in task_postrun: the two signals bracket the task

    def after(task_id: str = "", **_: Any) -> None:
        scope = scopes.pop(task_id, None)
        if scope is not None:
            scope.__exit__(None, None, None)

    task_prerun.connect(before, weak=False, dispatch_uid="ethos-log-job-before")
    task_postrun.connect(after, weak=False, dispatch_uid="ethos-log-job-after")


def install(settings: Settings) -> bool:
    """Count and time tasks and serve them on the configured port; False when it is 0."""
    port = settings.metrics.worker_port
    if port == 0:
        return False
    if "PROMETHEUS_MULTIPROC_DIR" not in os.environ:
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="ethos-metrics-")
    from celery.signals import task_postrun, task_prerun, worker_process_shutdown, worker_ready

    started: dict[str, tuple[float, str, str]] = {}
    holder: dict[str, _Instruments] = {}

    def instruments() -> _Instruments:  # made in the process that counts (a child)
        if "m" not in holder:
            holder["m"] = _Instruments()
        return holder["m"]

    def before(task_id: str = "", task: Any = None, **_: Any) -> None:
        name, queue = getattr(task, "name", "unknown"), _queue(task)
        started[task_id] = (time.perf_counter(), name, queue)
        instruments().active.labels(name, queue).inc()

    def after(task_id: str = "", state: str | None = None, **_: Any) -> None:
        begun = started.pop(task_id, None)
        if begun is None:
            return
        t0, name, queue = begun
        m = instruments()
        m.active.labels(name, queue).dec()
        m.seconds.labels(name, queue).observe(time.perf_counter() - t0)
        m.tasks.labels(name, queue, (state or "unknown").lower()).inc()

    def serve(sender: Any = None, **_: Any) -> None:
        from prometheus_client import CollectorRegistry, start_http_server
        from prometheus_client.multiprocess import MultiProcessCollector

        registry = CollectorRegistry()
        MultiProcessCollector(registry)
        try:
            start_http_server(port, addr=settings.metrics.worker_host, registry=registry)
            log.info("worker metrics on :%d/metrics", port)
        except OSError as e:
            log.error("worker metrics: port %d unavailable (%s); serving none", port, e)

    def process_gone(pid: int | None = None, **_: Any) -> None:
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(pid or os.getpid())

    task_prerun.connect(before, weak=False, dispatch_uid="ethos-metrics-before")
    task_postrun.connect(after, weak=False, dispatch_uid="ethos-metrics-after")
    worker_ready.connect(serve, weak=False, dispatch_uid="ethos-metrics-serve")
    worker_process_shutdown.connect(process_gone, weak=False, dispatch_uid="ethos-metrics-gone")
    return True
