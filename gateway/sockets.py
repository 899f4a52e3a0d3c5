"""How many event websockets the gateway holds open: per API key and in all.

Each open websocket holds a connection of the async Redis pool while it waits for events,
so the pool is sized from ``gateway.max_websockets`` (app.py) and the slots are counted here:
one tenant cannot take every connection and leave the others' websockets and synchronous
waits without one. Counted per gateway process (one event loop: no lock needed).
"""

from __future__ import annotations

from collections import Counter


class SocketSlots:
    """Open websockets, per key (``None``: the open gateway's anonymous caller) and in all."""

    def __init__(self, per_key: int, total: int) -> None:
        self.per_key, self.total = per_key, total
        self.open: Counter[str | None] = Counter()

    def take(self, key_id: str | None) -> str | None:
        """Take a slot for ``key_id``; None when taken, else why not."""
        if sum(self.open.values()) >= self.total:
            return f"the server holds its limit of {self.total} event websockets; try again shortly"
        if key_id is not None and self.open[key_id] >= self.per_key:
            return (f"this key already holds {self.per_key} event websockets "
                    "(ETHOS_GATEWAY__MAX_WEBSOCKETS_PER_KEY); close one first")
        self.open[key_id] += 1
        return None

    def give(self, key_id: str | None) -> None:
        """Give back a slot taken with :meth:`take`."""
        self.open[key_id] -= 1
        if self.open[key_id] <= 0:
            del self.open[key_id]
