"""What every task uses: the per-process handles (``handles.py``, importable from here),
scratch folders and local copies, the job checks, the base task, heartbeats and callbacks."""

from __future__ import annotations

import contextlib
import logging
import shutil
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from celery import Task
from celery.exceptions import SoftTimeLimitExceeded

from shared.errors import JobError, JobGone
from shared.jobs import JobStore, connect
from shared.objects import basename
from shared.schemas import JobRecord
from workers import webhooks
from workers.handles import jobs, settings, storage

log = logging.getLogger("ethos.worker")


@contextlib.contextmanager
def scratch(job_id: str) -> Iterator[Path]:
    """A private scratch folder for one task, removed afterwards."""
    path = settings().work_dir.resolve() / f"{job_id}-{uuid.uuid4().hex[:8]}"
    path.mkdir(parents=True, exist_ok=True)
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def local_copy(key: str, folder: Path, name: str | None = None) -> Path:
    """A local path for a stored object: the file itself on local disk, else a download
    into ``folder`` (as ``name``, by default the key's last part)."""
    st = storage()
    direct = st.local_path(key)
    if direct is not None and direct.exists():
        return direct
    dest = folder / (name or basename(key))
    st.download_file(key, dest)
    return dest


def ensure_active(job_id: str) -> None:
    """Stop the task when its job was canceled, deleted or already finished."""
    if not jobs().is_active(job_id):
        raise JobGone(job_id)


def active_record(job_id: str) -> JobRecord:
    """The job's record, or JobGone when it was canceled, deleted or already finished."""
    ensure_active(job_id)
    rec = jobs().get(job_id)
    if rec is None:
        raise JobGone(job_id)
    return rec


class JobTask(Task):
    """Base task: the first argument is the job id; failures end the job with a clear error."""

    abstract = True
    typing = True

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        job_id = args[0] if args else kwargs.get("job_id")
        if job_id and self.request.id and not self._may_run(job_id):
            return None
        try:
            return super().__call__(*args, **kwargs)
        except JobGone:
            log.info("job %s is no longer active; %s stops", args[0] if args else "?", self.name)
            return None

    def _may_run(self, job_id: str) -> bool:
        """Count this delivery; past ``celery.max_deliveries`` the task killed its worker
        every time (acks are late, so each death redelivers it): fail the job instead."""
        n = jobs().delivered(job_id, f"{self.request.id}/{self.request.retries or 0}")
        limit = settings().celery.max_deliveries
        if n <= limit:
            return True
        log.error("task %s of job %s delivered %d times without finishing; failing the job",
                  self.name, job_id, n)
        if jobs().fail(job_id, "worker_lost", f"{self.name} was started {n - 1} times and its "
                       "worker process died each time (out of memory or a crash?); giving up"):
            notify_callback(job_id)
        return False

    def on_failure(self, exc: BaseException, task_id: str, args: Any, kwargs: Any, einfo: Any) -> None:
        job_id = args[0] if args else kwargs.get("job_id")
        if not job_id:
            return
        if isinstance(exc, JobError):
            code, message = exc.code, exc.message
        elif isinstance(exc, SoftTimeLimitExceeded):
            code, message = "timeout", f"{self.name} ran past its time limit"
        else:
            error_id = uuid.uuid4().hex[:12]
            log.error("task %s for job %s failed (error id %s)", self.name, job_id, error_id,
                      exc_info=(type(exc), exc, exc.__traceback__))
            code, message = "internal_error", f"internal error in {self.name} (error id {error_id})"
        try:
            if jobs().fail(job_id, code, message):
                notify_callback(job_id)
        except Exception:
            log.exception("could not record the failure of job %s", job_id)


# --------------------------------------------------------------------------- heartbeats


def start_heartbeat(hostname: str, queues: list[str], describe: Any = None, every_s: float = 5.0) -> None:
    """Announce this worker (its queues and what it runs) in Redis, refreshed in a thread."""
    s = settings()
    # Its own client: the beat runs in a thread.
    store = JobStore(connect(s.redis.url, s.redis.socket_timeout_s), s.redis.key_prefix)

    def beat() -> None:
        info: dict[str, Any] = {"hostname": hostname, "host": socket.gethostname(), "queues": queues}
        described = describe is None
        while True:
            info["at"] = time.time()
            try:
                store.beat(hostname, info, int(every_s * 3))
            except Exception:  # Redis down: try again next beat
                log.debug("heartbeat to Redis failed", exc_info=True)
            if not described:  # announce at once, then add what the worker runs
                try:
                    info.update(describe())
                    log.info("worker %s: %s", hostname, {k: v for k, v in info.items() if k != "at"})
                except Exception as e:  # report, never die
                    info["describe_error"] = str(e)
                described = True
                continue
            time.sleep(every_s)

    threading.Thread(target=beat, name="ethos-heartbeat", daemon=True).start()


Describer = Callable[[], dict[str, Any]]


def install_signals(describers: dict[str, Describer]) -> None:
    """Start the heartbeat when the worker is ready; ``describers`` add, per queue, what the
    worker runs (e.g. the speech engine) to it."""
    from celery.signals import worker_ready

    def on_ready(sender: Any = None, **_: Any) -> None:
        queues = sorted(q.name for q in sender.task_consumer.queues) if sender else []

        def describe() -> dict[str, Any]:
            return {q: describers[q]() for q in queues if q in describers}

        start_heartbeat(sender.hostname if sender else socket.gethostname(), queues, describe)

    worker_ready.connect(on_ready, weak=False, dispatch_uid="ethos-heartbeat")


def notify_callback(job_id: str) -> None:
    """Queue the signed, retried delivery of the job's ``callback_url`` (workers.webhooks)."""
    try:
        webhooks.enqueue(job_id)
    except Exception:  # the job's own outcome stands; the lost callback is logged
        log.exception("could not queue the callback of job %s", job_id)
