"""Job records and per-job event logs in Redis, and the storage keys of a job's objects.

This module is the only one that names a Redis key or a job-hash field. A job is a hash
(``<prefix>:job:<id>``) holding the fields of :class:`JobRecord` plus the progress
bookkeeping of the Lua scripts below; its events are a Redis stream
(``<prefix>:job:<id>:events``) written from the start, so a late reader replays them all.
Status changes go through a Lua script so a finished job is never reopened, and progress
only moves forward. Objects in storage are named by ``shared.objects``.
"""

from __future__ import annotations

import json
import logging
import secrets
from datetime import UTC, datetime
from typing import Any

import redis
import redis.asyncio as aioredis
from pydantic import BaseModel

from shared.objects import object_key as object_key  # re-exported: the old import path
from shared.schemas import (
    DoneEvent,
    ErrorEvent,
    ErrorInfo,
    JobRecord,
    JobStatus,
    MediaInfo,
    ProgressEvent,
    StatusEvent,
    WebhookDelivery,
    job_links,
)

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
  local parts = cjson.decode(redis.call('HGET', KEYS[1], 'parts') or '[]')
  if #parts == 0 then parts = {ARGV[1]} end
  local sum, n = 0, 0
  for _, p in ipairs(parts) do
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

# Save a new result version if the latest is still ARGV[1] ('*': whatever it is now) on a
# succeeded, undeleted job. Returns {1, new version}, {0, latest} (stale) or {-1, 0} (no result).
_COMMIT_VERSION = """
if redis.call('HGET', KEYS[1], 'status') ~= 'succeeded' or redis.call('HGET', KEYS[1], 'deleted') == '1'
   or not redis.call('HGET', KEYS[1], 'result_key') then
  return {-1, 0}
end
local cur = tonumber(redis.call('HGET', KEYS[1], 'result_version') or '1')
if ARGV[1] ~= '*' and tonumber(ARGV[1]) ~= cur then return {0, cur} end
local new = cur + 1
redis.call('HSET', KEYS[1], 'result_version', tostring(new),
           'rv:' .. new, cjson.encode({key = ARGV[2], saved_at = ARGV[3], segments = tonumber(ARGV[4])}))
return {1, new}
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


class JobKeys:
    """Every Redis key Ethos uses, under one prefix."""

    def __init__(self, prefix: str = "ethos") -> None:
        self.prefix = prefix

    def job(self, job_id: str) -> str:
        return f"{self.prefix}:job:{job_id}"

    def events(self, job_id: str) -> str:
        return f"{self.prefix}:job:{job_id}:events"

    def seen(self, job_id: str) -> str:
        """Dedupe keys of events already written."""
        return f"{self.prefix}:job:{job_id}:events:seen"

    def chunks_done(self, job_id: str, part: str) -> str:
        return f"{self.prefix}:job:{job_id}:{part}_done"

    def deliveries(self, job_id: str) -> str:
        """The job's webhook delivery attempts, oldest first."""
        return f"{self.prefix}:job:{job_id}:deliveries"

    def attempts(self, job_id: str) -> str:
        """How many times each task of the job was delivered (task id → count)."""
        return f"{self.prefix}:job:{job_id}:attempts"

    def index(self) -> str:
        return f"{self.prefix}:jobs"

    def active(self) -> str:
        """Ids of jobs that may be unfinished (pruned lazily by whoever reads it)."""
        return f"{self.prefix}:jobs:active"

    def owner_index(self, owner: str) -> str:
        """One API key's jobs, by creation time."""
        return f"{self.prefix}:owner:{owner}:jobs"

    def owner_active(self, owner: str) -> str:
        """One API key's possibly unfinished jobs (pruned lazily)."""
        return f"{self.prefix}:owner:{owner}:active"

    # API keys (shared.keys.KeyStore)
    def api_key(self, key_id: str) -> str:
        return f"{self.prefix}:apikey:{key_id}"

    def api_keys(self) -> str:
        return f"{self.prefix}:apikeys"

    def rate_window(self, key_id: str, window: int) -> str:
        """Requests of one key in one minute-long window."""
        return f"{self.prefix}:apikey:{key_id}:rpm:{window}"

    def stats(self) -> str:
        """Counters since the store began: ``submitted`` and one per final status."""
        return f"{self.prefix}:stats:jobs"

    def heartbeat(self, hostname: str) -> str:
        return f"{self.prefix}:worker:{hostname}"


