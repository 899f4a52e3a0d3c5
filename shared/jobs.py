"""Job records and per-job event logs in Redis.

A job is a hash (``<prefix>:job:<id>``); its events are a Redis stream
(``<prefix>:job:<id>:events``) written from the start, so a late reader replays them all.
Status changes go through a Lua script so a finished job is never reopened, and progress
only moves forward.
"""

from __future__ import annotations

import json
import logging
import secrets
from datetime import UTC, datetime
from typing import Any

import redis

from shared.schemas import ErrorInfo, Event, EventType, JobRecord, JobStatus, MediaInfo

log = logging.getLogger(__name__)

_TRANSITION = """
local cur = redis.call('HGET', KEYS[1], 'status')
if not cur then return -1 end
if ARGV[2] ~= '*' then
  local ok = false
  for s in string.gmatch(ARGV[2], '[^,]+') do if s == cur then ok = true end end
  if not ok then return 0 end
end
redis.call('HSET', KEYS[1], 'status', ARGV[1])
for i = 3, #ARGV, 2 do redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1]) end
return 1
"""

# Raise the job's progress, never lowering it, on a running job only. With a part name
# (ARGV[1] non-empty) the value is that part's progress: the part is raised likewise, and the
# overall progress becomes base + span * mean(part progress).
_PROGRESS = """
local status = redis.call('HGET', KEYS[1], 'status')
if status ~= 'running' then return nil end
local overall = tonumber(ARGV[2])
if ARGV[1] ~= '' then
  local field = 'part:' .. ARGV[1]
  local cur = tonumber(redis.call('HGET', KEYS[1], field) or '0')
  if overall > cur then redis.call('HSET', KEYS[1], field, ARGV[2]) end
  local parts = redis.call('HGET', KEYS[1], 'parts') or ARGV[1]
  local sum, n = 0, 0
  for p in string.gmatch(parts, '[^,]+') do
    sum = sum + tonumber(redis.call('HGET', KEYS[1], 'part:' .. p) or '0'); n = n + 1
  end
  overall = tonumber(ARGV[4]) + tonumber(ARGV[5]) * (sum / math.max(n, 1))
end
local old = tonumber(redis.call('HGET', KEYS[1], 'progress') or '0')
if overall > old then
  redis.call('HSET', KEYS[1], 'progress', string.format('%.4f', overall), 'stage', ARGV[3])
  return string.format('%.4f', overall)
end
return nil
"""

# Append an event unless its dedupe key was seen (a redelivered task repeats its events).
_EMIT = """
if ARGV[2] ~= '' then
  if redis.call('SADD', KEYS[2], ARGV[2]) == 0 then return nil end
  redis.call('EXPIRE', KEYS[2], ARGV[3])
end
local id = redis.call('XADD', KEYS[1], '*', 'e', ARGV[1])
redis.call('EXPIRE', KEYS[1], ARGV[3])
return id
"""

# Event streams end with one of these.
FINAL_EVENTS = ("done",)
FINAL_STATUSES = ("failed", "canceled")


def is_final(event: dict[str, Any]) -> bool:
    """The last event a job writes: ``done``, or a failed/canceled status."""
    return event.get("type") in FINAL_EVENTS or (
        event.get("type") == "status" and event.get("status") in FINAL_STATUSES
    )


# Overall progress bands: preparation, the parallel analysis parts, then merge.
ANALYSIS_BASE = 0.10
ANALYSIS_SPAN = 0.80


def utcnow() -> str:
    """Current UTC time, ISO 8601 with millisecond precision."""
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def new_job_id() -> str:
    """A URL-safe, unguessable job id."""
    return "job_" + secrets.token_hex(10)


def connect(url: str, socket_timeout: float = 5.0) -> redis.Redis:
    """A Redis client that fails fast when the server is down."""
    return redis.Redis.from_url(
        url,
        socket_timeout=socket_timeout,
        socket_connect_timeout=min(socket_timeout, 3.0),
        health_check_interval=30,
        decode_responses=True,
    )


