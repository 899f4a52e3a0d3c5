"""Result versions: 1 is the machine output (``result_key``); corrections add 2, 3, …"""

from __future__ import annotations

import json
from typing import Any

from shared.jobs.base import StoreBase


class ResultVersions(StoreBase):
    """The latest version number and where each version is stored."""

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
