"""Who is alive: worker, deliverer and sweeper processes record heartbeats (``workers``
table, migration 0004), read by ``/readyz``, ``cinefuse doctor`` and ``/metrics``."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from cinefuse.jobs.store.base import Repository
from cinefuse.jobs.tables import workers


@dataclass(frozen=True)
class WorkerInfo:
    id: str
    role: str
    host: str
    pid: int
    models: tuple[str, ...]
    started_at: float
    last_seen_at: float


class WorkerRepository(Repository):
    def beat(self, worker_id: str, role: str, host: str, pid: int, models: Sequence[str], started_at: float) -> None:
        """Record that ``worker_id`` is alive now (its row is created on the first beat)."""
        now = self.clock()
        with self.engine.begin() as conn:
            res = conn.execute(update(workers).where(workers.c.id == worker_id).values(last_seen_at=now, role=role))
            if res.rowcount == 1:
                return
        values = {
            "id": worker_id,
            "role": role,
            "host": host,
            "pid": pid,
            "models": ",".join(models),
            "started_at": started_at,
            "last_seen_at": now,
        }
        try:
            with self.engine.begin() as conn:
                conn.execute(insert(workers).values(**values))
        except IntegrityError:  # a beat of the same process raced this one: it is recorded
            pass

    def live(self, since: float) -> list[WorkerInfo]:
        """Processes whose last heartbeat is at or after ``since``."""
        with self.reads() as conn:
            rows = conn.execute(select(workers).where(workers.c.last_seen_at >= since).order_by(workers.c.started_at))
            return [
                WorkerInfo(
                    r.id,
                    r.role,
                    r.host,
                    r.pid,
                    tuple(m for m in r.models.split(",") if m),
                    r.started_at,
                    r.last_seen_at,
                )
                for r in rows
            ]

    def forget(self, worker_id: str) -> None:
        """A process stopping cleanly takes its row away."""
        with self.engine.begin() as conn:
            conn.execute(delete(workers).where(workers.c.id == worker_id))

    def prune(self, before: float) -> int:
        """Delete the rows of processes silent since before ``before`` (died without a word)."""
        with self.engine.begin() as conn:
            return conn.execute(delete(workers).where(workers.c.last_seen_at < before)).rowcount
