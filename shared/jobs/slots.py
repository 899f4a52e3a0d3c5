"""Per-key unfinished-job slots, reserved atomically so parallel uploads cannot overrun them.

The gateway reserves a slot for a job id before it reads the upload (one Lua script counts the
key's unfinished jobs and its live reservations, and adds the reservation only below the
limit), renews it before it records the job, and :meth:`JobStore.create` turns the
reservation into the job's place in the key's active set in the same transaction. A job's
slot is free again as soon as its status is final (succeeded, failed, canceled: by a worker,
a delete, retention or the lost-job reaper) or its record is gone, since the count reads the
statuses themselves: nothing has to be decremented, so nothing can be decremented twice. A
refused or failed upload drops its reservation; one left by a gateway that died mid-upload
lapses after ``SLOT_TTL_S``.
"""

from __future__ import annotations

import time

from shared.jobs.base import StoreBase

# How long a reservation holds a slot without being renewed. An upload still running when it
# lapses takes its chance again at the second reservation (before the job is recorded).
SLOT_TTL_S = 600


class JobSlots(StoreBase):
    """Reservations of an API key's unfinished-job slots."""

    def reserve_slot(self, owner: str, job_id: str, limit: int, now: float | None = None) -> bool:
        """Hold one of ``owner``'s ``limit`` slots for ``job_id`` (renewed if it holds one);
        False when the key's unfinished jobs and reservations already fill them."""
        now = time.time() if now is None else now
        return int(self._reserve_slot(keys=[self.keys.owner_active(owner), self.keys.owner_reserved(owner)],
                          args=[limit, f"{now:.3f}", SLOT_TTL_S, job_id, self.key("")])) == 1

    def release_slot(self, owner: str, job_id: str) -> None:
        """Drop ``job_id``'s reservation (nothing if it holds none)."""
        self.r.zrem(self.keys.owner_reserved(owner), job_id)
