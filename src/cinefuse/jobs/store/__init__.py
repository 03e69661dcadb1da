"""The job store: one object, one repository per aggregate (docs/architecture.md).

Ownership rules (the reason the store exists):

* A job is run only by the holder of its current lease. ``leases.claim`` bumps ``fence``;
  every later write of the worker names that fence and the job must still be ``running``,
  so a worker whose lease expired (a zombie) can never publish after another took over.
* A result row goes ``pending -> success|error`` exactly once (guarded by ``status =
  'pending'``), in the same transaction as the outbox rows it owes its client, however it
  ended: finished by a worker, cancelled, or failed by the sweeper.
* ``leases.requeue_expired`` (the sweeper) returns jobs whose lease ran out to ``queued``,
  or fails them once ``attempts`` reached ``max_attempts``.
"""

from __future__ import annotations

import time

from sqlalchemy import Engine

from cinefuse.jobs.db import is_sqlite
from cinefuse.jobs.store.base import Clock, SqliteFastPath
from cinefuse.jobs.store.images import ImageRepository
from cinefuse.jobs.store.jobs import JobRepository
from cinefuse.jobs.store.keys import KeyRepository, hash_key
from cinefuse.jobs.store.leases import LeaseRepository
from cinefuse.jobs.store.limits import RateLimitRepository
from cinefuse.jobs.store.outbox import OutboxRepository
from cinefuse.jobs.store.results import ResultRepository
from cinefuse.jobs.store.videos import VideoRepository
from cinefuse.jobs.store.workers import WorkerRepository

__all__ = ["JobStore", "hash_key"]


class JobStore:
    """Every read and write of the job store, by aggregate:

    ``keys`` (API keys), ``jobs`` (submission, lookup, cancel), ``leases`` (workers: claim,
    heartbeat, finish; the sweeper's requeue), ``results`` (one result; expired media),
    ``images`` (uploaded images), ``outbox`` (webhook calls and uploads to make),
    ``workers`` (heartbeats of worker processes), ``rate_limits`` (the shared request rate),
    ``videos`` (the OpenAI-style front door's videos).
    """

    def __init__(self, engine: Engine, clock: Clock = time.time) -> None:
        self.engine = engine
        self.clock = clock
        sqlite = SqliteFastPath(engine) if is_sqlite(str(engine.url)) else None
        self.keys = KeyRepository(engine, clock, sqlite)
        self.jobs = JobRepository(engine, clock, sqlite)
        self.leases = LeaseRepository(engine, clock, sqlite)
        self.results = ResultRepository(engine, clock, sqlite)
        self.images = ImageRepository(engine, clock, sqlite)
        self.outbox = OutboxRepository(engine, clock, sqlite)
        self.workers = WorkerRepository(engine, clock, sqlite)
        self.rate_limits = RateLimitRepository(engine, clock, sqlite)
        self.videos = VideoRepository(engine, clock, sqlite)
