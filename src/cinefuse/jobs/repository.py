"""The job store: every read and write of jobs, results, images, keys and the outbox.

Ownership rules (the reason this module exists):

* A job is run only by the holder of its current lease. ``claim`` bumps ``fence``;
  ``heartbeat``, ``finish_result`` and ``complete`` all require ``fence`` to still match
  and the job to still be ``running``, so a worker whose lease expired (a zombie) can
  never publish a result after another worker took the job over.
* A result row goes ``pending -> success|error`` exactly once (the update is guarded by
  ``status = 'pending'``), in the same transaction as its outbox rows.
* ``requeue_expired`` (the sweeper) returns jobs whose lease ran out to ``queued``, or
  fails them once ``attempts`` reached ``max_attempts``.
"""

from __future__ import annotations

import hashlib
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import orjson
from sqlalchemy import Connection, Engine, and_, delete, func, insert, or_, select, update

from cinefuse.jobs.db import READ_ONLY, is_sqlite, sqlite_path
from cinefuse.jobs.models import (
    Claim,
    Delivery,
    DeliveryOutcome,
    ImageRecord,
    JobStatus,
    JobView,
    NewDelivery,
    NewJob,
    ResultView,
)
from cinefuse.jobs.tables import api_keys, images, jobs, outbox, results

Clock = Callable[[], float]

_RESULT_COLUMNS = ", ".join(
    f"r.{c}"
    for c in (
        "idx",
        "video_uuid",
        "seed",
        "status",
        "progress",
        "media_key",
        "expires_at",
        "cost",
        "nsfw",
        "error_code",
        "error_message",
    )
)
_INSERT_JOB = (
    "INSERT INTO jobs (id, key_id, task_uuid, model, request, status, attempts, max_attempts, fence,"
    " cancel_requested, created_at, updated_at) VALUES (?, ?, ?, ?, ?{json}, 'queued', 0, ?, 0, false, ?, ?)"
)
_INSERT_RESULT = (
    "INSERT INTO results (job_id, idx, video_uuid, seed, status, progress) VALUES (?, ?, ?, ?, 'pending', 0)"
)
_VIEW_SQL = (
    f"SELECT j.id, j.status, {_RESULT_COLUMNS} FROM jobs j JOIN results r ON r.job_id = j.id"
    " WHERE j.key_id = ? AND j.task_uuid = ? ORDER BY r.idx"
)


def hash_key(api_key: str) -> str:
    return hashlib.sha256(api_key.encode()).hexdigest()


def _result_view(row: Sequence[Any]) -> ResultView:
    idx, video_uuid, seed, status, progress, media_key, expires_at, cost, nsfw, code, message = row
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
    )


