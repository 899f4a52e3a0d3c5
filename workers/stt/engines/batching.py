"""How many clips go into one GPU batch: halve on out-of-memory, grow back after a run of
successes (so one OOM on an unusually long batch does not cost throughput for the life of
the process)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class BatchSizer:
    """A pure policy object: ``size`` now, ``on_oom()`` and ``on_success()`` move it."""

    ceiling: int
    grow_after: int = 8  # successful batches in a row before the size doubles again
    size: int = 0
    streak: int = 0

    def __post_init__(self) -> None:
        if self.ceiling < 1 or self.grow_after < 1:
            raise ValueError("ceiling and grow_after must be at least 1")
        self.size = self.size or self.ceiling

    def on_oom(self) -> bool:
        """Halve the batch; False when it is already 1 (nothing left to try)."""
        self.streak = 0
        if self.size == 1:
            return False
        self.size = max(1, self.size // 2)
        return True

    def on_success(self) -> None:
        """Count a batch that fit; after ``grow_after`` in a row, double (up to the ceiling)."""
        if self.size >= self.ceiling:
            self.streak = 0
            return
        self.streak += 1
        if self.streak >= self.grow_after:
            self.size = min(self.ceiling, self.size * 2)
            self.streak = 0
