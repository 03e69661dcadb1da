"""Jobs on the API side: submission (group-committed), lookup, queue depth, cancellation."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

import orjson
from sqlalchemy import Connection, bindparam, case, func, insert, literal_column, select, text, update

from cinefuse.errors import TaskCancelled
from cinefuse.jobs.codec import task_to_record
from cinefuse.jobs.models import JobStatus, JobView, NewJob, ResultFailure
from cinefuse.jobs.store.base import Repository
from cinefuse.jobs.store.outbox import fail_pending_results
from cinefuse.jobs.store.results import RESULT_VIEW_COLUMNS, result_view
from cinefuse.jobs.tables import jobs, results

#: getResponse's one read: a task's job and its results, in order.
_VIEW = (
    select(jobs.c.id, jobs.c.status, *RESULT_VIEW_COLUMNS)
    .join_from(jobs, results, results.c.job_id == jobs.c.id)
    .where(jobs.c.key_id == bindparam("key_id"), jobs.c.task_uuid == bindparam("task_uuid"))
    .order_by(results.c.idx)
)


_JOB_COLUMNS = (
    "id",
    "key_id",
    "task_uuid",
    "model",
    "request",
    "status",
    "attempts",
    "max_attempts",
    "fence",
    "cancel_requested",
    "created_at",
    "updated_at",
)
_RESULT_COLUMNS = ("job_id", "idx", "video_uuid", "seed", "status", "progress")
_INSERT_JOB = insert(jobs).values({name: bindparam(name) for name in _JOB_COLUMNS})
_INSERT_RESULT = insert(results).values({name: bindparam(name) for name in _RESULT_COLUMNS})

#: What became of one job of a batch: stored, refused for its taskUUID (``conflictTaskUUID``),
#: or refused by the key's queue cap (``queueFull``).
Admission = Literal["inserted", "conflict", "queue_full"]
#: The first half of the PostgreSQL advisory lock taken per API key while its queued jobs
#: are counted (the second half is the key id).
QUEUE_LOCK_CLASS = 0x6366
#: ``status = 'queued'`` written out, not bound: PostgreSQL then matches the partial index
#: of queued jobs (migration 0004) whatever plan it caches.
_QUEUED = jobs.c.status == literal_column("'queued'")


class JobRepository(Repository):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.sqlite:
            self._view_sql = self.sqlite.compile(_VIEW)
            self._insert_sql = (self.sqlite.compile(_INSERT_JOB), self.sqlite.compile(_INSERT_RESULT))

    def insert(self, batch: Sequence[NewJob]) -> list[bool]:
        """Insert many jobs in one transaction (group commit); per job: inserted, or False
        when its (key, taskUUID) already exists (``conflictTaskUUID``)."""
        return [admission == "inserted" for admission in self.admit(batch)]

    def admit(self, batch: Sequence[NewJob], queue_limit: int = 0) -> list[Admission]:
        """``insert``, and with a ``queue_limit`` also the key's queue cap, counted in the same
        transaction: a key never has more than ``queue_limit`` queued jobs, however many API
        servers submit at once. On PostgreSQL the count runs under an advisory lock per key
        (taken in key order, so two batches cannot deadlock) on the partial index of queued
        jobs (migration 0004); SQLite's writers are serialised already."""
        admissions: list[Admission] = ["conflict"] * len(batch)
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
            room = self._room(conn, sorted(by_key), queue_limit) if queue_limit else {}
            job_rows: list[dict[str, Any]] = []
            result_rows: list[dict[str, Any]] = []
            for i, job in enumerate(batch):
                identity = (job.key_id, job.task_uuid)
                if identity in existing:
                    continue
                existing.add(identity)  # a duplicate later in the same batch conflicts too
                if queue_limit:
                    if room[job.key_id] <= 0:
                        admissions[i] = "queue_full"
                        continue
                    room[job.key_id] -= 1
                admissions[i] = "inserted"
                job_rows.append(
                    {
                        "id": job.id,
                        "key_id": job.key_id,
                        "task_uuid": job.task_uuid,
                        "model": job.task.model,
                        "request": task_to_record(job.task),
                        "status": "queued",
                        "attempts": 0,
                        "max_attempts": job.max_attempts,
                        "fence": 0,
                        "cancel_requested": False,
                        "created_at": job.created_at,
                        "updated_at": job.created_at,
                    }
                )
                result_rows.extend(
                    {"job_id": job.id, "idx": r.idx, "video_uuid": r.video_uuid, "seed": r.seed,
                     "status": "pending", "progress": 0}
                    for r in job.results
                )  # fmt: skip
            if not job_rows:
                return admissions
            if self.sqlite:
                # The acknowledgement path: Core's per-row parameter processing cost a third
                # more CPU per job than the insert itself (bench/bench_api.py, submissions/s),
                # so on SQLite the same Core statements run through the driver's executemany.
                (job_sql, job_names), (result_sql, result_names) = self._insert_sql
                for row in job_rows:
                    row["request"] = orjson.dumps(row["request"]).decode()
                conn.exec_driver_sql(job_sql, [tuple(row[n] for n in job_names) for row in job_rows])
                conn.exec_driver_sql(result_sql, [tuple(row[n] for n in result_names) for row in result_rows])
            else:
                conn.execute(_INSERT_JOB, job_rows)
                conn.execute(_INSERT_RESULT, result_rows)
        return admissions

    def _room(self, conn: Connection, key_ids: list[int], queue_limit: int) -> dict[int, int]:
        """Per key: how many more jobs it may queue, with the keys locked (PostgreSQL)
        until the caller's transaction ends."""
        room: dict[int, int] = {}
        for key_id in key_ids:
            if conn.dialect.name == "postgresql":
                conn.execute(text("SELECT pg_advisory_xact_lock(:cls, :key)"), {"cls": QUEUE_LOCK_CLASS, "key": key_id})
            queued = conn.execute(
                select(func.count()).select_from(jobs).where(jobs.c.key_id == key_id, _QUEUED)
            ).scalar_one()
            room[key_id] = queue_limit - int(queued)
        return room

    def queued_count(self, key_id: int) -> int:
        """Queued jobs of one key (the shared queue cap's pre-check)."""
        with self.reads() as conn:
            return int(
                conn.execute(
                    select(func.count()).select_from(jobs).where(jobs.c.key_id == key_id, _QUEUED)
                ).scalar_one()
            )

    def queued_by_model(self) -> dict[str, int]:
        """Queued jobs per model id (queue depth; the re-dispatch sweep)."""
        with self.reads() as conn:
            rows = conn.execute(
                select(jobs.c.model, func.count()).where(jobs.c.status == "queued").group_by(jobs.c.model)
            )
            return {model: n for model, n in rows}

    def stale_by_model(self, older_than: float) -> dict[str, tuple[int, int]]:
        """Per model with queued jobs: (queued jobs, those last dispatched before ``older_than``)."""
        last_dispatch = func.coalesce(jobs.c.dispatched_at, jobs.c.updated_at)
        stale = func.sum(case((last_dispatch < older_than, 1), else_=0))
        with self.reads() as conn:
            rows = conn.execute(
                select(jobs.c.model, func.count(), stale).where(jobs.c.status == "queued").group_by(jobs.c.model)
            )
            return {model: (int(n), int(old or 0)) for model, n, old in rows}

    def models_of(self, job_ids: Sequence[str]) -> dict[str, str]:
        """job id -> model id, for the ids that exist (a dispatcher routing by model)."""
        if not job_ids:
            return {}
        with self.reads() as conn:
            rows = conn.execute(select(jobs.c.id, jobs.c.model).where(jobs.c.id.in_(list(job_ids))))
            return {job_id: model for job_id, model in rows}

    def queued_counts(self) -> dict[int, int]:
        """Queued jobs per key id (load shedding)."""
        with self.reads() as conn:
            rows = conn.execute(
                select(jobs.c.key_id, func.count()).where(jobs.c.status == "queued").group_by(jobs.c.key_id)
            )
            return {k: n for k, n in rows}

    def view(self, key_id: int, task_uuid: str) -> JobView | None:
        """The job and its results, or None if this key never submitted that taskUUID."""
        params = {"key_id": key_id, "task_uuid": task_uuid}
        if self.sqlite:
            # The getResponse hot path, polled thousands of times a second: on SQLite the
            # pooled connection's checkout, BEGIN and rollback cost more than the indexed
            # read itself (bench/bench_api.py: polls/s), so it runs on the raw connection.
            sql, names = self._view_sql
            rows: list[Any] = self.sqlite.query(sql, tuple(params[n] for n in names))
        else:
            with self.reads() as conn:
                rows = list(conn.execute(_VIEW, params))
        if not rows:
            return None
        status: JobStatus = rows[0][1]
        return JobView(rows[0][0], status, tuple(result_view(row[2:]) for row in rows))

    def cancel_all_of_key(self, key_id: int, message: str) -> tuple[int, int]:
        """Cancel every unfinished task of a key (a revoked key's work: docs/api.md). Queued
        ones are dropped at once (``taskCancelled`` with ``message``, each with the webhook
        call it owes); running ones are flagged and stop at their next step. Returns
        (queued cancelled, running flagged)."""
        now = self.clock()
        with self.engine.begin() as conn:
            queued = conn.execute(
                select(jobs.c.id, jobs.c.request).where(jobs.c.key_id == key_id, jobs.c.status == "queued")
            ).all()
            for row in queued:
                conn.execute(
                    update(jobs)
                    .where(jobs.c.id == row.id, jobs.c.status == "queued")
                    .values(status="cancelled", cancel_requested=True, updated_at=now)
                )
                fail_pending_results(conn, row.id, row.request, ResultFailure.of(TaskCancelled(message)), now)
            running = conn.execute(
                update(jobs).where(jobs.c.key_id == key_id, jobs.c.status == "running").values(cancel_requested=True)
            ).rowcount
        return len(queued), running

    def request_cancel(self, key_id: int, task_uuid: str, message: str) -> JobStatus | None:
        """Cancel a task of this key. Queued work is dropped at once (pending results become
        ``taskCancelled``, each with the webhook call it owes); running work is flagged and
        stops at its next step. Returns the job's status afterwards, or None when the key
        has no such task."""
        now = self.clock()
        with self.engine.begin() as conn:
            row = conn.execute(
                select(jobs.c.id, jobs.c.status, jobs.c.request).where(
                    jobs.c.key_id == key_id, jobs.c.task_uuid == task_uuid
                )
            ).one_or_none()
            if row is None:
                return None
            status: JobStatus = row.status
            if status == "queued":
                conn.execute(
                    update(jobs)
                    .where(jobs.c.id == row.id, jobs.c.status == "queued")
                    .values(status="cancelled", cancel_requested=True, updated_at=now)
                )
                fail_pending_results(conn, row.id, row.request, ResultFailure.of(TaskCancelled(message)), now)
                return "cancelled"
            if status == "running":
                conn.execute(update(jobs).where(jobs.c.id == row.id).values(cancel_requested=True))
            return status
