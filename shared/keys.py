"""API keys: creation, hashed storage, verification, revocation, and per-key rate limits.

A key reads ``ek_<id>_<secret>``: ``id`` (8 hex characters) names the key in listings, job
ownership and logs; ``secret`` is 32 random bytes (URL-safe base64). Only the SHA-256 of the
whole key is stored. A slow password hash (bcrypt, argon2) buys nothing here: it slows the
guessing of low-entropy human passwords, while a 256-bit random secret cannot be guessed at
any hashing speed, and a fast hash keeps the per-request check cheap. The comparison is
constant-time. Redis key names come from :class:`shared.jobs.JobKeys`, like every other.

Each key also has its own webhook signing secret (``whsec_…``, 32 random bytes), stored with
the key's record: it signs every callback of the key's jobs, so one tenant can neither read
nor forge another's. Unlike the key, it is stored as it is (signing needs it); the key holder
reads it and rotates it through the API. After a rotation the previous secret signs beside
the new one (two ``v1,`` signatures) for a grace period, so receivers can switch without
losing deliveries.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
import time
from dataclasses import dataclass
from typing import Any

import redis

from shared.jobs import JobKeys, utcnow

KEY_RE = re.compile(r"^ek_([0-9a-f]{8})_([A-Za-z0-9_-]{20,100})$")
WINDOW_S = 60


@dataclass(frozen=True)
class KeyInfo:
    """What is stored about a key (never the key itself)."""

    id: str
    name: str
    created_at: str
    revoked: bool


def _digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def new_webhook_secret() -> str:
    """A fresh Standard Webhooks secret: ``whsec_`` and 32 random bytes in base64."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


@dataclass(frozen=True)
class WebhookSecret:
    """A key's webhook secret, and the one it replaced while that still signs too."""

    secret: str
    previous: str | None = None
    previous_until: float | None = None

    def signing(self, now: float | None = None) -> list[str]:
        """The secrets that sign a delivery now: the current one, and the previous one
        within its grace period."""
        now = time.time() if now is None else now
        keep = self.previous and self.previous_until and now < self.previous_until
        return [self.secret, *([self.previous] if keep and self.previous else [])]


class KeyStore:
    """API keys in Redis: ``<prefix>:apikey:<id>`` hashes and the ``<prefix>:apikeys`` set."""

    def __init__(self, client: redis.Redis, prefix: str = "ethos") -> None:
        self.r: Any = client
        self.keys = JobKeys(prefix)
        self._hit = client.register_script(_HIT)  # one script object: EVALSHA per request
        self._rotate = client.register_script(_ROTATE)

    def create(self, name: str) -> tuple[KeyInfo, str]:
        """A new key: its stored facts, and the key itself (shown once, never stored)."""
        while True:
            key_id = secrets.token_hex(4)
            if not self.r.exists(self.keys.api_key(key_id)):
                break
        key = f"ek_{key_id}_{secrets.token_urlsafe(32)}"
        info = KeyInfo(id=key_id, name=name, created_at=utcnow(), revoked=False)
        pipe = self.r.pipeline()
        pipe.hset(self.keys.api_key(key_id), mapping={
            "name": name, "created_at": info.created_at, "revoked": "0", "sha256": _digest(key),
            "whsec": new_webhook_secret()})
        pipe.sadd(self.keys.api_keys(), key_id)
        pipe.execute()
        return info, key

    def get(self, key_id: str) -> KeyInfo | None:
        raw = self.r.hgetall(self.keys.api_key(key_id))
        if not raw:
            return None
        return KeyInfo(id=key_id, name=raw.get("name", ""), created_at=raw.get("created_at", ""),
                       revoked=raw.get("revoked") == "1")

    def list(self) -> list[KeyInfo]:
        """Every key, oldest first."""
        found = [self.get(k) for k in self.r.smembers(self.keys.api_keys())]
        return sorted((k for k in found if k is not None), key=lambda k: k.created_at)

    def revoke(self, key_id: str) -> bool:
        """Stop a key from working at once (its jobs stay, owned by nobody who can read them)."""
        if not self.r.exists(self.keys.api_key(key_id)):
            return False
        self.r.hset(self.keys.api_key(key_id), "revoked", "1")
        return True

    def verify(self, key: str) -> str | None:
        """The key's id when ``key`` is a live key, else None."""
        m = KEY_RE.match(key.strip())
        if not m:
            return None
        stored = self.r.hmget(self.keys.api_key(m.group(1)), "sha256", "revoked")
        if not stored[0] or stored[1] == "1":
            return None
        return m.group(1) if hmac.compare_digest(stored[0], _digest(key.strip())) else None

    def webhook_secret(self, key_id: str) -> WebhookSecret | None:
        """The key's webhook secret (made now for a key created before keys had one); None
        for an unknown key."""
        k = self.keys.api_key(key_id)
        if not self.r.exists(k):
            return None
        self.r.hsetnx(k, "whsec", new_webhook_secret())
        cur, prev, until = self.r.hmget(k, "whsec", "whsec_prev", "whsec_prev_until")
        return WebhookSecret(cur, prev or None, float(until) if until else None)

    def rotate_webhook_secret(self, key_id: str, grace_s: float, now: float | None = None) -> WebhookSecret | None:
        """Give the key a new webhook secret; the old one keeps signing beside it for
        ``grace_s`` seconds. None for an unknown key."""
        now = time.time() if now is None else now
        done = self._rotate(keys=[self.keys.api_key(key_id)], args=[new_webhook_secret(), f"{now + grace_s:.3f}"])
        return self.webhook_secret(key_id) if done else None

    def hit(self, key_id: str, per_minute: int, now: float | None = None) -> float:
        """Count one request of a key; 0 when allowed, else the seconds to wait.

        A sliding window over two fixed minute windows: the previous minute's count weighs
        by the part of it still inside the last 60 s. Refused requests are not counted. The
        check and the count are one Lua script, so parallel requests cannot both pass the last
        free place."""
        now = time.time() if now is None else now
        window = int(now // WINDOW_S)
        elapsed = now - window * WINDOW_S
        cur_key, prev_key = self.keys.rate_window(key_id, window), self.keys.rate_window(key_id, window - 1)
        wait = self._hit(keys=[cur_key, prev_key],
                                            args=[per_minute, elapsed, WINDOW_S, 2 * WINDOW_S + 5])
        return float(wait)


# KEYS: this minute's counter, the previous one's; ARGV: limit, seconds into this minute,
# the window, the counter's lifetime. Returns the seconds to wait (0: counted, allowed).
_HIT = """
local cur = tonumber(redis.call('GET', KEYS[1]) or '0')
local prev = tonumber(redis.call('GET', KEYS[2]) or '0')
local limit, elapsed, w = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local estimate = cur + prev * (1 - elapsed / w)
if estimate + 1 > limit then
  if cur + 1 > limit then return math.max(1, math.ceil(w - elapsed)) end
  return math.max(1, math.ceil((estimate + 1 - limit) / math.max(prev, 1) * w))
end
redis.call('INCR', KEYS[1])
redis.call('EXPIRE', KEYS[1], ARGV[4])
return 0
"""


# KEYS: the API key's hash; ARGV: the new secret, until when the old one still signs.
# Returns 0 for an unknown key, else 1.
_ROTATE = """
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
local old = redis.call('HGET', KEYS[1], 'whsec')
if old then redis.call('HSET', KEYS[1], 'whsec_prev', old, 'whsec_prev_until', ARGV[2]) end
redis.call('HSET', KEYS[1], 'whsec', ARGV[1])
return 1
"""
