"""The per-process handles every worker needs: settings, storage, the job store, the API keys.

Created lazily in the process that uses them, never in a parent before fork.
"""

from __future__ import annotations

from functools import lru_cache

from shared.jobs import JobStore, connect
from shared.keys import KeyStore
from shared.settings import Settings, get_settings
from shared.storage import Storage, make_storage


@lru_cache
def settings() -> Settings:
    return get_settings()


@lru_cache
def storage() -> Storage:
    return make_storage(settings().storage)


@lru_cache
def jobs() -> JobStore:
    s = settings()
    return JobStore(connect(s.redis.url, s.redis.socket_timeout_s), s.redis.key_prefix, s.redis.job_ttl_s)


@lru_cache
def keys() -> KeyStore:
    """The API keys (their webhook secrets sign their jobs' callbacks)."""
    return KeyStore(jobs().r, settings().redis.key_prefix)
