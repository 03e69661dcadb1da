"""The per-key request rate limit (``CINEFUSE_RATE_LIMIT``, burst twice the rate), shared by
every API server of a fleet (docs/deployment.md):

* ``RedisRateLimiter``: a token bucket per key in Redis, taken from by one Lua script with
  Redis' clock, when Redis is configured (``CINEFUSE_REDIS_URL``, or a Redis broker);
* ``DatabaseRateLimiter``: the same bucket in the ``rate_limits`` table, on PostgreSQL;
* ``LocalRateLimiter``: in this process's memory, for the embedded profile (SQLite: one server).

A limiter that cannot reach its store lets requests through (logged): load shedding must
not turn an outage of Redis into an outage of the API.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any, Protocol

from cinefuse.jobs.store import JobStore
from cinefuse.settings import Settings

log = logging.getLogger(__name__)

#: Seconds between two log lines about an unreachable limiter store.
_COMPLAIN_EVERY = 30.0

_TAKE_TOKEN = """
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local clock = redis.call('TIME')
local now = tonumber(clock[1]) + tonumber(clock[2]) / 1000000
local state = redis.call('HMGET', KEYS[1], 'tokens', 'ts')
local tokens = tonumber(state[1])
local ts = tonumber(state[2])
if tokens == nil or ts == nil then
  tokens = burst
  ts = now
end
tokens = math.min(burst, tokens + math.max(0, now - ts) * rate)
local allowed = 0
if tokens >= 1 then
  tokens = tokens - 1
  allowed = 1
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'ts', tostring(now))
redis.call('PEXPIRE', KEYS[1], math.ceil(burst / rate * 1000) + 1000)
return allowed
"""


class RateLimiter(Protocol):
    async def allow(self, key_id: int) -> bool:
        """Take one request's token for ``key_id``; False: answer ``rateLimitExceeded``."""
        ...


class TokenBucket:
    """A token bucket per key in this process's memory, ``rate`` a second, burst ``2 x rate``."""

    def __init__(self, rate: float) -> None:
        self.rate = rate
        self._state: dict[int, tuple[float, float]] = {}

    def allow(self, key_id: int) -> bool:
        now = time.monotonic()
        tokens, last = self._state.get(key_id, (2 * self.rate, now))
        tokens = min(2 * self.rate, tokens + (now - last) * self.rate)
        if tokens < 1:
            self._state[key_id] = (tokens, now)
            return False
        self._state[key_id] = (tokens - 1, now)
        return True


class LocalRateLimiter:
    def __init__(self, rate: float) -> None:
        self.bucket = TokenBucket(rate)

    async def allow(self, key_id: int) -> bool:
        return self.bucket.allow(key_id)


class _FailOpen:
    """Lets requests through while the shared store is unreachable, saying so now and then."""

    def __init__(self) -> None:
        self._last_complaint = 0.0

    def failed(self, exc: BaseException) -> bool:
        now = time.monotonic()
        if now - self._last_complaint > _COMPLAIN_EVERY:
            self._last_complaint = now
            log.warning("rate limit store unreachable, letting requests through: %s: %s", type(exc).__name__, exc)
        return True


class RedisRateLimiter(_FailOpen):
    def __init__(self, url: str, rate: float, prefix: str = "cinefuse:rate:") -> None:
        super().__init__()
        import redis.asyncio

        self.rate = rate
        self.prefix = prefix
        self._client: Any = redis.asyncio.Redis.from_url(url, socket_timeout=1.0, socket_connect_timeout=1.0)
        self._script: Any = self._client.register_script(_TAKE_TOKEN)

    async def allow(self, key_id: int) -> bool:
        try:
            return bool(await self._script(keys=[f"{self.prefix}{key_id}"], args=[self.rate, 2 * self.rate]))
        except Exception as exc:
            return self.failed(exc)


class DatabaseRateLimiter(_FailOpen):
    def __init__(self, store: JobStore, rate: float) -> None:
        super().__init__()
        self.store = store
        self.rate = rate

    async def allow(self, key_id: int) -> bool:
        try:
            return await asyncio.to_thread(self.store.rate_limits.take, key_id, self.rate, 2 * self.rate)
        except Exception as exc:
            return self.failed(exc)


def rate_limiter(settings: Settings, store: JobStore) -> RateLimiter | None:
    """The limiter these settings call for, or None when there is no rate limit."""
    if settings.rate_limit <= 0:
        return None
    redis_url = settings.shared_redis_url
    if redis_url:
        return RedisRateLimiter(redis_url, settings.rate_limit)
    if store.jobs.sqlite is None:
        return DatabaseRateLimiter(store, settings.rate_limit)
    return LocalRateLimiter(settings.rate_limit)
