"""What every part of the job store shares: the client, the key names, the record lifetime."""

from __future__ import annotations

from typing import Any

import redis

from shared.jobs import scripts
from shared.jobs.redis_keys import JobKeys


class StoreBase:
    """A Redis client, the key names under one prefix, how long job data lives, and the
    registered scripts."""

    def __init__(self, client: redis.Redis, prefix: str = "ethos", ttl_s: int = 7 * 86400) -> None:
        # redis-py's decode_responses=True returns str; its stubs say bytes | str.
        self.r: Any = client
        self.keys = JobKeys(prefix)
        self.ttl_s = ttl_s
        self._transition = client.register_script(scripts.TRANSITION)
        self._progress = client.register_script(scripts.PROGRESS)
        self._emit = client.register_script(scripts.EMIT)
        self._commit_version = client.register_script(scripts.COMMIT_VERSION)
        self._reserve_slot = client.register_script(scripts.RESERVE_SLOT)
        self._reserve_bytes = client.register_script(scripts.RESERVE_BYTES)
        self._release_bytes = client.register_script(scripts.RELEASE_BYTES)

    def key(self, job_id: str) -> str:
        return self.keys.job(job_id)
