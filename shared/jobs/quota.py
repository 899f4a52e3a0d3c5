"""Per-key storage quota: the bytes of uploaded media each API key keeps stored.

Every upload counts in ``<prefix>:stored`` (job id → "<owner> <bytes> <time>") and in its
key's sum (``<prefix>:owner:<id>:stored_bytes``); one Lua script checks the sum against the
quota and counts the new bytes (``scripts.py``), so parallel uploads cannot pass it together. The gateway
reserves each chunk before writing it (and the announced length before reading the body);
an entry holds a running total, so a reservation repeated or lowered at the end is exact.
Deleting a job (``DELETE``, retention, a refused upload) releases its entry once, whichever
comes first. An upload whose gateway died leaves an entry with no job; the upkeep sweep
releases such entries once they have not grown for ``STALE_S``.
"""

from __future__ import annotations

import time

from shared.jobs.base import StoreBase

# An entry with no recorded job that has not grown for this long is an upload that died.
STALE_S = 600


class StoredBytes(StoreBase):
    """Reservations of an API key's stored upload bytes."""

    def reserve_bytes(self, owner: str, job_id: str, total: int, quota: int) -> tuple[bool, int]:
        """Count ``total`` bytes for ``job_id`` (its running total, not an increment) against
        ``owner``'s ``quota`` (0: none): ``(True, the key's sum)``, or ``(False, the sum)``
        when it would pass the quota (nothing counted)."""
        ok, used = self._reserve_bytes(
            keys=[self.keys.stored(), self.keys.owner_stored_bytes(owner)],
            args=[job_id, owner, max(0, total), quota, f"{time.time():.3f}"])
        return int(ok) == 1, int(used)

    def stored_bytes(self, owner: str) -> int:
        """The bytes of uploads ``owner`` keeps stored."""
        return int(self.r.get(self.keys.owner_stored_bytes(owner)) or 0)

    def release_bytes(self, job_id: str, idle_before: float | None = None) -> int:
        """Stop counting ``job_id``'s upload (with ``idle_before``: only when it has no job
        record and has not grown since that time); the bytes released."""
        before, after = self.keys.owner_stored_bytes("\0").split("\0")
        return int(self._release_bytes(
            keys=[self.keys.stored(), self.keys.index()],
            args=[job_id, before, after, "" if idle_before is None else f"{idle_before:.3f}"]))

    def release_stale_bytes(self, now: float | None = None) -> list[str]:
        """Release the entries of uploads that died before their job was recorded; their ids."""
        cutoff = (time.time() if now is None else now) - STALE_S
        return [job_id for job_id, _ in self.r.hscan_iter(self.keys.stored())
                if self.release_bytes(job_id, idle_before=cutoff)]
