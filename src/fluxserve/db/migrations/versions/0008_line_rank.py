"""The API hot path: a submit finds the last rank in its key's line from an index, not by
visiting every active job the key has of that model.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-05
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0008"
down_revision: str | Sequence[str] | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # jobs/scheduling.py `rank_for`: max(sched_rank) per (key, model, priority, state) is one
    # step down this index, whatever the key's backlog.
    op.create_index(
        "ix_jobs_line_rank", "jobs", ["key_id", "model_id", "priority", "state", "sched_rank"]
    )


def downgrade() -> None:
    op.drop_index("ix_jobs_line_rank", "jobs")
