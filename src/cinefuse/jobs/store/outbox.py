"""The outbox: webhook calls and uploads still to make, claimed and settled by deliverers.

Rows are added only by the transactions that finish results (``outbox_rows`` builds them,
the one place an outbox row is written), so a restart never loses a delivery.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, func, insert, select, update

from cinefuse.jobs.codec import task_from_record
from cinefuse.jobs.models import Delivery, DeliveryOutcome, NewDelivery, ResultFailure, deliveries_for
from cinefuse.jobs.store.base import Repository
from cinefuse.jobs.store.results import failure_values
from cinefuse.jobs.tables import jobs, outbox, results


def add_deliveries(conn: Connection, job_id: str, idx: int, deliveries: Sequence[NewDelivery], now: float) -> None:
    """Queue ``deliveries`` of result ``idx`` inside the caller's transaction."""
    if deliveries:
        conn.execute(insert(outbox), [_outbox_row(job_id, idx, d, now) for d in deliveries])


def fail_pending_results(conn: Connection, job_id: str, record: Any, failure: ResultFailure, now: float) -> None:
    """Inside the caller's transaction: every still-pending result of the job ends with
    ``failure``, and the webhook calls those results owe are queued. ``record`` is the job's
    stored task (its webhook URL)."""
    failed = conn.execute(
        update(results)
        .where(results.c.job_id == job_id, results.c.status == "pending")
        .values(finished_at=now, **failure_values(failure))
        .returning(results.c.idx, results.c.video_uuid)
    ).all()
    if not failed:
        return
    task = task_from_record(record)
    for idx, video_uuid in failed:
        add_deliveries(conn, job_id, idx, deliveries_for(task, video_uuid, succeeded=False), now)


def _outbox_row(job_id: str, idx: int, delivery: NewDelivery, now: float) -> dict[str, Any]:
    return {
        "job_id": job_id,
        "result_idx": idx,
        "kind": delivery.kind,
        "url": delivery.url,
        "delivery_id": delivery.delivery_id,
        "payload": None,
        "status": "blocked" if delivery.blocked else "pending",
        "attempts": 0,
        "next_attempt_at": now,
        "created_at": now,
    }


class OutboxRepository(Repository):
    def claim_due(self, limit: int, lease_seconds: float, owner: str | None = None) -> list[Delivery]:
        """Due deliveries, each pushed ``lease_seconds`` into the future so that no other
        deliverer sends it meanwhile (a crash mid-send just makes it due again), and marked
        as ``owner``'s until its outcome is recorded."""
        now = self.clock()
        with self.engine.begin() as conn:
            rows = conn.execute(
                select(
                    outbox.c.id,
                    outbox.c.job_id,
                    outbox.c.result_idx,
                    outbox.c.kind,
                    outbox.c.url,
                    outbox.c.delivery_id,
                    outbox.c.attempts,
                    jobs.c.key_id,
                    jobs.c.task_uuid,
                )
                .join(jobs, jobs.c.id == outbox.c.job_id)
                .where(outbox.c.status == "pending", outbox.c.next_attempt_at <= now)
                .order_by(outbox.c.next_attempt_at)
                .limit(limit)
                .with_for_update(skip_locked=True, of=outbox)
            ).all()
            if rows:
                conn.execute(
                    update(outbox)
                    .where(outbox.c.id.in_([r.id for r in rows]))
                    .values(next_attempt_at=now + lease_seconds, claimed_by=owner)
                )
        return [
            Delivery(r.id, r.job_id, r.result_idx, r.kind, r.url, r.delivery_id, r.attempts, r.key_id, r.task_uuid)
            for r in rows
        ]

    def record(self, outcomes: Sequence[DeliveryOutcome]) -> None:
        """Write many delivery outcomes in one transaction (the deliverer batches them:
        one transaction per call would cap it at the disk's commit rate)."""
        if not outcomes:
            return
        with self.engine.begin() as conn:
            for o in outcomes:
                d = o.delivery
                values: dict[str, Any] = {
                    "status": o.status,
                    "attempts": d.attempts + 1,
                    "last_error": o.error,
                    "claimed_by": None,
                }
                if o.status == "pending":
                    values["next_attempt_at"] = o.next_attempt_at
                conn.execute(update(outbox).where(outbox.c.id == d.id).values(**values))
                if o.result_error is not None:
                    conn.execute(
                        update(results)
                        .where(results.c.job_id == d.job_id, results.c.idx == d.result_idx)
                        .values(**failure_values(o.result_error))
                    )
                if d.kind == "upload" and o.status != "pending":
                    self._unblock(conn, d)

    def _unblock(self, conn: Connection, delivery: Delivery) -> None:
        """The upload of a result ended: its webhook may go now."""
        conn.execute(
            update(outbox)
            .where(
                outbox.c.job_id == delivery.job_id,
                outbox.c.result_idx == delivery.result_idx,
                outbox.c.status == "blocked",
            )
            .values(status="pending", next_attempt_at=self.clock())
        )

    def claim_owners(self) -> list[str]:
        """The deliverers holding claims right now."""
        with self.reads() as conn:
            rows = conn.execute(select(outbox.c.claimed_by).where(outbox.c.claimed_by.is_not(None)).distinct())
            return [owner for (owner,) in rows]

    def release_claims(self, owners: Sequence[str]) -> int:
        """Make the rows these (dead) deliverers held due now; returns how many."""
        if not owners:
            return 0
        with self.engine.begin() as conn:
            res = conn.execute(
                update(outbox)
                .where(outbox.c.claimed_by.in_(list(owners)), outbox.c.status == "pending")
                .values(claimed_by=None, next_attempt_at=self.clock())
            )
            return res.rowcount

    def counts(self) -> dict[str, int]:
        """Outbox rows by status."""
        with self.reads() as conn:
            return {s: n for s, n in conn.execute(select(outbox.c.status, func.count()).group_by(outbox.c.status))}
