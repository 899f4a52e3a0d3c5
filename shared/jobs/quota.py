"""Per-key storage quota: the bytes of uploaded media each API key keeps stored.

Every upload counts in ``<prefix>:stored`` (job id → "<owner> <bytes> <time>") and in its
key's sum (``<prefix>:owner:<id>:stored_bytes``); one Lua script checks the sum against the
quota and counts the new bytes, so parallel uploads cannot pass it together. The gateway
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

# KEYS: the stored hash, the owner's sum; ARGV: job id, owner, the job's new total, the quota
# (0: none), now. Returns {1, the owner's sum} or {0, the owner's sum} when over the quota.
RESERVE = """
local v = redis.call('HGET', KEYS[1], ARGV[1])
local old = 0
if v then old = tonumber(string.match(v, '^%S+ (%d+)')) end
local delta = tonumber(ARGV[3]) - old
local used = tonumber(redis.call('GET', KEYS[2]) or '0')
local quota = tonumber(ARGV[4])
if delta > 0 and quota > 0 and used + delta > quota then return {0, used} end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2] .. ' ' .. ARGV[3] .. ' ' .. ARGV[5])
redis.call('INCRBY', KEYS[2], delta)
return {1, used + delta}
"""

# KEYS: the stored hash, the job index; ARGV: job id, the owner sum's key around the owner
# (before, after), and a time: with a time, only an entry whose job is not in the index and
# that has not grown since then. Returns the bytes released.
RELEASE = """
local v = redis.call('HGET', KEYS[1], ARGV[1])
if not v then return 0 end
local owner, n, at = string.match(v, '^(%S+) (%d+) (%S+)')
if ARGV[4] ~= '' and (redis.call('ZSCORE', KEYS[2], ARGV[1]) or tonumber(at) >= tonumber(ARGV[4])) then
  return 0
end
redis.call('HDEL', KEYS[1], ARGV[1])
redis.call('DECRBY', ARGV[2] .. owner .. ARGV[3], n)
return tonumber(n)
"""


class StoredBytes(StoreBase):
    """Reservations of an API key's stored upload bytes."""

    def reserve_bytes(self, owner: str, job_id: str, total: int, quota: int) -> tuple[bool, int]:
        """Count ``total`` bytes for ``job_id`` (its running total, not an increment) against
        ``owner``'s ``quota`` (0: none): ``(True, the key's sum)``, or ``(False, the sum)``
        when it would pass the quota (nothing counted)."""
        ok, used = self.r.register_script(RESERVE)(
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
        return int(self.r.register_script(RELEASE)(
            keys=[self.keys.stored(), self.keys.index()],
            args=[job_id, before, after, "" if idle_before is None else f"{idle_before:.3f}"]))

    def release_stale_bytes(self, now: float | None = None) -> list[str]:
        """Release the entries of uploads that died before their job was recorded; their ids."""
        cutoff = (time.time() if now is None else now) - STALE_S
        return [job_id for job_id, _ in self.r.hscan_iter(self.keys.stored())
                if self.release_bytes(job_id, idle_before=cutoff)]
