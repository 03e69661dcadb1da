"""The OpenAI-style front door (``/v1/videos``): one row per video, naming its job; characters.

Revision ID: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "videos",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("key_id", sa.Integer, sa.ForeignKey("api_keys.id"), nullable=False),
        sa.Column("task_uuid", sa.String(36), nullable=False),
        sa.Column("model", sa.String(100), nullable=False),
        sa.Column("prompt", sa.Text, nullable=False),
        sa.Column("seconds", sa.String(16), nullable=False),
        sa.Column("size", sa.String(16), nullable=False),
        sa.Column("remixed_from", sa.String(40)),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("deleted_at", sa.Float),
        sa.Column("extends", sa.String(40)),
        sa.Column("prefix_key", sa.String(300)),
    )
    op.create_index("ix_videos_key_created", "videos", ["key_id", "created_at", "id"])
    op.create_table(
        "characters",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("key_id", sa.Integer, sa.ForeignKey("api_keys.id"), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("images", sa.JSON, nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("characters")
    op.drop_index("ix_videos_key_created", table_name="videos")
    op.drop_table("videos")
