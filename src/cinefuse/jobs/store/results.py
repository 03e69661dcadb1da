"""Results: how one result is read (its one column list), and its media's expiry."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import and_, or_, select, update

from cinefuse.jobs.models import ResultFailure, ResultOutcome, ResultSuccess, ResultView
from cinefuse.jobs.store.base import Repository
from cinefuse.jobs.tables import results

#: The columns a ``ResultView`` is read from, in its field order: written once, used by
#: every reader (getResponse, webhooks, uploads).
RESULT_VIEW_COLUMNS = (
    results.c.idx,
    results.c.video_uuid,
    results.c.seed,
    results.c.status,
    results.c.progress,
    results.c.media_key,
    results.c.expires_at,
    results.c.cost,
    results.c.nsfw,
    results.c.error_code,
    results.c.error_message,
    results.c.error_parameter,
    results.c.content_type,
)


def result_view(row: Sequence[Any]) -> ResultView:
    """A ``ResultView`` from a row of ``RESULT_VIEW_COLUMNS`` (SQLite gives nsfw as 0/1)."""
    idx, video_uuid, seed, status, progress, media_key, expires_at, cost, nsfw, code, message, parameter, ctype = row
    return ResultView(
        idx,
        video_uuid,
        seed,
        status,
        progress,
        media_key,
        expires_at,
        cost,
        None if nsfw is None else bool(nsfw),
        code,
        message,
        parameter,
        ctype,
    )


def outcome_values(outcome: ResultOutcome) -> dict[str, Any]:
    """The column values that record ``outcome`` on its result row."""
    if isinstance(outcome, ResultSuccess):
        return {
            "status": "success",
            "progress": 100,
            "media_key": outcome.media_key,
            "content_type": outcome.content_type,
            "size_bytes": outcome.size_bytes,
            "expires_at": outcome.expires_at,
            "cost": outcome.cost,
            "nsfw": outcome.nsfw,
        }
    return failure_values(outcome)


def failure_values(failure: ResultFailure) -> dict[str, Any]:
    return {
        "status": "error",
        "error_code": failure.code,
        "error_message": failure.message,
        "error_parameter": failure.parameter,
    }


class ResultRepository(Repository):
    def get(self, job_id: str, idx: int) -> ResultView | None:
        with self.reads() as conn:
            row = conn.execute(
                select(*RESULT_VIEW_COLUMNS).where(results.c.job_id == job_id, results.c.idx == idx)
            ).one_or_none()
        return None if row is None else result_view(tuple(row))

    def expired_media(self, limit: int = 500) -> list[tuple[str, int, str]]:
        """(job id, result idx, media key) of results whose ttl has passed."""
        with self.reads() as conn:
            rows = conn.execute(
                select(results.c.job_id, results.c.idx, results.c.media_key)
                .where(results.c.media_key.is_not(None), results.c.expires_at < self.clock())
                .limit(limit)
            )
            return [(j, i, k) for j, i, k in rows]

    def forget_media(self, items: Sequence[tuple[str, int]]) -> None:
        """The media of these results was deleted: they stay visible, without a URL."""
        if items:
            with self.engine.begin() as conn:
                conn.execute(
                    update(results)
                    .where(or_(*(and_(results.c.job_id == j, results.c.idx == i) for j, i in items)))
                    .values(media_key=None)
                )
