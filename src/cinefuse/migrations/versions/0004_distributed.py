"""The distributed profile: worker heartbeats, shared rate limits, and when a job was last
dispatched and claimed.

* ``workers``: one row per worker, deliverer or sweeper process, renewed every
  ``CINEFUSE_HEARTBEAT_INTERVAL`` (``/readyz``, ``cinefuse doctor``, ``/metrics``).
* ``rate_limits``: the per-key token bucket when API servers share it through the
  database (PostgreSQL without Redis).
* ``jobs.dispatched_at`` (the re-dispatch sweep of lost broker messages) and
  ``jobs.claimed_at`` (when the current attempt started).
* On PostgreSQL, a partial index on the queued jobs of a key: the queue cap counts them
  inside the submitting transaction. SQLite counts in the one server's memory instead, and
  its acknowledgement path keeps one index fewer.

Revision ID: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("jobs") as batch:
        batch.add_column(sa.Column("dispatched_at", sa.Float))
        batch.add_column(sa.Column("claimed_at", sa.Float))
    if op.get_bind().dialect.name == "postgresql":
        op.create_index("ix_jobs_queued_key", "jobs", ["key_id"], postgresql_where=sa.text("status = 'queued'"))
    op.create_table(
        "workers",
        sa.Column("id", sa.String(100), primary_key=True),
        sa.Column("role", sa.String(32), nullable=False),
        sa.Column("host", sa.String(255), nullable=False),
        sa.Column("pid", sa.Integer, nullable=False),
        sa.Column("models", sa.Text, nullable=False),
        sa.Column("started_at", sa.Float, nullable=False),
        sa.Column("last_seen_at", sa.Float, nullable=False),
    )
    op.create_index("ix_workers_last_seen", "workers", ["last_seen_at"])
    op.create_table(
        "rate_limits",
        sa.Column("key_id", sa.Integer, sa.ForeignKey("api_keys.id"), primary_key=True),
        sa.Column("tokens", sa.Float, nullable=False),
        sa.Column("updated_at", sa.Float, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("rate_limits")
    op.drop_index("ix_workers_last_seen", table_name="workers")
    op.drop_table("workers")
    if op.get_bind().dialect.name == "postgresql":
        op.drop_index("ix_jobs_queued_key", table_name="jobs")
    with op.batch_alter_table("jobs") as batch:
        batch.drop_column("claimed_at")
        batch.drop_column("dispatched_at")
