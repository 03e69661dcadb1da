"""The per-key request rate limit kept in the database, for API servers that share it
through PostgreSQL (no Redis configured): one token bucket row per key (``rate_limits``,
migration 0004), taken from atomically with the database's own clock, so servers with
skewed clocks still agree."""

from __future__ import annotations

from sqlalchemy import func
from sqlalchemy.dialects.postgresql import insert as pg_insert

from cinefuse.jobs.store.base import Repository
from cinefuse.jobs.tables import rate_limits

_NOW = func.extract("epoch", func.clock_timestamp())


class RateLimitRepository(Repository):
    def take(self, key_id: int, rate: float, burst: float) -> bool:
        """Take one token from ``key_id``'s bucket (``rate`` tokens a second, at most ``burst``
        held); False when it is empty. PostgreSQL only: one ``INSERT .. ON CONFLICT DO UPDATE
        .. WHERE`` statement, so concurrent servers never both spend the last token."""
        refilled = func.least(burst, rate_limits.c.tokens + (_NOW - rate_limits.c.updated_at) * rate)
        statement = (
            pg_insert(rate_limits)
            .values(key_id=key_id, tokens=burst - 1, updated_at=_NOW)
            .on_conflict_do_update(
                index_elements=[rate_limits.c.key_id],
                set_={"tokens": refilled - 1, "updated_at": _NOW},
                where=refilled >= 1,
            )
            .returning(rate_limits.c.key_id)
        )
        with self.engine.begin() as conn:
            return conn.execute(statement).first() is not None
