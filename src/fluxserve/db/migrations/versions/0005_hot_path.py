"""The API hot path: count a key's active jobs from an index, not by visiting all its jobs.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0005"
down_revision: str | Sequence[str] | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Every submit counts the key's QUEUED + PROCESSING jobs (the active-jobs cap); with only
    # the key_id index that visits every job the key ever had.
    op.create_index("ix_jobs_key_state", "jobs", ["key_id", "state"])


def downgrade() -> None:
    op.drop_index("ix_jobs_key_state", "jobs")