class JobStore:
    """Job records, status transitions and event logs."""

    def __init__(self, client: redis.Redis, prefix: str = "ethos", ttl_s: int = 7 * 86400) -> None:
        # redis-py's decode_responses=True returns str; its stubs say bytes | str.
        self.r: Any = client
        self.prefix = prefix
        self.ttl_s = ttl_s
        self._transition = client.register_script(_TRANSITION)
        self._progress = client.register_script(_PROGRESS)
        self._emit = client.register_script(_EMIT)

    # keys
    def key(self, job_id: str) -> str:
        return f"{self.prefix}:job:{job_id}"

    def events_key(self, job_id: str) -> str:
        return f"{self.prefix}:job:{job_id}:events"

    def index_key(self) -> str:
        return f"{self.prefix}:jobs"

    # records
    def create(self, rec: JobRecord) -> None:
        """Store a new job record (status queued) and its first event."""
        fields = _to_fields(rec)
        pipe = self.r.pipeline()
        pipe.hset(self.key(rec.id), mapping=fields)
        pipe.zadd(self.index_key(), {rec.id: datetime.now(UTC).timestamp()})
        pipe.execute()
        self.emit(rec.id, "status", {"status": rec.status.value, "stage": rec.stage})

    def get(self, job_id: str) -> JobRecord | None:
        data = self.r.hgetall(self.key(job_id))
        return _from_fields(data) if data else None

    def recent(self, limit: int = 50) -> list[JobRecord]:
        ids = self.r.zrevrange(self.index_key(), 0, limit - 1)
        out = []
        for job_id in ids:
            rec = self.get(job_id)
            if rec is None:
                self.r.zrem(self.index_key(), job_id)
            elif not rec.deleted:
                out.append(rec)
        return out

    def set_media(self, job_id: str, media: MediaInfo) -> None:
        self.r.hset(self.key(job_id), "media", media.model_dump_json())

    def set_fields(self, job_id: str, **fields: str) -> None:
        self.r.hset(self.key(job_id), mapping=fields)

    def get_field(self, job_id: str, name: str) -> str | None:
        return self.r.hget(self.key(job_id), name)  # type: ignore[return-value]

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
            self.emit(job_id, "status", {"status": "running", "stage": stage}, dedupe="status:running")
            return True
        return self.status(job_id) == JobStatus.running

    def set_stage(self, job_id: str, stage: str, progress: float) -> None:
        """Enter a stage of a running job at ``progress`` (raised, never lowered)."""
        self._raise(job_id, "", progress, stage)

    def set_parts(self, job_id: str, parts: list[str]) -> None:
        """The analysis parts that run in parallel (e.g. ``stt``, ``fer``)."""
        self.r.hset(self.key(job_id), "parts", ",".join(parts))

    def part_progress(self, job_id: str, part: str, value: float, stage: str) -> None:
        """Report one part's progress (0..1); the job's overall progress follows."""
        self._raise(job_id, part, value, stage)

    def _raise(self, job_id: str, part: str, value: float, stage: str) -> None:
        overall = self._progress(
            keys=[self.key(job_id)],
            args=[part, f"{min(max(value, 0.0), 1.0):.4f}", stage, ANALYSIS_BASE, ANALYSIS_SPAN],
        )
        if overall is not None:
            self.emit(job_id, "progress", {"stage": stage, "progress": float(overall)})

    def chunk_done(self, job_id: str, part: str, index: int) -> int:
        """Count one finished chunk of a fanned-out part; 0 when it was already counted."""
        key = f"{self.key(job_id)}:{part}_done"
        return int(self.r.scard(key)) if self.r.sadd(key, index) else 0

    def record_timing(self, job_id: str, name: str, seconds: float) -> None:
        self.r.hset(self.key(job_id), f"t:{name}", f"{seconds:.4f}")

    def timings(self, job_id: str) -> dict[str, float]:
        """Seconds per stage recorded by the tasks."""
        raw = self.r.hgetall(self.key(job_id))
        return {k[2:]: float(v) for k, v in raw.items() if k.startswith("t:")}

    def purge(self, job_id: str) -> None:
        """Forget a job entirely (record, events, index entry)."""
        self.r.delete(self.key(job_id), self.events_key(job_id), self.events_key(job_id) + ":seen")
        self.r.zrem(self.index_key(), job_id)

    # workers announce themselves here
    def heartbeat_key(self, hostname: str) -> str:
        return f"{self.prefix}:worker:{hostname}"

    def live_workers(self) -> list[dict[str, Any]]:
        """What each worker last announced (entries expire when a worker stops beating)."""
        keys = list(self.r.scan_iter(self.heartbeat_key("*"), count=200))
        return [json.loads(raw) for raw in (self.r.mget(keys) if keys else []) if raw]

    def succeed(self, job_id: str, result_key: str) -> bool:
        ok = self._move(
            job_id, JobStatus.succeeded, "running", finished_at=utcnow(), stage="done",
            progress="1.0", result_key=result_key,
        )
        if ok:
            self.emit(job_id, "status", {"status": "succeeded", "stage": "done"})
            self.emit(job_id, "done", {"result": f"/v1/jobs/{job_id}/result"}, dedupe="done")
            self.expire(job_id)
        return ok

    def fail(self, job_id: str, code: str, message: str) -> bool:
        err = ErrorInfo(code=code, message=message)
        ok = self._move(
            job_id, JobStatus.failed, "queued,running", finished_at=utcnow(), stage="failed",
            error=err.model_dump_json(),
        )
        if ok:
            self.emit(job_id, "error", {"code": code, "message": message})
            self.emit(job_id, "status", {"status": "failed", "stage": "failed"})
            self.expire(job_id)
        return ok

    def cancel(self, job_id: str) -> bool:
        ok = self._move(
            job_id, JobStatus.canceled, "queued,running", finished_at=utcnow(), stage="canceled"
        )
        if ok:
            self.emit(job_id, "status", {"status": "canceled", "stage": "canceled"})
        return ok

    def mark_deleted(self, job_id: str) -> None:
        self.r.hset(self.key(job_id), mapping={"deleted": "1"})
        self.r.hdel(self.key(job_id), "result_key")
        self.expire(job_id)

    def expire(self, job_id: str) -> None:
        pipe = self.r.pipeline()
        for k in (self.key(job_id), self.key(job_id) + ":fer_done", self.events_key(job_id),
                  self.events_key(job_id) + ":seen"):
            pipe.expire(k, self.ttl_s)
        pipe.execute()

    # events
    def emit(self, job_id: str, type_: EventType, data: dict[str, Any], dedupe: str | None = None) -> str | None:
        """Append an event; with ``dedupe``, only the first event under that key is kept."""
        ev = Event(type=type_, job_id=job_id, data=data)
        return self._emit(  # type: ignore[no-any-return]
            keys=[self.events_key(job_id), self.events_key(job_id) + ":seen"],
            args=[json.dumps(ev.flat(), separators=(",", ":")), dedupe or "", self.ttl_s],
        )

    def events(self, job_id: str, after: str = "0", block_ms: int | None = None, count: int = 500) -> list[tuple[str, dict[str, Any]]]:
        """Events after stream id ``after`` (``"0"``: from the start)."""
        if block_ms is None:
            rows = self.r.xrange(self.events_key(job_id), min=f"({after}" if after != "0" else "-", count=count)
            return [(eid, json.loads(f["e"])) for eid, f in rows]  # type: ignore[union-attr]
        res = self.r.xread({self.events_key(job_id): after}, block=block_ms, count=count)
        out: list[tuple[str, dict[str, Any]]] = []
        for _stream, rows in res or []:  # type: ignore[union-attr]
            out += [(eid, json.loads(f["e"])) for eid, f in rows]
        return out


def _to_fields(rec: JobRecord) -> dict[str, str]:
    d = rec.model_dump(mode="json")
    out: dict[str, str] = {}
    for k, v in d.items():
        if v is None:
            continue
        if isinstance(v, dict):
            out[k] = json.dumps(v)
        elif isinstance(v, bool):
            out[k] = "1" if v else "0"
        else:
            out[k] = str(v)
    return out


def _from_fields(f: dict[str, str]) -> JobRecord:
    return JobRecord(
        id=f["id"],
        status=JobStatus(f["status"]),
        stage=f.get("stage", ""),
        progress=float(f.get("progress", 0) or 0),
        created_at=f["created_at"],
        started_at=f.get("started_at"),
        finished_at=f.get("finished_at"),
        media=MediaInfo.model_validate_json(f["media"]),
        error=ErrorInfo.model_validate_json(f["error"]) if f.get("error") else None,
        language=f.get("language", "en"),
        callback_url=f.get("callback_url"),
        media_key=f["media_key"],
        content_type=f.get("content_type"),
        deleted=f.get("deleted") == "1",
    )
