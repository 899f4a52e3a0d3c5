"""The job store in Redis, one module per owner: ``store`` (records, the state machine,
progress, events), ``versions`` (result versions), ``deliveries`` (webhook attempts),
``workers`` (heartbeats, queue depths, counters), ``events`` (the end of a stream and the
async reader), ``redis_keys`` (every Redis key's name), ``scripts`` (the Lua scripts),
``encoding``, ``ids`` (job ids, the clock) and ``connection``. Storage object names are in
``shared.objects``. Importing from ``shared.jobs`` itself still works for every name.
"""

from __future__ import annotations

from shared.jobs.connection import connect
from shared.jobs.events import FINAL_EVENTS, FINAL_STATUSES, AsyncJobEvents, is_final
from shared.jobs.ids import new_job_id, utcnow
from shared.jobs.redis_keys import JobKeys
from shared.jobs.store import ANALYSIS_BASE, ANALYSIS_SPAN, JobStore
from shared.objects import object_key

__all__ = ["ANALYSIS_BASE", "ANALYSIS_SPAN", "FINAL_EVENTS", "FINAL_STATUSES", "AsyncJobEvents", "JobKeys",
           "JobStore", "connect", "is_final", "new_job_id", "object_key", "utcnow"]
