"""The job store's tables (SQLAlchemy Core). Alembic migrations in ``migrations/`` create them.

The job row is the single source of truth for who owns a job: a worker holds a
*lease* (``lease_owner``, ``lease_expires_at``) and a *fence* token (``fence``,
incremented by every claim); every write a worker makes names its fence, so a
worker whose lease was taken over can no longer change anything.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

metadata = MetaData()

api_keys = Table(
    "api_keys",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    # sha256 hex of the key: keys are never stored in clear.
    Column("key_hash", String(64), nullable=False, unique=True),
    Column("label", String(200), nullable=False, default=""),
    Column("created_at", Float, nullable=False),
    #: When the key was revoked (migration 0003); a revoked key is refused like an unknown one.
    Column("revoked_at", Float),
    #: The key's first characters, so people can tell keys apart in ``cinefuse keys list``.
    Column("prefix", String(16)),
)

jobs = Table(
    "jobs",
    metadata,
    Column("id", String(32), primary_key=True),  # uuid4 hex, made by the API
    Column("key_id", Integer, ForeignKey("api_keys.id"), nullable=False),
    Column("task_uuid", String(36), nullable=False),
    Column("model", String(100), nullable=False),
    Column("request", JSON, nullable=False),  # the validated task, as ``jobs.codec`` stores it
    Column("status", String(16), nullable=False),  # queued | running | success | error | cancelled
    Column("attempts", Integer, nullable=False, default=0),
    Column("max_attempts", Integer, nullable=False),
    Column("lease_owner", String(100)),
    Column("lease_expires_at", Float),
    Column("fence", BigInteger, nullable=False, default=0),
    Column("cancel_requested", Boolean, nullable=False, default=False),
    Column("created_at", Float, nullable=False),
    Column("updated_at", Float, nullable=False),
    Column("error_code", String(64)),
    Column("error_message", Text),
    #: When a sweeper last dispatched the job again (migration 0004); None: only the API
    #: did, at ``created_at`` (or it was requeued at ``updated_at``).
    Column("dispatched_at", Float),
    #: When the current (or last) attempt claimed the job (migration 0004).
    Column("claimed_at", Float),
    UniqueConstraint("key_id", "task_uuid", name="uq_jobs_key_task"),
    Index("ix_jobs_status_created", "status", "created_at"),
)

results = Table(
    "results",
    metadata,
    Column("job_id", String(32), ForeignKey("jobs.id"), primary_key=True),
    Column("idx", Integer, primary_key=True),
    # Issued at submission, never changes. Not indexed: nothing looks results up by it, and a
    # random-key index would dirty one more page per insert on the acknowledgement path.
    Column("video_uuid", String(36), nullable=False),
    Column("seed", BigInteger, nullable=False),
    Column("status", String(16), nullable=False),  # pending | success | error
    Column("progress", Integer, nullable=False, default=0),
    Column("media_key", String(300)),
    Column("content_type", String(100)),
    Column("size_bytes", BigInteger),
    Column("expires_at", Float),
    Column("cost", Float),
    Column("nsfw", Boolean),
    Column("error_code", String(64)),
    Column("error_message", Text),
    #: The dotted parameter at fault, for errors found while running (migration 0002).
    Column("error_parameter", String(200)),
    Column("finished_at", Float),
    Index("ix_results_expires", "expires_at"),
)

#: Videos made through the OpenAI-style front door (``/v1/videos``, migration 0005): one row
#: per video, naming the job that renders it by (key, taskUUID). The row is written before
#: its job, and every read joins the job, so a row whose job was never admitted (a refused
#: task, a crash in between) is never seen.
videos = Table(
    "videos",
    metadata,
    Column("id", String(40), primary_key=True),  # "video_" + the task UUID's hex
    Column("key_id", Integer, ForeignKey("api_keys.id"), nullable=False),
    Column("task_uuid", String(36), nullable=False),
    #: The model as the client named it (an alias such as ``sora-2`` stays an alias).
    Column("model", String(100), nullable=False),
    Column("prompt", Text, nullable=False),
    Column("seconds", String(16), nullable=False),
    Column("size", String(16), nullable=False),
    Column("remixed_from", String(40)),
    Column("created_at", Float, nullable=False),
    #: DELETE /v1/videos/{id}: the media is removed and the video answers 404 from then on.
    Column("deleted_at", Float),
    #: An extension's source video, and the copy of its clip that is stitched in front of the
    #: new one (copied when the extension is made: the source may be deleted or expire first).
    Column("extends", String(40)),
    Column("prefix_key", String(300)),
    Index("ix_videos_key_created", "key_id", "created_at", "id"),
)

#: Characters of the OpenAI-style front door (``/v1/videos/characters``, migration 0005): a
#: name for a few stored images (frames of a clip), used as reference images by later creates.
characters = Table(
    "characters",
    metadata,
    Column("id", String(40), primary_key=True),  # "char_" + 32 hex digits
    Column("key_id", Integer, ForeignKey("api_keys.id"), nullable=False),
    Column("name", String(200), nullable=False),
    Column("images", JSON, nullable=False),  # image UUIDs (the ``images`` table), in order
    Column("created_at", Float, nullable=False),
)

images = Table(
    "images",
    metadata,
    Column("uuid", String(36), primary_key=True),
    Column("key_id", Integer, ForeignKey("api_keys.id"), nullable=False),
    Column("media_key", String(300), nullable=False),
    Column("content_type", String(100), nullable=False),
    Column("width", Integer, nullable=False),
    Column("height", Integer, nullable=False),
    Column("created_at", Float, nullable=False),
    Column("last_used_at", Float, nullable=False),
    Index("ix_images_last_used", "last_used_at"),
)

#: Pending deliveries (webhook calls, uploads), written in the transaction that
#: finishes the result they carry, so a restart can never lose one.
outbox = Table(
    "outbox",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("job_id", String(32), ForeignKey("jobs.id"), nullable=False),
    Column("result_idx", Integer, nullable=False),
    Column("kind", String(16), nullable=False),  # webhook | upload
    Column("url", Text, nullable=False),
    Column("delivery_id", String(64), nullable=False, unique=True),  # webhook-id header, stable across retries
    Column("payload", JSON),
    Column("status", String(16), nullable=False),  # pending | blocked | sent | failed
    Column("attempts", Integer, nullable=False, default=0),
    Column("next_attempt_at", Float, nullable=False),
    #: The deliverer sending it now (``owners.new_owner``), until it records the outcome.
    Column("claimed_by", String(100)),
    Column("last_error", Text),
    Column("created_at", Float, nullable=False),
    Index("ix_outbox_due", "status", "next_attempt_at"),
)

#: Who is alive (migration 0004): one row per worker, deliverer or sweeper process, its
#: ``last_seen_at`` renewed every ``CINEFUSE_HEARTBEAT_INTERVAL``.
workers = Table(
    "workers",
    metadata,
    Column("id", String(100), primary_key=True),  # the process's owner name (owners.new_owner)
    Column("role", String(32), nullable=False),  # worker | deliverer | sweeper | ...
    Column("host", String(255), nullable=False),
    Column("pid", Integer, nullable=False),
    Column("models", Text, nullable=False),  # comma-separated model ids it runs ("" for none)
    Column("started_at", Float, nullable=False),
    Column("last_seen_at", Float, nullable=False),
    Index("ix_workers_last_seen", "last_seen_at"),
)

#: The per-key token bucket when API servers share it through the database (migration 0004).
rate_limits = Table(
    "rate_limits",
    metadata,
    Column("key_id", Integer, ForeignKey("api_keys.id"), primary_key=True),
    Column("tokens", Float, nullable=False),
    Column("updated_at", Float, nullable=False),
)
