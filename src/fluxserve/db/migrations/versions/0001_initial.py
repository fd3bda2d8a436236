"""Initial schema: api keys, wallets, jobs, ledger, webhook outbox.

Revision ID: 0001
Revises:
Create Date: 2026-04-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Frozen copies of the types at this revision (never import the live schema in a migration).
_UTC = sa.DateTime(timezone=True)
_ID64 = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
_JSON_NULL = sa.JSON(none_as_null=True).with_variant(
    postgresql.JSONB(none_as_null=True), "postgresql"
)


def upgrade() -> None:
    op.create_table(
        "api_keys",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("prefix", sa.String(16), nullable=False),
        sa.Column("key_hash", sa.String(64), nullable=False),
        sa.Column("disabled", sa.Boolean(), nullable=False),
        sa.Column("is_operator", sa.Boolean(), nullable=False),
        sa.Column("created_at", _UTC, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_api_keys"),
        sa.UniqueConstraint("key_hash", name="uq_api_keys_key_hash"),
    )
    op.create_table(
        "wallets",
        sa.Column("key_id", sa.String(64), nullable=False),
        sa.Column("balance_micros", sa.BigInteger(), nullable=False),
        sa.Column("held_micros", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", _UTC, nullable=False),
        sa.CheckConstraint("balance_micros >= 0", name="ck_wallets_balance_not_negative"),
        sa.CheckConstraint("held_micros >= 0", name="ck_wallets_held_not_negative"),
        sa.ForeignKeyConstraint(["key_id"], ["api_keys.id"], name="fk_wallets_key_id_api_keys"),
        sa.PrimaryKeyConstraint("key_id", name="pk_wallets"),
    )
    op.create_table(
        "jobs",
        sa.Column("request_id", sa.String(128), nullable=False),
        sa.Column("model_id", sa.String(64), nullable=False),
        sa.Column("key_id", sa.String(64), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("spec", _JSON, nullable=False),
        sa.Column("price_micros", sa.BigInteger(), nullable=False),
        sa.Column("output_urls", _JSON, nullable=False),
        sa.Column("media_type", sa.String(128), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("progress", _JSON_NULL, nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("created_at", _UTC, nullable=False),
        sa.Column("updated_at", _UTC, nullable=False),
        sa.Column("completed_at", _UTC, nullable=True),
        sa.Column("webhook_url", sa.Text(), nullable=True),
        sa.Column("webhook_events", _JSON_NULL, nullable=True),
        sa.Column("webhook_style", sa.String(16), nullable=False),
        sa.Column("alias", sa.String(128), nullable=True),
        sa.Column("worker_id", sa.String(128), nullable=True),
        sa.Column("lease_until", _UTC, nullable=True),
        sa.CheckConstraint(
            "state IN ('QUEUED', 'PROCESSING', 'COMPLETED', 'FAILED', 'ERROR')",
            name="ck_jobs_state_known",
        ),
        sa.CheckConstraint("price_micros >= 0", name="ck_jobs_price_not_negative"),
        sa.CheckConstraint(
            "webhook_style IN ('status', 'batch')", name="ck_jobs_webhook_style_known"
        ),
        sa.ForeignKeyConstraint(["key_id"], ["api_keys.id"], name="fk_jobs_key_id_api_keys"),
        sa.PrimaryKeyConstraint("request_id", name="pk_jobs"),
        sa.UniqueConstraint("alias", name="uq_jobs_alias"),
    )
    op.create_index("ix_jobs_key_id", "jobs", ["key_id"])
    op.create_index("ix_jobs_state_created", "jobs", ["state", "created_at"])
    op.create_index("ix_jobs_model_state_created", "jobs", ["model_id", "state", "created_at"])
    op.create_index("ix_jobs_state_lease", "jobs", ["state", "lease_until"])
    op.create_table(
        "ledger_entries",
        sa.Column("id", _ID64, autoincrement=True, nullable=False),
        sa.Column("key_id", sa.String(64), nullable=False),
        sa.Column("request_id", sa.String(128), nullable=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("amount_micros", sa.BigInteger(), nullable=False),
        sa.Column("balance_after_micros", sa.BigInteger(), nullable=False),
        sa.Column("held_after_micros", sa.BigInteger(), nullable=False),
        sa.Column("created_at", _UTC, nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.CheckConstraint(
            "kind IN ('topup', 'hold', 'capture', 'release')", name="ck_ledger_entries_kind_known"
        ),
        sa.ForeignKeyConstraint(
            ["key_id"], ["api_keys.id"], name="fk_ledger_entries_key_id_api_keys"
        ),
        sa.ForeignKeyConstraint(
            ["request_id"], ["jobs.request_id"], name="fk_ledger_entries_request_id_jobs"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_ledger_entries"),
    )
    op.create_index("ix_ledger_entries_key_id", "ledger_entries", ["key_id"])
    op.create_index("ix_ledger_entries_request_id", "ledger_entries", ["request_id"])
    _make_ledger_append_only()
    op.create_table(
        "webhook_outbox",
        sa.Column("id", _ID64, autoincrement=True, nullable=False),
        sa.Column("request_id", sa.String(128), nullable=False),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("event", sa.String(16), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", _UTC, nullable=False),
        sa.Column("created_at", _UTC, nullable=False),
        sa.Column("finished_at", _UTC, nullable=True),
        sa.Column("last_status_code", sa.Integer(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.CheckConstraint(
            "status IN ('pending', 'delivered', 'failed')", name="ck_webhook_outbox_status_known"
        ),
        sa.ForeignKeyConstraint(
            ["request_id"], ["jobs.request_id"], name="fk_webhook_outbox_request_id_jobs"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_webhook_outbox"),
    )
    op.create_index("ix_webhook_outbox_request_id", "webhook_outbox", ["request_id"])
    op.create_index(
        "ix_webhook_outbox_status_next", "webhook_outbox", ["status", "next_attempt_at"]
    )


def _make_ledger_append_only() -> None:
    """The ledger is history: the database itself refuses UPDATE and DELETE on it."""
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "CREATE FUNCTION ledger_entries_append_only() RETURNS trigger LANGUAGE plpgsql AS "
            "$$ BEGIN RAISE EXCEPTION 'ledger_entries is append-only'; END $$"
        )
        op.execute(
            "CREATE TRIGGER ledger_entries_append_only BEFORE UPDATE OR DELETE "
            "ON ledger_entries FOR EACH ROW EXECUTE FUNCTION ledger_entries_append_only()"
        )
        return
    for action in ("UPDATE", "DELETE"):
        op.execute(
            f"CREATE TRIGGER ledger_entries_no_{action.lower()} BEFORE {action} "
            "ON ledger_entries BEGIN SELECT RAISE(ABORT, 'ledger_entries is append-only'); END"
        )


def downgrade() -> None:
    op.drop_table("webhook_outbox")
    op.drop_table("ledger_entries")
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION ledger_entries_append_only()")
    op.drop_table("jobs")
    op.drop_table("wallets")
    op.drop_table("api_keys")
