"""Node liveness and attempt-safe media: nodes, job attempts, output keys.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-02
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_UTC = sa.DateTime(timezone=True)
_JSON_NULL = sa.JSON(none_as_null=True).with_variant(
    postgresql.JSONB(none_as_null=True), "postgresql"
)
_OUTCOMES = ("COMPLETED", "FAILED", "ERROR", "LOST", "HANDED_BACK")


def upgrade() -> None:
    # Plain ALTERs (SQLite >= 3.25 has them too): a batch rebuild of `jobs` would trip over
    # the ledger's and outbox's foreign keys.
    op.execute("ALTER TABLE jobs RENAME COLUMN output_urls TO output_keys")
    op.add_column("jobs", sa.Column("node_id", sa.String(64), nullable=True))
    op.add_column("jobs", sa.Column("attempt_id", sa.String(32), nullable=True))
    op.create_index("ix_jobs_node_state", "jobs", ["node_id", "state"])
    op.create_table(
        "nodes",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("host", sa.String(255), nullable=False),
        sa.Column("pid", sa.Integer(), nullable=False),
        sa.Column("models", _JSON_NULL, nullable=True),
        sa.Column("started_at", _UTC, nullable=False),
        sa.Column("heartbeat_at", _UTC, nullable=False),
        sa.Column("stopped_at", _UTC, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_nodes"),
    )
    outcomes = ", ".join(repr(o) for o in _OUTCOMES)
    op.create_table(
        "job_attempts",
        sa.Column("attempt_id", sa.String(32), nullable=False),
        sa.Column("request_id", sa.String(128), nullable=False),
        sa.Column("node_id", sa.String(64), nullable=False),
        sa.Column("worker_id", sa.String(128), nullable=False),
        sa.Column("started_at", _UTC, nullable=False),
        sa.Column("ended_at", _UTC, nullable=True),
        sa.Column("outcome", sa.String(16), nullable=True),
        sa.CheckConstraint(
            f"outcome IS NULL OR outcome IN ({outcomes})",
            name="ck_job_attempts_outcome_known",
        ),
        sa.ForeignKeyConstraint(
            ["request_id"],
            ["jobs.request_id"],
            name="fk_job_attempts_request_id_jobs",
        ),
        sa.PrimaryKeyConstraint("attempt_id", name="pk_job_attempts"),
    )
    op.create_index("ix_job_attempts_request_id", "job_attempts", ["request_id"])


def downgrade() -> None:
    op.drop_table("job_attempts")
    op.drop_table("nodes")
    op.drop_index("ix_jobs_node_state", "jobs")
    op.drop_column("jobs", "attempt_id")
    op.drop_column("jobs", "node_id")
    op.execute("ALTER TABLE jobs RENAME COLUMN output_keys TO output_urls")
