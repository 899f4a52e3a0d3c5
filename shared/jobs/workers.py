"""Workers announce themselves (heartbeats); the gateway reads them, the queue depths and the
job counters (``/readyz``, ``/metrics``)."""

from __future__ import annotations

import json
from typing import Any

from shared.jobs.base import StoreBase


class WorkerRegistry(StoreBase):
    """Worker heartbeats, Celery queue depths and the job counters."""

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
