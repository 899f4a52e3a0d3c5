"""Periodic upkeep, run by Celery beat: retention and the reaper of lost jobs.

Retention: every job created more than ``retention.period_s`` ago loses every stored object
(media, audio, partial results, result) and then its records (hash, events, deliveries,
index entries). The reaper: an unfinished job with no sign of work (no task started, no
event) for ``retention.lost_after_s`` is failed with ``lost``: its queued work vanished
(broker data lost), and nothing else would ever end it. Last, the storage quota's count of
uploads that died before their job was recorded is released (shared/jobs/quota.py).
"""

from __future__ import annotations

import logging
import time
from typing import Any

from celery import shared_task

from shared import objects
from shared.celery_app import TASK_UPKEEP
from shared.jobs import JobStore
from shared.storage import Storage
from workers import runtime

log = logging.getLogger("ethos.upkeep")


def expire_old(jobs: JobStore, storage: Storage, period_s: float, now: float | None = None) -> list[str]:
    """Remove every job created more than ``period_s`` before ``now``; their ids."""
    cutoff = (time.time() if now is None else now) - period_s
    gone: list[str] = []
    stuck: set[str] = set()  # failed this sweep: tried again at the next one, not now
    while batch := [j for j in jobs.created_before(cutoff) if j not in gone and j not in stuck]:
        for job_id in batch:
            try:
                jobs.cancel(job_id)  # a job still running past retention stops at its next check
                storage.delete_prefix(objects.job_prefix(job_id))
                jobs.purge(job_id)
            except Exception:  # noqa: BLE001 - one job's failure must not stop the sweep
                log.exception("retention: job %s could not be removed; the next sweep tries again", job_id)
                stuck.add(job_id)
                continue
            gone.append(job_id)
    return gone


def reap_lost(jobs: JobStore, lost_after_s: float, now: float | None = None) -> list[str]:
    """Fail the unfinished jobs nobody has worked on for ``lost_after_s``; their ids."""
    now = time.time() if now is None else now
    lost: list[str] = []
    for job_id in jobs.unfinished():
        last = jobs.last_activity(job_id)
        if last is not None and now - last > lost_after_s and jobs.fail(
                job_id, "lost", f"no worker took up this job for {lost_after_s:g} s: its queued "
                "work was lost (broker data lost?); submit it again"):
            lost.append(job_id)
            runtime.notify_callback(job_id)
    return lost


@shared_task(name=TASK_UPKEEP, acks_late=True)
def upkeep() -> dict[str, Any]:
    """Retention, then the reaper; what each did."""
    s = runtime.settings()
    expired = expire_old(runtime.jobs(), runtime.storage(), s.retention.period_s)
    lost = reap_lost(runtime.jobs(), s.retention.lost_after_s)
    dead_uploads = runtime.jobs().release_stale_bytes()
    if expired or lost or dead_uploads:
        log.info("upkeep: %d job(s) past retention removed, %d lost job(s) failed, %d dead upload(s) "
                 "no longer counted", len(expired), len(lost), len(dead_uploads))
    return {"expired": expired, "lost": lost, "dead_uploads": dead_uploads}
