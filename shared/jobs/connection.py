"""The Redis connection of the job store and the API keys."""

from __future__ import annotations

import redis


def connect(url: str, socket_timeout: float = 5.0) -> redis.Redis:
    """A Redis client that fails fast when the server is down."""
    return redis.Redis.from_url(
        url,
        socket_timeout=socket_timeout,
        socket_connect_timeout=min(socket_timeout, 3.0),
        health_check_interval=30,
        decode_responses=True,
    )
