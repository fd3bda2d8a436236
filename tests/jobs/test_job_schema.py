"""The packaged migrations build the schema from an empty database, matching the models."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, text
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