def _decode(rows: Any) -> list[tuple[str, dict[str, Any]]]:
    """Stream entries as ``(id, event)`` pairs."""
    return [(eid, json.loads(fields["e"])) for eid, fields in rows or []]


class JobStore:
    """Job records, status transitions and event logs."""

    def __init__(self, client: redis.Redis, prefix: str = "ethos", ttl_s: int = 7 * 86400) -> None:
        # redis-py's decode_responses=True returns str; its stubs say bytes | str.
        self.r: Any = client
        self.keys = JobKeys(prefix)
        self.ttl_s = ttl_s
        self._transition = client.register_script(_TRANSITION)
        self._progress = client.register_script(_PROGRESS)
        self._emit = client.register_script(_EMIT)
        self._commit_version = client.register_script(_COMMIT_VERSION)

    def key(self, job_id: str) -> str:
        return self.keys.job(job_id)

    def ping(self) -> None:
        """Raise when Redis does not answer."""
        self.r.ping()

    def close(self) -> None:
        self.r.close()

    # records
    def create(self, rec: JobRecord) -> None:
        """Store a new job record (status queued) and its first event."""
        fields = _to_fields(rec)
        pipe = self.r.pipeline()
        pipe.hset(self.key(rec.id), mapping=fields)
        now = datetime.now(UTC).timestamp()
        pipe.zadd(self.keys.index(), {rec.id: now})
        pipe.sadd(self.keys.active(), rec.id)
        if rec.owner:
            pipe.zadd(self.keys.owner_index(rec.owner), {rec.id: now})
            pipe.sadd(self.keys.owner_active(rec.owner), rec.id)
        pipe.hincrby(self.keys.stats(), "submitted", 1)
        pipe.execute()
        self.emit(StatusEvent(job_id=rec.id, status=rec.status, stage=rec.stage))

    def get(self, job_id: str) -> JobRecord | None:
        data = self.r.hgetall(self.key(job_id))
        return _from_fields(data) if data else None

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
        """Forget a job entirely (record, events, index entries)."""
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

    def record_delivery(self, job_id: str, attempt: WebhookDelivery) -> None:
        """Append one webhook delivery attempt (kept as long as the job record)."""
        key = self.keys.deliveries(job_id)
        pipe = self.r.pipeline()
        pipe.rpush(key, attempt.model_dump_json())
        pipe.expire(key, self.ttl_s)
        pipe.execute()

    def deliveries(self, job_id: str) -> list[WebhookDelivery]:
        return [WebhookDelivery.model_validate_json(raw)
                for raw in self.r.lrange(self.keys.deliveries(job_id), 0, -1)]

    # workers announce themselves here
    def beat(self, hostname: str, info: dict[str, Any], ttl_s: int) -> None:
        """Announce a worker for ``ttl_s`` seconds."""
        self.r.set(self.keys.heartbeat(hostname), json.dumps(info), ex=ttl_s)

    def job_counts(self) -> dict[str, int]:
        """Jobs submitted and finished per final status, counted since the store began."""
        raw = self.r.hgetall(self.keys.stats())
        return {(k.decode() if isinstance(k, bytes) else k): int(v) for k, v in raw.items()}

    def queue_depths(self, queues: tuple[str, ...]) -> dict[str, int]:
        """Messages waiting in each Celery queue (Celery's Redis transport keeps a queue in a
        list named after it)."""
        pipe = self.r.pipeline()
        for q in queues:
            pipe.llen(q)
        return dict(zip(queues, (int(n) for n in pipe.execute()), strict=True))

    def live_workers(self) -> list[dict[str, Any]]:
        """What each worker last announced (entries expire when a worker stops beating)."""
        keys = list(self.r.scan_iter(self.keys.heartbeat("*"), count=200))
        return [json.loads(raw) for raw in (self.r.mget(keys) if keys else []) if raw]

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

    # result versions: 1 is the machine output (``result_key``); corrections add 2, 3, …
    def result_version(self, job_id: str) -> int:
        """The latest version of the job's result."""
        return int(self.r.hget(self.key(job_id), "result_version") or 1)

    def commit_version(self, job_id: str, expected: int | None, key: str, saved_at: str,
                       segments: int) -> tuple[int, int]:
        """Make the object at ``key`` the next version if the latest is still ``expected``
        (None: whatever it is). Returns ``(1, new)``, ``(0, latest)`` when stale, or
        ``(-1, 0)`` when the job has no result to correct."""
        ok, n = self._commit_version(
            keys=[self.key(job_id)],
            args=["*" if expected is None else str(expected), key, saved_at, str(segments)],
        )
        return int(ok), int(n)

    def version_info(self, job_id: str, version: int) -> dict[str, Any] | None:
        """``{key, saved_at, segments}`` of one version (None when there is no such version)."""
        if version == 1:
            f = self.r.hmget(self.key(job_id), "result_key", "finished_at")
            return {"key": f[0], "saved_at": f[1], "segments": None} if f[0] else None
        raw = self.r.hget(self.key(job_id), f"rv:{version}")
        return json.loads(raw) if raw else None  # type: ignore[no-any-return]

    def mark_deleted(self, job_id: str) -> None:
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
            return _decode(self.r.xrange(self.keys.events(job_id), min=f"({after}" if after != "0" else "-", count=count))
        res = self.r.xread({self.keys.events(job_id): after}, block=block_ms, count=count)
        return [ev for _stream, rows in res or [] for ev in _decode(rows)]


