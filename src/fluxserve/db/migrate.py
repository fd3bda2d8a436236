"""Run the Alembic migrations shipped inside the package, with no ini file on disk."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, Engine, text

from fluxserve.db import sqlite

MIGRATIONS_DIR = Path(__file__).with_name("migrations")
# Any constant works; it only has to be the same in every process that migrates.
_PG_MIGRATION_LOCK = 0x666C7578  # "flux"


def alembic_config(connection: Connection | None = None, url: str | None = None) -> Config:
    """An Alembic Config for the packaged scripts, bound to `connection` (or to `url`)."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("path_separator", "os")
    if url is not None:
        config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    config.attributes["connection"] = connection
    return config


def upgrade_to_head(engine: Engine) -> None:
    """Bring the database to the newest schema in one transaction.

    Processes that start together (API nodes, workers) may all call this: SQLite serialises
    them with BEGIN IMMEDIATE, PostgreSQL with an advisory lock, and the later ones find
    nothing left to do."""
    with engine.connect() as conn, conn.begin():
        if conn.dialect.name == "sqlite":
            sqlite.begin(conn, write=True)
        else:
            conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_MIGRATION_LOCK})
        command.upgrade(alembic_config(conn), "head")