class JobRepository:
    def __init__(self, engine: Engine, clock: Clock = time.time) -> None:
        self.engine = engine
        self.clock = clock
        self._sqlite_file = sqlite_path(str(engine.url)) if is_sqlite(str(engine.url)) else None
        self._local = threading.local()

    def _reads(self) -> Connection:
        """A connection for reading only: on SQLite it never waits for the write lock."""
        return self.engine.connect().execution_options(**{READ_ONLY: True})

    # ------------------------------------------------------------------ keys

    def ensure_keys(self, keys: Iterable[str], label: str = "") -> dict[str, int]:
        """Register keys (idempotent); returns key hash -> key id for every known key."""
        with self.engine.begin() as conn:
            known = {h for (h,) in conn.execute(select(api_keys.c.key_hash))}
            for key in keys:
                key_hash = hash_key(key)
                if key_hash not in known:
                    conn.execute(insert(api_keys).values(key_hash=key_hash, label=label, created_at=self.clock()))
                    known.add(key_hash)
            return {h: i for i, h in conn.execute(select(api_keys.c.id, api_keys.c.key_hash))}

    def key_ids(self) -> dict[str, int]:
        with self._reads() as conn:
            return {h: i for i, h in conn.execute(select(api_keys.c.id, api_keys.c.key_hash))}

    # ------------------------------------------------------------------ submission

    def insert_jobs(self, batch: Sequence[NewJob]) -> list[bool]:
        """Insert many jobs in one transaction (group commit); per job: inserted, or False
        when its (key, taskUUID) already exists (conflictTaskUUID).

        This is the submission hot path: rows go through ``exec_driver_sql`` executemany
        (no statement compilation per batch), and the conflict check is one indexed
        ``IN`` query per key.
        """
        inserted = [False] * len(batch)
        with self.engine.begin() as conn:
            by_key: dict[int, list[str]] = {}
            for job in batch:
                by_key.setdefault(job.key_id, []).append(job.task_uuid)
            existing: set[tuple[int, str]] = set()
            for key_id, uuids in by_key.items():
                rows = conn.execute(
                    select(jobs.c.task_uuid).where(jobs.c.key_id == key_id, jobs.c.task_uuid.in_(uuids))
                )
                existing.update((key_id, u) for (u,) in rows)
            job_rows: list[tuple[Any, ...]] = []
            result_rows: list[tuple[Any, ...]] = []
            for i, job in enumerate(batch):
                identity = (job.key_id, job.task_uuid)
                if identity in existing:
                    continue
                existing.add(identity)  # a duplicate later in the same batch conflicts too
                inserted[i] = True
                job_rows.append(
                    (
                        job.id,
                        job.key_id,
                        job.task_uuid,
                        job.model,
                        orjson.dumps(job.request).decode(),
                        job.max_attempts,
                        job.created_at,
                        job.created_at,
                    )
                )
                result_rows.extend((job.id, r.idx, r.video_uuid, r.seed) for r in job.results)
            if job_rows:
                sqlite = self._sqlite_file is not None
                mark, json_cast = ("?", "") if sqlite else ("%s", "::json")
                conn.exec_driver_sql(_INSERT_JOB.format(json=json_cast).replace("?", mark), job_rows)
                conn.exec_driver_sql(_INSERT_RESULT.replace("?", mark), result_rows)
        return inserted

    def queued_counts(self) -> dict[int, int]:
        """Queued jobs per key id (load shedding)."""
        with self._reads() as conn:
            rows = conn.execute(
                select(jobs.c.key_id, func.count()).where(jobs.c.status == "queued").group_by(jobs.c.key_id)
            )
            return {k: n for k, n in rows}

    # ------------------------------------------------------------------ reads

    def _sqlite_reader(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "reader", None)
        if conn is None:
            assert self._sqlite_file is not None
            # Autocommit: each SELECT sees the newest committed state (WAL readers never block).
            conn = sqlite3.connect(self._sqlite_file, isolation_level=None, check_same_thread=False)
            conn.execute(f"PRAGMA busy_timeout={30_000}")
            self._local.reader = conn
        return conn

    def job_view(self, key_id: int, task_uuid: str) -> JobView | None:
        """The job and its results, or None if this key never submitted that taskUUID.

        This is the getResponse hot path: on SQLite it runs one prepared statement on a
        per-thread connection, cheap enough to call from the event loop.
        """
        if self._sqlite_file is not None:
            rows = self._sqlite_reader().execute(_VIEW_SQL, (key_id, task_uuid)).fetchall()
        else:
            with self._reads() as conn:
                rows = list(conn.exec_driver_sql(_VIEW_SQL.replace("?", "%s"), (key_id, task_uuid)))
        if not rows:
            return None
        status: JobStatus = rows[0][1]
        return JobView(rows[0][0], status, tuple(_result_view(row[2:]) for row in rows))

    def job_status(self, job_id: str) -> str | None:
        with self._reads() as conn:
            return conn.execute(select(jobs.c.status).where(jobs.c.id == job_id)).scalar_one_or_none()

    def job_request(self, job_id: str) -> dict[str, Any] | None:
        with self._reads() as conn:
            value = conn.execute(select(jobs.c.request).where(jobs.c.id == job_id)).scalar_one_or_none()
            return dict(value) if value is not None else None

    # ------------------------------------------------------------------ images

    def insert_image(self, record: ImageRecord) -> None:
        now = self.clock()
        with self.engine.begin() as conn:
            conn.execute(
                insert(images).values(
                    uuid=record.uuid,
                    key_id=record.key_id,
                    media_key=record.media_key,
                    content_type=record.content_type,
                    width=record.width,
                    height=record.height,
                    created_at=now,
                    last_used_at=now,
                )
            )

    def get_image(self, key_id: int, image_uuid: str, *, touch: bool = True) -> ImageRecord | None:
        """An uploaded image of this key (another key's image is "not found"); ``touch`` renews its retention."""
        with self.engine.begin() as conn:
            row = conn.execute(
                select(images).where(images.c.uuid == image_uuid, images.c.key_id == key_id)
            ).one_or_none()
            if row is None:
                return None
            if touch:
                conn.execute(update(images).where(images.c.uuid == image_uuid).values(last_used_at=self.clock()))
            return ImageRecord(row.uuid, row.key_id, row.media_key, row.content_type, row.width, row.height)

    def expired_images(self, older_than: float, limit: int = 500) -> list[tuple[str, str]]:
        with self._reads() as conn:
            rows = conn.execute(
                select(images.c.uuid, images.c.media_key).where(images.c.last_used_at < older_than).limit(limit)
            )
            return [(u, k) for u, k in rows]

    def delete_images(self, uuids: Sequence[str]) -> None:
        if uuids:
            with self.engine.begin() as conn:
                conn.execute(delete(images).where(images.c.uuid.in_(list(uuids))))

    # ------------------------------------------------------------------ workers

    def next_queued(self, limit: int = 1) -> list[str]:
        """Oldest queued job ids (a hint: ``claim`` decides)."""
        with self._reads() as conn:
            rows = conn.execute(
                select(jobs.c.id).where(jobs.c.status == "queued").order_by(jobs.c.created_at).limit(limit)
            )
            return [r for (r,) in rows]

    def claim(self, job_id: str, owner: str, lease_seconds: float) -> Claim | None:
        """Take the lease on a queued job; None if someone else has it or it is finished."""
        now = self.clock()
        with self.engine.begin() as conn:
            row = conn.execute(
                select(
                    jobs.c.fence, jobs.c.attempts, jobs.c.max_attempts, jobs.c.request, jobs.c.key_id, jobs.c.task_uuid
                )
                .where(jobs.c.id == job_id, jobs.c.status == "queued")
                .with_for_update(skip_locked=True)
            ).one_or_none()
            if row is None:
                return None
            fence = row.fence + 1
            conn.execute(
                update(jobs)
                .where(jobs.c.id == job_id)
                .values(
                    status="running",
                    fence=fence,
                    attempts=row.attempts + 1,
                    lease_owner=owner,
                    lease_expires_at=now + lease_seconds,
                    updated_at=now,
                )
            )
            pending = conn.execute(
                select(results.c.idx, results.c.seed, results.c.video_uuid)
                .where(results.c.job_id == job_id, results.c.status == "pending")
                .order_by(results.c.idx)
            ).all()
        return Claim(
            job_id=job_id,
            fence=fence,
            owner=owner,
            attempts=row.attempts + 1,
            request=dict(row.request),
            key_id=row.key_id,
            task_uuid=row.task_uuid,
            pending=tuple(r.idx for r in pending),
            seeds={r.idx: r.seed for r in pending},
            video_uuids={r.idx: r.video_uuid for r in pending},
        )

    def _holds(self, conn: Connection, claim: Claim, **values: Any) -> bool:
        """Touch the job row if ``claim`` still owns it; this is the fence check."""
        res = conn.execute(
            update(jobs)
            .where(jobs.c.id == claim.job_id, jobs.c.fence == claim.fence, jobs.c.status == "running")
            .values(updated_at=self.clock(), **values)
        )
        return res.rowcount == 1

    def heartbeat(self, claim: Claim, lease_seconds: float, progress: dict[int, int] | None = None) -> str:
        """Renew the lease and record progress. Returns "ok", "cancel" (cancel requested) or "lost"."""
        with self.engine.begin() as conn:
            if not self._holds(conn, claim, lease_expires_at=self.clock() + lease_seconds):
                return "lost"
            for idx, value in (progress or {}).items():
                conn.execute(
                    update(results)
                    .where(results.c.job_id == claim.job_id, results.c.idx == idx, results.c.status == "pending")
                    .values(progress=value)
                )
            cancel = conn.execute(select(jobs.c.cancel_requested).where(jobs.c.id == claim.job_id)).scalar_one()
        return "cancel" if cancel else "ok"

    def finish_result(
        self,
        claim: Claim,
        idx: int,
        *,
        values: dict[str, Any],
        deliveries: Sequence[NewDelivery] = (),
    ) -> bool:
        """Move result ``idx`` from pending to its final state (``values`` holds ``status`` and
        its fields) and queue its deliveries, atomically and only under a valid fence."""
        now = self.clock()
        with self.engine.begin() as conn:
            if not self._holds(conn, claim):
                return False
            res = conn.execute(
                update(results)
                .where(results.c.job_id == claim.job_id, results.c.idx == idx, results.c.status == "pending")
                .values(finished_at=now, **values)
            )
            if res.rowcount != 1:
                return False
            if deliveries:
                conn.execute(
                    insert(outbox),
                    [
                        {
                            "job_id": claim.job_id,
                            "result_idx": idx,
                            "kind": d.kind,
                            "url": d.url,
                            "delivery_id": d.delivery_id,
                            "payload": None,
                            "status": "blocked" if d.blocked else "pending",
                            "attempts": 0,
                            "next_attempt_at": now,
                            "created_at": now,
                        }
                        for d in deliveries
                    ],
                )
        return True

    def complete(self, claim: Claim, status: JobStatus, error: tuple[str, str] | None = None) -> bool:
        """End the job (every result already final) if the fence still holds."""
        with self.engine.begin() as conn:
            code, message = error or (None, None)
            return self._holds(
                conn,
                claim,
                status=status,
                lease_owner=None,
                lease_expires_at=None,
                error_code=code,
                error_message=message,
            )

    def release(self, claim: Claim) -> bool:
        """Give a job back to the queue (e.g. worker shutting down) without counting it as failed."""
        with self.engine.begin() as conn:
            return self._holds(
                conn,
                claim,
                status="queued",
                lease_owner=None,
                lease_expires_at=None,
                attempts=max(claim.attempts - 1, 0),
            )

    # ------------------------------------------------------------------ cancellation

    def request_cancel(
        self, key_id: int, task_uuid: str, message: str, webhook_of: Callable[[dict[str, Any]], str | None]
    ) -> str | None:
        """Cancel a task of this key. Queued work is dropped at once (pending results become
        ``taskCancelled``, each with its webhook call when ``webhook_of(request)`` names a
        URL); running work is flagged and stops at its next step. Returns the job's status
        afterwards, or None when the key has no such task."""
        now = self.clock()
        with self.engine.begin() as conn:
            row = conn.execute(
                select(jobs.c.id, jobs.c.status, jobs.c.request).where(
                    jobs.c.key_id == key_id, jobs.c.task_uuid == task_uuid
                )
            ).one_or_none()
            if row is None:
                return None
            if row.status == "queued":
                conn.execute(
                    update(jobs)
                    .where(jobs.c.id == row.id, jobs.c.status == "queued")
                    .values(status="cancelled", cancel_requested=True, updated_at=now)
                )
                cancelled = conn.execute(
                    update(results)
                    .where(results.c.job_id == row.id, results.c.status == "pending")
                    .values(status="error", error_code="taskCancelled", error_message=message, finished_at=now)
                    .returning(results.c.idx, results.c.video_uuid)
                ).all()
                webhook = webhook_of(dict(row.request))
                if webhook and cancelled:
                    conn.execute(
                        insert(outbox),
                        [
                            {"job_id": row.id, "result_idx": idx, "kind": "webhook", "url": webhook,
                             "delivery_id": f"msg_{video_uuid}", "payload": None, "status": "pending",
                             "attempts": 0, "next_attempt_at": now, "created_at": now}
                            for idx, video_uuid in cancelled
                        ],
                    )  # fmt: skip
                return "cancelled"
            if row.status == "running":
                conn.execute(update(jobs).where(jobs.c.id == row.id).values(cancel_requested=True))
            return str(row.status)

    # ------------------------------------------------------------------ sweeper

    def requeue_expired(self) -> tuple[list[str], list[str]]:
        """Jobs whose lease ran out: back to the queue, or failed after ``max_attempts``.
        Returns (requeued ids, failed ids)."""
        now = self.clock()
        requeued: list[str] = []
        failed: list[str] = []
        with self.engine.begin() as conn:
            rows = conn.execute(
                select(jobs.c.id, jobs.c.attempts, jobs.c.max_attempts, jobs.c.cancel_requested)
                .where(jobs.c.status == "running", jobs.c.lease_expires_at < now)
                .with_for_update(skip_locked=True)
            ).all()
            for row in rows:
                if row.cancel_requested or row.attempts >= row.max_attempts:
                    code, message = (
                        ("taskCancelled", "Task cancelled.")
                        if row.cancel_requested
                        else ("inferenceError", f"Gave up after {row.attempts} attempts (worker lost).")
                    )
                    conn.execute(
                        update(jobs)
                        .where(jobs.c.id == row.id)
                        .values(
                            status="cancelled" if row.cancel_requested else "error",
                            lease_owner=None,
                            lease_expires_at=None,
                            error_code=code,
                            error_message=message,
                            updated_at=now,
                            fence=jobs.c.fence + 1,
                        )
                    )
                    conn.execute(
                        update(results)
                        .where(results.c.job_id == row.id, results.c.status == "pending")
                        .values(status="error", error_code=code, error_message=message, finished_at=now)
                    )
                    failed.append(row.id)
                else:
                    # Bumping the fence here (not only at the next claim) cuts the zombie off at once.
                    conn.execute(
                        update(jobs)
                        .where(jobs.c.id == row.id)
                        .values(
                            status="queued",
                            lease_owner=None,
                            lease_expires_at=None,
                            updated_at=now,
                            fence=jobs.c.fence + 1,
                        )
                    )
                    requeued.append(row.id)
        return requeued, failed

    def expired_media(self, limit: int = 500) -> list[tuple[str, int, str]]:
        """(job id, result idx, media key) of results whose ttl has passed."""
        with self._reads() as conn:
            rows = conn.execute(
                select(results.c.job_id, results.c.idx, results.c.media_key)
                .where(results.c.media_key.is_not(None), results.c.expires_at < self.clock())
                .limit(limit)
            )
            return [(j, i, k) for j, i, k in rows]

    def forget_media(self, items: Sequence[tuple[str, int]]) -> None:
        if items:
            with self.engine.begin() as conn:
                conn.execute(
                    update(results)
                    .where(or_(*(and_(results.c.job_id == j, results.c.idx == i) for j, i in items)))
                    .values(media_key=None)
                )

    # ------------------------------------------------------------------ outbox

    def claim_deliveries(self, limit: int, lease_seconds: float) -> list[Delivery]:
        """Due deliveries, each pushed ``lease_seconds`` into the future so that no other
        deliverer sends it meanwhile (a crash mid-send just makes it due again)."""
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
                    .values(next_attempt_at=now + lease_seconds)
                )
        return [
            Delivery(r.id, r.job_id, r.result_idx, r.kind, r.url, r.delivery_id, r.attempts, r.key_id, r.task_uuid)
            for r in rows
        ]

    def record_deliveries(self, outcomes: Sequence[DeliveryOutcome]) -> None:
        """Write many delivery outcomes in one transaction (the deliverer batches them:
        one transaction per call would cap it at the disk's commit rate)."""
        if not outcomes:
            return
        with self.engine.begin() as conn:
            for o in outcomes:
                d = o.delivery
                values: dict[str, Any] = {"status": o.status, "attempts": d.attempts + 1, "last_error": o.error}
                if o.status == "pending":
                    values["next_attempt_at"] = o.next_attempt_at
                conn.execute(update(outbox).where(outbox.c.id == d.id).values(**values))
                if o.result_error is not None:
                    conn.execute(
                        update(results)
                        .where(results.c.job_id == d.job_id, results.c.idx == d.result_idx)
                        .values(status="error", error_code=o.result_error[0], error_message=o.result_error[1])
                    )
                if d.kind == "upload" and o.status != "pending":
                    self._unblock(conn, d)

    def delivery_sent(self, delivery: Delivery) -> None:
        self.record_deliveries([DeliveryOutcome(delivery, "sent")])

    def delivery_retry(self, delivery: Delivery, next_attempt_at: float, error: str) -> None:
        self.record_deliveries([DeliveryOutcome(delivery, "pending", error, next_attempt_at)])

    def delivery_failed(self, delivery: Delivery, error: str, result_error: tuple[str, str] | None = None) -> None:
        """Give up on a delivery; ``result_error`` (code, message) also turns its result
        into an error (a failed upload)."""
        self.record_deliveries([DeliveryOutcome(delivery, "failed", error, result_error=result_error)])

    def _unblock(self, conn: Connection, delivery: Delivery) -> None:
        conn.execute(
            update(outbox)
            .where(
                outbox.c.job_id == delivery.job_id,
                outbox.c.result_idx == delivery.result_idx,
                outbox.c.status == "blocked",
            )
            .values(status="pending", next_attempt_at=self.clock())
        )

    def result_view(self, job_id: str, idx: int) -> ResultView | None:
        with self._reads() as conn:
            row = conn.execute(
                select(
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
                ).where(results.c.job_id == job_id, results.c.idx == idx)
            ).one_or_none()
        return None if row is None else _result_view(tuple(row))

    def result_content_type(self, job_id: str, idx: int) -> str | None:
        with self._reads() as conn:
            return conn.execute(
                select(results.c.content_type).where(results.c.job_id == job_id, results.c.idx == idx)
            ).scalar_one_or_none()

    def outbox_counts(self) -> dict[str, int]:
        with self._reads() as conn:
            return {s: n for s, n in conn.execute(select(outbox.c.status, func.count()).group_by(outbox.c.status))}
