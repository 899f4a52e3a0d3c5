"""The name of every Redis key Ethos uses (the job store, API keys, heartbeats, counters)."""

from __future__ import annotations


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

    def owner_reserved(self, owner: str) -> str:
        """Slots one API key reserved for uploads not yet recorded (job id → expiry time)."""
        return f"{self.prefix}:owner:{owner}:reserved"

    def stored(self) -> str:
        """Stored upload bytes counted against a key's quota: job id → "<owner> <bytes> <time>"."""
        return f"{self.prefix}:stored"

    def owner_stored_bytes(self, owner: str) -> str:
        """The sum of one API key's entries in :meth:`stored`."""
        return f"{self.prefix}:owner:{owner}:stored_bytes"

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
