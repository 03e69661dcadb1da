"""The per-key request rate limit shared by API servers (``api/ratelimit.py``): two limiter
instances stand for two servers. Redis and PostgreSQL are the real ones on 127.0.0.1
(skipped with a reason when down)."""

from __future__ import annotations

import asyncio
import secrets
from pathlib import Path

import pytest
from tests.conftest import _fresh_postgres
from tests.integration.cluster import REDIS_URL, clean_broker

from cinefuse.api.ratelimit import (
    DatabaseRateLimiter,
    LocalRateLimiter,
    RateLimiter,
    RedisRateLimiter,
    rate_limiter,
)
from cinefuse.jobs.db import make_engine, migrate
from cinefuse.jobs.store import JobStore, hash_key
from cinefuse.settings import Settings


def decisions(limiters: list[RateLimiter], key_id: int, count: int) -> list[bool]:
    """``count`` requests of one key, spread over the limiters in turn."""

    async def run() -> list[bool]:
        return [await limiters[i % len(limiters)].allow(key_id) for i in range(count)]

    return asyncio.run(run())


def test_local_bucket_bursts_twice_the_rate() -> None:
    assert decisions([LocalRateLimiter(2.0)], 1, 6) == [True] * 4 + [False] * 2


@pytest.mark.services
def test_redis_bucket_is_shared_by_servers() -> None:
    clean_broker(REDIS_URL)  # skips when Redis is down
    prefix = f"test:{secrets.token_hex(4)}:"
    servers: list[RateLimiter] = [RedisRateLimiter(REDIS_URL, 1.0, prefix), RedisRateLimiter(REDIS_URL, 1.0, prefix)]
    assert decisions(servers, 7, 5) == [True, True, False, False, False]  # burst 2 for both together
    assert decisions(servers, 8, 1) == [True]  # another key, another bucket


def test_an_unreachable_redis_lets_requests_through() -> None:
    limiter = RedisRateLimiter("redis://127.0.0.1:1/0", 0.001)
    assert decisions([limiter], 1, 3) == [True] * 3


@pytest.mark.services
def test_database_bucket_is_shared_by_servers() -> None:
    url = _fresh_postgres()
    first, second = JobStore(make_engine(url)), JobStore(make_engine(url))
    migrate(first.engine)
    key_id = first.keys.ensure(["k"])[hash_key("k")]
    servers: list[RateLimiter] = [DatabaseRateLimiter(first, 1.0), DatabaseRateLimiter(second, 1.0)]
    assert decisions(servers, key_id, 5) == [True, True, False, False, False]


def test_the_limiter_follows_the_settings(tmp_path: Path) -> None:
    store = JobStore(make_engine(f"sqlite:///{tmp_path / 'jobs.db'}"))
    assert rate_limiter(Settings(data_dir=tmp_path), store) is None
    assert isinstance(rate_limiter(Settings(data_dir=tmp_path, rate_limit=5), store), LocalRateLimiter)
    redis = Settings(data_dir=tmp_path, rate_limit=5, broker_url="redis://127.0.0.1:6379/0")
    assert isinstance(rate_limiter(redis, store), RedisRateLimiter)
    assert redis.shared_redis_url == "redis://127.0.0.1:6379/0"
    amqp = Settings(data_dir=tmp_path, rate_limit=5, broker_url="amqp://h//", redis_url="redis://r:6379/1")
    assert amqp.shared_redis_url == "redis://r:6379/1"
    postgres = JobStore(make_engine("postgresql+psycopg://postgres@127.0.0.1:1/none"))  # never connected here
    assert isinstance(rate_limiter(Settings(data_dir=tmp_path, rate_limit=5), postgres), DatabaseRateLimiter)
