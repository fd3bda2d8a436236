"""The packaged migrations build the schema from an empty database, matching the models."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, inspect, text
from sqlalchemy.exc import DBAPIError

from fluxserve.billing.keys import KeyStore
from fluxserve.db.database import Database
from fluxserve.db.migrate import alembic_config
from fluxserve.db.schema import metadata


def test_open_migrates_an_empty_database_to_head(database_url: str) -> None:
    db = Database.open(database_url)
    try:
        tables = set(inspect(db.engine).get_table_names())
        with db.engine.connect() as conn:
            version = conn.execute(text("SELECT version_num FROM alembic_version")).scalar_one()
            diffs = compare_metadata(
                MigrationContext.configure(conn, opts={"compare_type": True}), metadata
            )
    finally:
        db.close()

    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert {"api_keys", "wallets", "jobs", "ledger_entries", "webhook_outbox"} <= tables
    assert version == head
    assert diffs == []


def test_open_twice_is_idempotent(database_url: str) -> None:
    Database.open(database_url).close()
    db = Database.open(database_url)
    try:
        with db.engine.connect() as conn:
            rows = conn.execute(text("SELECT count(*) FROM alembic_version")).scalar_one()
    finally:
        db.close()
    assert rows == 1


@pytest.mark.parametrize(
    "statement", ["UPDATE ledger_entries SET amount_micros = 1", "DELETE FROM ledger_entries"]
)
def test_ledger_rows_cannot_be_changed(database_url: str, statement: str) -> None:
    db = Database.open(database_url)
    try:
        record, _ = KeyStore(db).create(credit_micros=5)
        with pytest.raises(DBAPIError, match="append-only"), db.write() as conn:
            conn.execute(text(statement))
        assert [e.amount_micros for e in KeyStore(db).ledger(record.id)] == [5]
    finally:
        db.close()


def test_bare_postgresql_url_uses_psycopg(postgres_url: str) -> None:
    db = Database.open(postgres_url.replace("postgresql+psycopg://", "postgresql://"))
    try:
        assert db.engine.dialect.driver == "psycopg"
        assert db.dialect == "postgresql"
    finally:
        db.close()


def test_keys_made_before_0006_get_a_webhook_secret(database_url: str) -> None:
    engine = create_engine(database_url.replace("postgresql://", "postgresql+psycopg://"))
    if engine.dialect.name == "sqlite":
        Path(engine.url.database or "").parent.mkdir(parents=True, exist_ok=True)
    try:
        with engine.begin() as conn:
            command.upgrade(alembic_config(conn), "0002")
            conn.execute(
                text(
                    "INSERT INTO api_keys (id, name, prefix, key_hash, disabled, is_operator, "
                    "created_at) VALUES ('key_old', '', 'fs_old', 'h', false, false, "
                    "CURRENT_TIMESTAMP)"
                )
            )
            command.upgrade(alembic_config(conn), "head")
            secret = conn.execute(
                text("SELECT webhook_secret FROM api_keys WHERE id = 'key_old'")
            ).scalar_one()
    finally:
        engine.dispose()
    assert secret.startswith("whsec_") and len(base64.b64decode(secret[6:])) == 24