class AsyncJobEvents:
    """The async reader of job records' existence and event streams (the gateway's websocket)."""

    def __init__(self, url: str, prefix: str = "ethos", socket_timeout_s: float = 5.0,
                 max_connections: int = 100) -> None:
        # A blocking pool: past ``max_connections`` a reader waits (up to 5 s) for a free one.
        pool = aioredis.BlockingConnectionPool.from_url(
            url, decode_responses=True, socket_connect_timeout=3, socket_timeout=socket_timeout_s,
            max_connections=max_connections, timeout=5)
        self.r: Any = aioredis.Redis(connection_pool=pool)
        self.keys = JobKeys(prefix)

    async def status(self, job_id: str) -> JobStatus | None:
        """The job's status, or None when there is no such job (or it expired)."""
        s = await self.r.hget(self.keys.job(job_id), "status")
        return JobStatus(s) if s else None

    async def owner(self, job_id: str) -> str | None:
        """The id of the API key that created the job (None: created on an open gateway)."""
        return await self.r.hget(self.keys.job(job_id), "owner")  # type: ignore[no-any-return]

    async def read(self, job_id: str, after: str, block_ms: int, count: int = 500) -> list[tuple[str, dict[str, Any]]]:
        """Events after stream id ``after``, waiting up to ``block_ms`` for the first."""
        res = await self.r.xread({self.keys.events(job_id): after}, block=block_ms, count=count)
        return [ev for _stream, rows in res or [] for ev in _decode(rows)]

    async def close(self) -> None:
        await self.r.aclose()


# JobRecord fields stored as JSON in the hash; the others are plain strings.
_JSON_FIELDS = {"media", "error", "parts", "chunks", "speaker_names"}


def _to_fields(rec: JobRecord) -> dict[str, str]:
    d = rec.model_dump(mode="json")
    out: dict[str, str] = {}
    for k, v in d.items():
        if v is None:
            continue
        if k in _JSON_FIELDS:
            out[k] = json.dumps(v)
        elif isinstance(v, bool):
            out[k] = "1" if v else "0"
        else:
            out[k] = str(v)
    return out


def _from_fields(f: dict[str, str]) -> JobRecord:
    return JobRecord.model_validate(
        {k: json.loads(v) if k in _JSON_FIELDS else v for k, v in f.items() if k in JobRecord.model_fields}
    )
