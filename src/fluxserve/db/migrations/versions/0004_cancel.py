"""Cancelled jobs: CANCELLED becomes a job state and an attempt outcome.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op
from sqlalchemy import Connection, text

revision: str = "0004"
down_revision: str | Sequence[str] | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_STATES = ("QUEUED", "PROCESSING", "COMPLETED", "FAILED", "ERROR")
_OUTCOMES = ("COMPLETED", "FAILED", "ERROR", "LOST", "HANDED_BACK")
# (table, constraint, column, values before, may the column be NULL)
_CHECKS = (
    ("jobs", "ck_jobs_state_known", "state", _STATES, False),
    ("job_attempts", "ck_job_attempts_outcome_known", "outcome", _OUTCOMES, True),
)


def _check(column: str, values: tuple[str, ...], nullable: bool) -> str:
    listed = f"{column} IN ({', '.join(repr(v) for v in values)})"
    return f"{column} IS NULL OR {listed}" if nullable else listed


def upgrade() -> None:
    _swap(("CANCELLED",), ())


def downgrade() -> None:
    # Only for a database holding no CANCELLED job or attempt (PostgreSQL refuses otherwise).
    _swap((), ("CANCELLED",))


def _swap(added: tuple[str, ...], removed: tuple[str, ...]) -> None:
    conn = op.get_bind()
    for table, name, column, values, nullable in _CHECKS:
        old = values + removed
        new = values + added
        if conn.dialect.name == "postgresql":
            op.drop_constraint(name, table, type_="check")
            op.create_check_constraint(name, table, _check(column, new, nullable))
        else:
            _sqlite_replace(
                conn, table, _check(column, old, nullable), _check(column, new, nullable)
            )


def _sqlite_replace(conn: Connection, table: str, old: str, new: str) -> None:
    """Widen (or narrow) a CHECK in place. Rebuilding `jobs` would trip over the foreign keys
    of the ledger and the outbox; a CHECK that admits one more value changes nothing stored,
    which is the case SQLite documents for editing the schema text (ALTER TABLE, section 7)."""
    sql = conn.execute(
        text("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = :t"), {"t": table}
    ).scalar_one()
    if old not in sql:
        raise RuntimeError(f"{table}: CHECK ({old}) not found in its schema")
    version = conn.execute(text("PRAGMA schema_version")).scalar_one()
    conn.execute(text("PRAGMA writable_schema = ON"))
    conn.execute(
        text("UPDATE sqlite_master SET sql = :sql WHERE type = 'table' AND name = :t"),
        {"sql": sql.replace(old, new), "t": table},
    )
    conn.execute(text(f"PRAGMA schema_version = {int(version) + 1}"))
    conn.execute(text("PRAGMA writable_schema = OFF"))
