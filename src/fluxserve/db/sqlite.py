"""SQLite connection set-up: WAL, a busy timeout, foreign keys, and SQLAlchemy-owned BEGIN.

The sqlite3 driver's own transaction handling skips BEGIN before SELECTs, so a read-then-write
transaction could act on a stale snapshot. We take over: every transaction starts with our
BEGIN, and write transactions with BEGIN IMMEDIATE, which takes the write lock up front (waiting
up to the busy timeout) so concurrent writers queue instead of failing with SQLITE_BUSY."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import URL, Connection, Engine, event

BUSY_TIMEOUT_MS = 30_000
WRITE_OPTION = "fluxserve_write"


def is_memory(url: URL) -> bool:
    """True for an in-memory SQLite URL (`sqlite://` or `sqlite:///:memory:`)."""
    return url.database in (None, "", ":memory:")


def ensure_parent_dir(url: URL) -> None:
    """Create the folder that will hold a file database."""
    if not is_memory(url) and url.database is not None:
        Path(url.database).expanduser().parent.mkdir(parents=True, exist_ok=True)


def install_hooks(engine: Engine) -> None:
    """Attach the pragmas and BEGIN handling to every connection of `engine`."""
    memory = is_memory(engine.url)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # we emit BEGIN ourselves
        cursor = dbapi_connection.cursor()
        try:
            # busy_timeout first, so that even switching to WAL waits for a lock.
            cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
            cursor.execute("PRAGMA foreign_keys=ON")
            if not memory:
                cursor.execute("PRAGMA journal_mode=WAL")
                cursor.execute("PRAGMA synchronous=NORMAL")
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        write = bool(conn.get_execution_options().get(WRITE_OPTION))
        conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")
