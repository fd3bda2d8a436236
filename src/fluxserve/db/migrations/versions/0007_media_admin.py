"""Media retention: what the sweeper deleted, per job and kind of media.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | Sequence[str] | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "media_deletions",
        sa.Column("request_id", sa.String(128), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("kind IN ('outputs', 'inputs')", name="ck_media_deletions_kind_known"),
        sa.ForeignKeyConstraint(
            ["request_id"], ["jobs.request_id"], name="fk_media_deletions_request_id_jobs"
        ),
        sa.PrimaryKeyConstraint("request_id", "kind", name="pk_media_deletions"),
    )


def downgrade() -> None:
    op.drop_table("media_deletions")
