"""Job records and per-job event logs in Redis: the job store.

A job is a hash (``<prefix>:job:<id>``) holding the fields of :class:`JobRecord` plus the
progress bookkeeping of the Lua scripts (``scripts.py``); its events are a Redis stream
(``<prefix>:job:<id>:events``) written from the start, so a late reader replays them all.
Status changes go through a Lua script so a finished job is never reopened, and progress
only moves forward. Result versions, webhook deliveries and worker heartbeats are the other
parts of the store (``versions.py``, ``deliveries.py``, ``workers.py``); every Redis key is
named in ``redis_keys.py``.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel

from shared.jobs.deliveries import WebhookDeliveries
from shared.jobs.encoding import decode_events, from_fields, to_fields
from shared.jobs.ids import utcnow
from shared.jobs.quota import StoredBytes
from shared.jobs.slots import JobSlots
from shared.jobs.versions import ResultVersions
from shared.jobs.workers import WorkerRegistry
from shared.schemas.events import DoneEvent, ErrorEvent, ProgressEvent, StatusEvent
from shared.schemas.record import ErrorInfo, JobRecord, JobStatus, MediaInfo
from shared.schemas.views import job_links

# Overall progress bands: preparation, the parallel analysis parts, then merge.
ANALYSIS_BASE = 0.10
ANALYSIS_SPAN = 0.80


class JobStore(WorkerRegistry, ResultVersions, WebhookDeliveries, JobSlots, StoredBytes):
    """Job records, status transitions, progress and event logs (with the store's other parts:
    result versions, webhook deliveries, worker heartbeats, per-key slots)."""

    def ping(self) -> None:
        """Raise when Redis does not answer."""
        self.r.ping()

    def close(self) -> None:
        self.r.close()

    # records
    def create(self, rec: JobRecord) -> None:
        """Store a new job record (status queued) and its first event; an owned job's reserved
        slot (``slots.py``) becomes its place among the key's unfinished jobs at once."""
        fields = to_fields(rec)
        pipe = self.r.pipeline()
        pipe.hset(self.key(rec.id), mapping=fields)
        now = datetime.now(UTC).timestamp()
        pipe.zadd(self.keys.index(), {rec.id: now})
        pipe.sadd(self.keys.active(), rec.id)
        if rec.owner:
            pipe.zadd(self.keys.owner_index(rec.owner), {rec.id: now})
            pipe.sadd(self.keys.owner_active(rec.owner), rec.id)
            pipe.zrem(self.keys.owner_reserved(rec.owner), rec.id)  # its reserved slot, now taken
        pipe.hincrby(self.keys.stats(), "submitted", 1)
        pipe.execute()
        self.emit(StatusEvent(job_id=rec.id, status=rec.status, stage=rec.stage))

    def get(self, job_id: str) -> JobRecord | None:
        data = self.r.hgetall(self.key(job_id))
        return from_fields(data) if data else None

    def recent(self, limit: int = 50, owner: str | None = None) -> list[JobRecord]:
        """The newest jobs (of one API key with ``owner``), deleted ones left out.

        Index entries of expired records stay until the retention sweep removes the job's
        objects too."""
        index = self.keys.owner_index(owner) if owner else self.keys.index()
        out: list[JobRecord] = []
        start = 0
        while len(out) < limit:
            ids = self.r.zrevrange(index, start, start + limit - 1)
            if not ids:
                break
            start += len(ids)
            out += [rec for rec in map(self.get, ids) if rec is not None and not rec.deleted]
        return out[:limit]

    def unfinished(self, owner: str | None = None) -> list[str]:
        """Ids of the unfinished jobs (of one API key with ``owner``); finished ones are pruned
        from the set on the way."""
        key = self.keys.owner_active(owner) if owner else self.keys.active()
        ids = sorted(self.r.smembers(key))
        pipe = self.r.pipeline()
        for i in ids:
            pipe.hget(self.key(i), "status")
        statuses = [JobStatus(v) if v else None for v in pipe.execute()]
        done = [i for i, s in zip(ids, statuses, strict=True) if s is None or s.terminal]
        if done:
            self.r.srem(key, *done)
        return [i for i, s in zip(ids, statuses, strict=True) if s is not None and not s.terminal]

    def created_before(self, ts: float, limit: int = 500) -> list[str]:
        """Ids of jobs created before the UNIX time ``ts``, oldest first."""
        return list(self.r.zrangebyscore(self.keys.index(), "-inf", f"({ts}", start=0, num=limit))

    def last_activity(self, job_id: str) -> float | None:
        """UNIX time of the job's last sign of work: its newest event or task start."""
        touched = self.r.hget(self.key(job_id), "touched")
        last = self.r.xrevrange(self.keys.events(job_id), count=1)
        times = [float(touched)] if touched else []
        if last:
            times.append(int(last[0][0].split("-")[0]) / 1000)
        return max(times) if times else None

    def delivered(self, job_id: str, task_id: str) -> int:
        """Count one delivery of a task of the job (and note the job as worked on); returns
        how many times this task has been delivered."""
        pipe = self.r.pipeline()
        pipe.hincrby(self.keys.attempts(job_id), task_id, 1)
        pipe.expire(self.keys.attempts(job_id), self.ttl_s)
        pipe.hset(self.key(job_id), "touched", f"{datetime.now(UTC).timestamp():.3f}")
        n, _, _ = pipe.execute()
        return int(n)

    def set_media(self, job_id: str, media: MediaInfo) -> None:
        self.r.hset(self.key(job_id), "media", media.model_dump_json())

    def status(self, job_id: str) -> JobStatus | None:
        s = self.r.hget(self.key(job_id), "status")
        return JobStatus(s) if s else None

    def is_active(self, job_id: str) -> bool:
        s = self.status(job_id)
        return s is not None and not s.terminal

    # transitions
    def _move(self, job_id: str, to: JobStatus, allowed: str, **fields: str) -> bool:
        args: list[str] = [to.value, allowed]
        for k, v in fields.items():
            args += [k, v]
        return int(self._transition(keys=[self.key(job_id)], args=args)) == 1

    def start(self, job_id: str, stage: str) -> bool:
        """queued → running (idempotent for a redelivered first task)."""
        if self._move(job_id, JobStatus.running, "queued", started_at=utcnow(), stage=stage):
            self.emit(StatusEvent(job_id=job_id, status=JobStatus.running, stage=stage),
                      dedupe="status:running")
            return True
        return self.status(job_id) == JobStatus.running

    def set_stage(self, job_id: str, stage: str, progress: float) -> None:
        """Enter a stage of a running job at ``progress`` (raised, never lowered)."""
        self._raise(job_id, "", progress, stage)

    def set_plan(self, job_id: str, parts: list[str], chunks: dict[str, int]) -> None:
        """The analysis steps that run in parallel (e.g. ``stt``, ``fer``) and the number of
        tasks of each fanned-out step (e.g. ``{"fer": 3}``)."""
        self.r.hset(self.key(job_id), mapping={"parts": json.dumps(parts), "chunks": json.dumps(chunks)})

    def set_speaker_names(self, job_id: str, names: dict[str, str]) -> None:
        """The names given to a finished job's speakers (id → name), replacing earlier ones."""
        self.r.hset(self.key(job_id), "speaker_names", json.dumps(names))

    def part_progress(self, job_id: str, part: str, value: float, stage: str) -> None:
        """Report one part's progress (0..1); the job's overall progress follows."""
        self._raise(job_id, part, value, stage)

    def _raise(self, job_id: str, part: str, value: float, stage: str) -> None:
        overall = self._progress(
            keys=[self.key(job_id)],
            args=[part, f"{min(max(value, 0.0), 1.0):.4f}", stage, ANALYSIS_BASE, ANALYSIS_SPAN],
        )
        if overall is not None:
            self.emit(ProgressEvent(job_id=job_id, stage=stage, progress=float(overall)))

    def chunk_done(self, job_id: str, part: str, index: int) -> int:
        """Count one finished chunk of a fanned-out part; 0 when it was already counted."""
        key = self.keys.chunks_done(job_id, part)
        if not self.r.sadd(key, index):
            return 0
        self.r.expire(key, self.ttl_s)
        return int(self.r.scard(key))

    def record_timing(self, job_id: str, name: str, seconds: float) -> None:
        self.r.hset(self.key(job_id), f"t:{name}", f"{seconds:.4f}")

    def timings(self, job_id: str) -> dict[str, float]:
        """Seconds per stage recorded by the tasks."""
        raw = self.r.hgetall(self.key(job_id))
        return {k[2:]: float(v) for k, v in raw.items() if k.startswith("t:")}

    def purge(self, job_id: str) -> None:
        """Forget a job entirely (record, events, index entries, its stored bytes' count)."""
        self.release_bytes(job_id)
        owner = self.r.hget(self.key(job_id), "owner")
        pipe = self.r.pipeline()
        pipe.delete(*self._job_keys(job_id))
        pipe.zrem(self.keys.index(), job_id)
        pipe.srem(self.keys.active(), job_id)
        if owner:
            pipe.zrem(self.keys.owner_index(owner), job_id)
            pipe.srem(self.keys.owner_active(owner), job_id)
        pipe.execute()

    def _job_keys(self, job_id: str) -> list[str]:
        parts = self.r.hget(self.key(job_id), "parts")
        return [self.key(job_id), self.keys.events(job_id), self.keys.seen(job_id),
                self.keys.deliveries(job_id), self.keys.attempts(job_id),
                *(self.keys.chunks_done(job_id, p) for p in json.loads(parts or "[]"))]

    def succeed(self, job_id: str, result_key: str, frames_key: str | None = None) -> bool:
        """Finish a running job with its stored result (and, for video, its per-frame faces)."""
        extra = {"frames_key": frames_key} if frames_key else {}
        ok = self._move(
            job_id, JobStatus.succeeded, "running", finished_at=utcnow(), stage="done",
            progress="1.0", result_key=result_key, **extra,
        )
        if ok:
            self.r.hincrby(self.keys.stats(), JobStatus.succeeded.value, 1)
            self.emit(StatusEvent(job_id=job_id, status=JobStatus.succeeded, stage="done"))
            self.emit(DoneEvent(job_id=job_id, result=job_links(job_id).result), dedupe="done")
            self.expire(job_id)
        return ok

    def fail(self, job_id: str, code: str, message: str) -> bool:
        err = ErrorInfo(code=code, message=message)
        ok = self._move(
            job_id, JobStatus.failed, "queued,running", finished_at=utcnow(), stage="failed",
            error=err.model_dump_json(),
        )
        if ok:
            self.r.hincrby(self.keys.stats(), JobStatus.failed.value, 1)
            self.emit(ErrorEvent(job_id=job_id, code=code, message=message))
            self.emit(StatusEvent(job_id=job_id, status=JobStatus.failed, stage="failed"))
            self.expire(job_id)
        return ok

    def cancel(self, job_id: str) -> bool:
        ok = self._move(
            job_id, JobStatus.canceled, "queued,running", finished_at=utcnow(), stage="canceled"
        )
        if ok:
            self.r.hincrby(self.keys.stats(), JobStatus.canceled.value, 1)
            self.emit(StatusEvent(job_id=job_id, status=JobStatus.canceled, stage="canceled"))
        return ok

    # the browser-playable preview
    def set_preview(self, job_id: str, key: str | None, error: str | None = None) -> None:
        """Record the preview's storage key, or why there is none."""
        if key:
            self.r.hset(self.key(job_id), "preview_key", key)
            self.r.hdel(self.key(job_id), "preview_error")
        elif error:
            self.r.hset(self.key(job_id), "preview_error", error)

    def mark_deleted(self, job_id: str) -> None:
        """A tombstone: the job's objects are gone (so is their count against its key's quota)."""
        self.release_bytes(job_id)
        self.r.hset(self.key(job_id), mapping={"deleted": "1"})
        self.r.hdel(self.key(job_id), "result_key", "frames_key")
        self.expire(job_id)

    def expire(self, job_id: str) -> None:
        pipe = self.r.pipeline()
        for k in self._job_keys(job_id):
            pipe.expire(k, self.ttl_s)
        pipe.execute()

    # events
    def emit(self, event: BaseModel, dedupe: str | None = None) -> str | None:
        """Append an event (a ``shared.schemas`` event model); with ``dedupe``, only the first
        event under that key is kept."""
        job_id: str = getattr(event, "job_id")  # noqa: B009 - every event model has it
        return self._emit(  # type: ignore[no-any-return]
            keys=[self.keys.events(job_id), self.keys.seen(job_id)],
            args=[event.model_dump_json(), dedupe or "", self.ttl_s],
        )

    def events(self, job_id: str, after: str = "0", block_ms: int | None = None, count: int = 500) -> list[tuple[str, dict[str, Any]]]:
        """Events after stream id ``after`` (``"0"``: from the start)."""
        if block_ms is None:
            return decode_events(self.r.xrange(self.keys.events(job_id), min=f"({after}" if after != "0" else "-", count=count))
        res = self.r.xread({self.keys.events(job_id): after}, block=block_ms, count=count)
        return [ev for _stream, rows in res or [] for ev in decode_events(rows)]
