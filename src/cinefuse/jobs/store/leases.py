"""Jobs on the worker side: claim, heartbeat, finish under the fence; the sweeper's requeue.

Every write a worker makes goes through ``_holds``: it touches the job row only while the
row's ``fence`` is the worker's and the job is still ``running``. A lease that ran out was
taken back by ``requeue_expired`` (which bumps the fence), so a worker that lost its lease
can no longer change anything.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, func, select, update

from cinefuse.errors import InferenceError, TaskCancelled
from cinefuse.jobs.codec import task_from_record
from cinefuse.jobs.models import (
    Claim,
    JobStatus,
    LeaseState,
    NewDelivery,
    NewResult,
    ResultFailure,
    ResultOutcome,
)
from cinefuse.jobs.store.base import Repository
from cinefuse.jobs.store.outbox import add_deliveries, fail_pending_results
from cinefuse.jobs.store.results import outcome_values
from cinefuse.jobs.tables import jobs, results

_RELEASED = {"lease_owner": None, "lease_expires_at": None}


class LeaseRepository(Repository):
    def next_queued(self, limit: int = 1) -> list[str]:
        """Oldest queued job ids (a hint: ``claim`` decides)."""
        with self.reads() as conn:
            rows = conn.execute(
                select(jobs.c.id).where(jobs.c.status == "queued").order_by(jobs.c.created_at).limit(limit)
            )
            return [r for (r,) in rows]

    def claim(self, job_id: str, owner: str, lease_seconds: float) -> Claim | None:
        """Take the lease on a queued job; None if someone else has it or it is finished.

        A queued job whose attempts are spent is ended instead (``inferenceError``, as the
        sweeper does), never run again: whatever hands out job ids (a redelivered broker
        message, a re-dispatch, a polling worker) cannot make a job that keeps killing its
        worker loop past the attempt cap."""
        now = self.clock()
        with self.engine.begin() as conn:
            row = conn.execute(
                select(
                    jobs.c.id,
                    jobs.c.fence,
                    jobs.c.attempts,
                    jobs.c.max_attempts,
                    jobs.c.cancel_requested,
                    jobs.c.request,
                    jobs.c.key_id,
                )
                .where(jobs.c.id == job_id, jobs.c.status == "queued")
                .with_for_update(skip_locked=True)
            ).one_or_none()
            if row is None:
                return None
            if row.attempts >= row.max_attempts:
                _end(conn, row, now)
                return None
            fence, attempts = row.fence + 1, row.attempts + 1
            conn.execute(
                update(jobs)
                .where(jobs.c.id == job_id)
                .values(
                    status="running",
                    fence=fence,
                    attempts=attempts,
                    lease_owner=owner,
                    lease_expires_at=now + lease_seconds,
                    updated_at=now,
                    claimed_at=now,
                )
            )
            pending = conn.execute(
                select(results.c.idx, results.c.video_uuid, results.c.seed)
                .where(results.c.job_id == job_id, results.c.status == "pending")
                .order_by(results.c.idx)
            ).all()
        return Claim(
            job_id=job_id,
            fence=fence,
            owner=owner,
            attempts=attempts,
            task=task_from_record(row.request),
            key_id=row.key_id,
            pending=tuple(NewResult(r.idx, r.video_uuid, r.seed) for r in pending),
        )

    def _holds(self, conn: Connection, claim: Claim, **values: Any) -> bool:
        """Touch the job row if ``claim`` still owns it; this is the fence check."""
        res = conn.execute(
            update(jobs)
            .where(jobs.c.id == claim.job_id, jobs.c.fence == claim.fence, jobs.c.status == "running")
            .values(updated_at=self.clock(), **values)
        )
        return res.rowcount == 1

    def check(self, claim: Claim) -> LeaseState:
        """The state of ``claim``'s lease, read only (cheap enough for every engine step)."""
        with self.reads() as conn:
            row = conn.execute(
                select(jobs.c.fence, jobs.c.status, jobs.c.cancel_requested).where(jobs.c.id == claim.job_id)
            ).one_or_none()
        if row is None or row.fence != claim.fence or row.status != "running":
            return LeaseState.LOST
        return LeaseState.CANCEL_REQUESTED if row.cancel_requested else LeaseState.HELD

    def heartbeat(self, claim: Claim, lease_seconds: float, progress: dict[int, int] | None = None) -> LeaseState:
        """Renew the lease and record progress (result idx -> 0..99)."""
        with self.engine.begin() as conn:
            if not self._holds(conn, claim, lease_expires_at=self.clock() + lease_seconds):
                return LeaseState.LOST
            for idx, value in (progress or {}).items():
                conn.execute(
                    update(results)
                    .where(results.c.job_id == claim.job_id, results.c.idx == idx, results.c.status == "pending")
                    .values(progress=value)
                )
            cancel = conn.execute(select(jobs.c.cancel_requested).where(jobs.c.id == claim.job_id)).scalar_one()
        return LeaseState.CANCEL_REQUESTED if cancel else LeaseState.HELD

    def finish_result(
        self, claim: Claim, idx: int, outcome: ResultOutcome, deliveries: Sequence[NewDelivery] = ()
    ) -> bool:
        """Move result ``idx`` from pending to ``outcome`` and queue its deliveries,
        atomically and only under a valid fence."""
        now = self.clock()
        with self.engine.begin() as conn:
            if not self._holds(conn, claim):
                return False
            res = conn.execute(
                update(results)
                .where(results.c.job_id == claim.job_id, results.c.idx == idx, results.c.status == "pending")
                .values(finished_at=now, **outcome_values(outcome))
            )
            if res.rowcount != 1:
                return False
            add_deliveries(conn, claim.job_id, idx, deliveries, now)
        return True

    def complete(self, claim: Claim, status: JobStatus, failure: ResultFailure | None = None) -> bool:
        """End the job (every result already final) if the fence still holds."""
        with self.engine.begin() as conn:
            return self._holds(
                conn,
                claim,
                status=status,
                error_code=failure.code if failure else None,
                error_message=failure.message if failure else None,
                **_RELEASED,
            )

    def release(self, claim: Claim) -> bool:
        """Give a job back to the queue (the worker is shutting down) without spending an attempt."""
        with self.engine.begin() as conn:
            return self._holds(conn, claim, status="queued", attempts=max(claim.attempts - 1, 0), **_RELEASED)

    def requeue_expired(self) -> tuple[list[str], list[str]]:
        """Jobs whose lease ran out: back to the queue, or ended after ``max_attempts`` (or
        when a cancel was asked for), their pending results failed with the webhook calls
        they owe. Returns (requeued ids, ended ids)."""
        now = self.clock()
        requeued: list[str] = []
        ended: list[str] = []
        with self.engine.begin() as conn:
            rows = conn.execute(
                select(jobs.c.id, jobs.c.attempts, jobs.c.max_attempts, jobs.c.cancel_requested, jobs.c.request)
                .where(jobs.c.status == "running", jobs.c.lease_expires_at < now)
                .with_for_update(skip_locked=True)
            ).all()
            for row in rows:
                # Bumping the fence here (not only at the next claim) cuts the zombie off at once.
                if not row.cancel_requested and row.attempts < row.max_attempts:
                    conn.execute(
                        update(jobs)
                        .where(jobs.c.id == row.id)
                        .values(status="queued", updated_at=now, fence=jobs.c.fence + 1, **_RELEASED)
                    )
                    requeued.append(row.id)
                    continue
                _end(conn, row, now)
                ended.append(row.id)
        return requeued, ended

    def take_for_redispatch(self, model: str, older_than: float, limit: int) -> list[str]:
        """Up to ``limit`` queued jobs of ``model`` last dispatched before ``older_than``
        (oldest first), marked as dispatched now; rows another sweeper holds are skipped.
        The caller publishes them again: a duplicate message is harmless (the claim decides)."""
        if limit <= 0:
            return []
        now = self.clock()
        last_dispatch = func.coalesce(jobs.c.dispatched_at, jobs.c.updated_at)
        with self.engine.begin() as conn:
            ids = [
                job_id
                for (job_id,) in conn.execute(
                    select(jobs.c.id)
                    .where(jobs.c.status == "queued", jobs.c.model == model, last_dispatch < older_than)
                    .order_by(jobs.c.created_at)
                    .limit(limit)
                    .with_for_update(skip_locked=True)
                )
            ]
            if ids:
                conn.execute(update(jobs).where(jobs.c.id.in_(ids)).values(dispatched_at=now))
        return ids


def _end(conn: Connection, row: Any, now: float) -> None:
    """End a job whose lease ran out or whose attempts are spent: ``cancelled`` when a cancel
    was asked for, else ``inferenceError``; its pending results fail with the webhook calls
    they owe, and the fence moves on, cutting off any worker still at it. ``row`` has the
    job's ``id``, ``attempts``, ``cancel_requested`` and ``request``."""
    error = (
        TaskCancelled("Task cancelled.")
        if row.cancel_requested
        else InferenceError(f"Gave up after {row.attempts} attempts (worker lost).")
    )
    failure = ResultFailure.of(error)
    conn.execute(
        update(jobs)
        .where(jobs.c.id == row.id)
        .values(
            status="cancelled" if row.cancel_requested else "error",
            error_code=failure.code,
            error_message=failure.message,
            updated_at=now,
            fence=jobs.c.fence + 1,
            **_RELEASED,
        )
    )
    fail_pending_results(conn, row.id, row.request, failure, now)
