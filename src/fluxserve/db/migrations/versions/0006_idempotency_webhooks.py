"""Idempotency keys, a webhook signing secret per API key, and the webhook delivery log.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02
"""

from __future__ import annotations

import base64
import secrets
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | Sequence[str] | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_UTC = sa.DateTime(timezone=True)
_BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _new_secret() -> str:
    # The same form as fluxserve.billing.keys.new_webhook_secret; a migration must not import
    # the application, whose code moves on after this revision is frozen.
    return "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode("ascii")


def upgrade() -> None:
    op.add_column("api_keys", sa.Column("webhook_secret", sa.String(64), nullable=True))
    # Keys issued before this revision get a secret too, so every key's deliveries are signed.
    bind = op.get_bind()
    keys = sa.table("api_keys", sa.column("id", sa.String), sa.column("webhook_secret", sa.String))
    for (key_id,) in bind.execute(sa.select(keys.c.id)).all():
        bind.execute(
            sa.update(keys).where(keys.c.id == key_id).values(webhook_secret=_new_secret())
        )
    op.create_table(
        "webhook_attempts",
        sa.Column("id", _BIG_ID, autoincrement=True, nullable=False),
        sa.Column("outbox_id", _BIG_ID, nullable=False),
        sa.Column("request_id", sa.String(128), nullable=False),
        sa.Column("attempted_at", _UTC, nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["outbox_id"],
            ["webhook_outbox.id"],
            name="fk_webhook_attempts_outbox_id_webhook_outbox",
        ),
        sa.ForeignKeyConstraint(
            ["request_id"], ["jobs.request_id"], name="fk_webhook_attempts_request_id_jobs"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_webhook_attempts"),
    )
    op.create_index("ix_webhook_attempts_request_id", "webhook_attempts", ["request_id"])
    op.create_table(
        "idempotency_keys",
        sa.Column("key_id", sa.String(64), nullable=False),
        sa.Column("idempotency_key", sa.String(255), nullable=False),
        sa.Column("fingerprint", sa.String(64), nullable=False),
        sa.Column("request_id", sa.String(128), nullable=False),
        sa.Column("created_at", _UTC, nullable=False),
        sa.Column("expires_at", _UTC, nullable=False),
        sa.ForeignKeyConstraint(
            ["key_id"], ["api_keys.id"], name="fk_idempotency_keys_key_id_api_keys"
        ),
        sa.ForeignKeyConstraint(
            ["request_id"], ["jobs.request_id"], name="fk_idempotency_keys_request_id_jobs"
        ),
        sa.PrimaryKeyConstraint("key_id", "idempotency_key", name="pk_idempotency_keys"),
    )
    op.create_index("ix_idempotency_keys_expires_at", "idempotency_keys", ["expires_at"])


def downgrade() -> None:
    op.drop_table("idempotency_keys")
    op.drop_table("webhook_attempts")
    with op.batch_alter_table("api_keys") as batch:
        batch.drop_column("webhook_secret")
