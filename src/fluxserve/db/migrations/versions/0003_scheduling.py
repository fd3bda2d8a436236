"""Scheduling: key and job priorities, and the rank that claims order by.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-02
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# A job queued before this migration keeps first-come order: its rank is its submit time in
# milliseconds, which is what jobs/scheduling.py gives a priority-0 job with nothing ahead.
_RANK_FROM_CREATED = {
    "postgresql": "CAST(EXTRACT(EPOCH FROM created_at) * 1000 AS BIGINT)",
    "sqlite": "CAST((julianday(created_at) - 2440587.5) * 86400000 AS INTEGER)",
}


def upgrade() -> None:
    op.add_column(
        "api_keys", sa.Column("priority", sa.Integer(), nullable=False, server_default="0")
    )
    op.add_column("jobs", sa.Column("priority", sa.Integer(), nullable=False, server_default="0"))
    op.add_column(
        "jobs", sa.Column("sched_rank", sa.BigInteger(), nullable=False, server_default="0")
    )
    rank = _RANK_FROM_CREATED[op.get_bind().dialect.name]
    op.execute(f"UPDATE jobs SET sched_rank = {rank}")
    op.create_index("ix_jobs_state_rank", "jobs", ["state", "sched_rank"])
    op.create_index("ix_jobs_model_state_rank", "jobs", ["model_id", "state", "sched_rank"])
    op.create_index("ix_jobs_key_model_state", "jobs", ["key_id", "model_id", "state"])


def downgrade() -> None:
    op.drop_index("ix_jobs_key_model_state", "jobs")
    op.drop_index("ix_jobs_model_state_rank", "jobs")
    op.drop_index("ix_jobs_state_rank", "jobs")
    op.drop_column("jobs", "sched_rank")
    op.drop_column("jobs", "priority")
    op.drop_column("api_keys", "priority")
