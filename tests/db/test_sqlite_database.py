"""Database on SQLite: pragmas, write serialisation, UTC datetimes."""

from __future__ import annotations

import sqlite3
import threading
import time
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy import Connection, func, insert, select, text
from sqlalchemy.exc import IntegrityError, OperationalError, StatementError

from fluxserve.db.database import Database
from fluxserve.db.schema import api_keys


def _open(tmp_path: Path) -> Database:
    return Database.open(f"sqlite:///{tmp_path / 'nested' / 'dir' / 'fs.db'}")


def test_open_creates_the_folder_and_sets_pragmas(tmp_path: Path) -> None:
    db = _open(tmp_path)
    try:
        with db.read() as conn:
            pragmas = {
                name: conn.exec_driver_sql(f"PRAGMA {name}").scalar_one()
                for name in ("journal_mode", "foreign_keys", "busy_timeout")
            }
    finally:
        db.close()
    assert (tmp_path / "nested" / "dir" / "fs.db").is_file()
    assert pragmas == {"journal_mode": "wal", "foreign_keys": 1, "busy_timeout": 30_000}


def test_write_transactions_take_the_lock_at_begin(tmp_path: Path) -> None:
    db = _open(tmp_path)
    first_in = threading.Event()
    moments: dict[str, float] = {}

    def first() -> None:
        with db.write() as conn:
            conn.execute(text("SELECT count(*) FROM jobs")).scalar_one()
            first_in.set()
            time.sleep(0.3)
            moments["first_done"] = time.monotonic()

    def second() -> None:
        first_in.wait()
        with db.write():
            moments["second_in"] = time.monotonic()

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(10)
    finally:
        db.close()
    assert moments["second_in"] >= moments["first_done"]


def test_datetimes_are_utc_aware_and_naive_ones_are_refused(tmp_path: Path) -> None:
    db = _open(tmp_path)
    local = datetime(2026, 3, 31, 12, 0, 0, 5, tzinfo=timezone(timedelta(hours=2)))
    row = {"id": "key_a", "name": "", "prefix": "fs_", "key_hash": "h", "disabled": False}
    try:
        with db.write() as conn:
            conn.execute(insert(api_keys).values(**row, is_operator=False, created_at=local))
        with db.read() as conn:
            stored = conn.execute(select(api_keys.c.created_at)).scalar_one()
        with pytest.raises(StatementError, match="naive"), db.write() as conn:
            conn.execute(
                insert(api_keys).values(
                    **{**row, "id": "key_b", "key_hash": "h2"},
                    is_operator=False,
                    created_at=datetime(2026, 1, 1),
                )
            )
    finally:
        db.close()
    assert stored == local and stored.tzinfo is UTC


def test_in_memory_database_is_migrated() -> None:
    db = Database.open("sqlite://")
    try:
        with db.read() as conn:
            assert conn.execute(text("SELECT count(*) FROM jobs")).scalar_one() == 0
    finally:
        db.close()


def test_transactions_begin_in_sqlite_itself(tmp_path: Path) -> None:
    """A read sees one snapshot however others commit meanwhile; a write holds SQLite's own
    write lock from its first statement (another process's writer is refused at once), and
    an error rolls everything it did back."""
    db = _open(tmp_path)
    other = sqlite3.connect(tmp_path / "nested" / "dir" / "fs.db", isolation_level=None)
    other.execute("PRAGMA busy_timeout=0")
    count = "SELECT count(*) FROM api_keys"
    try:
        with db.read() as conn:
            before = conn.execute(text(count)).scalar_one()
            other.execute(
                "INSERT INTO api_keys (id, name, prefix, key_hash, disabled, is_operator, "
                "created_at) VALUES ('k1', 'n', 'p', 'h', 0, 0, '2026-01-01 00:00:00')"
            )
            assert conn.execute(text(count)).scalar_one() == before
        with db.write() as conn:
            conn.execute(text("SELECT 1")).scalar_one()
            with pytest.raises(sqlite3.OperationalError, match="locked"):
                other.execute("BEGIN IMMEDIATE")
        with pytest.raises(RuntimeError), db.write() as conn:
            conn.execute(text("DELETE FROM api_keys"))
            raise RuntimeError("undo")
        with db.read() as conn:
            assert conn.execute(text(count)).scalar_one() == before + 1
    finally:
        other.close()
        db.close()


def _driver(conn: Connection) -> object:
    return conn.connection.driver_connection


def test_writers_in_turn_share_one_resident_connection(tmp_path: Path) -> None:
    db = _open(tmp_path)
    seen: list[object] = []

    def write(n: int) -> None:
        with db.write() as conn:
            conn.execute(insert(api_keys).values(**_key(f"key_{n}")))
            seen.append(_driver(conn))

    try:
        threads = [threading.Thread(target=write, args=(n,)) for n in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
        kept = db.engine.pool.checkedout()  # type: ignore[attr-defined]
        with db.read() as conn:
            reader = _driver(conn)
            stored = conn.execute(select(func.count()).select_from(api_keys)).scalar_one()
    finally:
        db.close()
    assert stored == 4
    assert len(seen) == 4 and len({id(c) for c in seen}) == 1
    assert kept == 1  # kept out of the pool between writes
    assert reader is not seen[0]  # readers keep to the pool


def test_a_refused_write_keeps_the_resident_connection_and_a_failed_one_replaces_it(
    tmp_path: Path,
) -> None:
    db = _open(tmp_path)
    try:
        with db.write() as conn:
            conn.execute(insert(api_keys).values(**_key("key_a")))
            first = _driver(conn)
        with pytest.raises(IntegrityError), db.write() as conn:
            conn.execute(insert(api_keys).values(**_key("key_b")))
            conn.execute(insert(api_keys).values(**_key("key_a")))  # a taken id: refused
        with pytest.raises(ValueError), db.write() as conn:
            conn.execute(insert(api_keys).values(**_key("key_c")))
            raise ValueError("the caller changed its mind")
        with db.write() as conn:
            assert _driver(conn) is first
        with pytest.raises(OperationalError), db.write() as conn:
            conn.exec_driver_sql("NOT A STATEMENT")
        with db.write() as conn:
            conn.execute(insert(api_keys).values(**_key("key_d")))
            fresh = _driver(conn)
        with db.read() as conn:
            ids = set(conn.execute(select(api_keys.c.id)).scalars())
        checked_out = db.engine.pool.checkedout()  # type: ignore[attr-defined]
    finally:
        db.close()
    assert fresh is not first
    assert ids == {"key_a", "key_d"}  # what was refused or abandoned left nothing
    assert checked_out == 1  # the resident one; the failed one is not leaked
    with pytest.raises(sqlite3.ProgrammingError):  # closed with the database
        fresh.execute("SELECT 1")  # type: ignore[attr-defined]


def test_a_write_that_ends_with_a_transaction_open_does_not_pass_it_on(tmp_path: Path) -> None:
    db = _open(tmp_path)
    path = tmp_path / "nested" / "dir" / "fs.db"
    try:
        with db.write() as conn:
            conn.exec_driver_sql(
                "CREATE TABLE notes (id INTEGER PRIMARY KEY, key_id TEXT "
                "REFERENCES api_keys(id) DEFERRABLE INITIALLY DEFERRED)"
            )
            first = _driver(conn)
        # A constraint checked at COMMIT: SQLite refuses the commit and keeps the transaction.
        with pytest.raises(IntegrityError), db.write() as conn:
            conn.exec_driver_sql("INSERT INTO notes (key_id) VALUES ('no such key')")
        # Another writer of the machine is not locked out meanwhile.
        other = sqlite3.connect(path, timeout=5, isolation_level=None)
        other.execute("BEGIN IMMEDIATE")
        other.execute("ROLLBACK")
        other.close()
        with pytest.raises(KeyboardInterrupt), db.write() as conn:
            conn.exec_driver_sql("INSERT INTO notes (key_id) VALUES (NULL)")
            raise KeyboardInterrupt
        with db.write() as conn:
            after = _driver(conn)
            conn.exec_driver_sql("INSERT INTO notes (key_id) VALUES (NULL)")
        with db.read() as conn:
            notes = conn.exec_driver_sql("SELECT count(*) FROM notes").scalar_one()
    finally:
        db.close()
    assert after is not first  # the connection left in a transaction was replaced
    assert notes == 1  # neither the refused row nor the interrupted one


def test_writes_after_close_do_not_bring_the_resident_connection_back(tmp_path: Path) -> None:
    db = _open(tmp_path)
    with db.write() as conn:
        conn.execute(insert(api_keys).values(**_key("key_a")))
    db.close()
    assert db.engine.pool.checkedout() == 0  # type: ignore[attr-defined]
    with db.write() as conn:
        conn.execute(insert(api_keys).values(**_key("key_b")))
    assert db.engine.pool.checkedout() == 0  # type: ignore[attr-defined]
    db.close()


def _key(key_id: str) -> dict[str, object]:
    return {"id": key_id, "name": "", "prefix": "fs_", "key_hash": f"h_{key_id}",
            "disabled": False, "is_operator": False, "created_at": datetime.now(UTC)}  # fmt: skip


def test_the_pool_keeps_its_size_beside_the_resident_connection(tmp_path: Path) -> None:
    db = Database.open(f"sqlite:///{tmp_path / 'fs.db'}", pool_size=1, max_overflow=0)
    try:
        with db.write() as conn:
            conn.execute(insert(api_keys).values(**_key("key_a")))
        with db.read() as conn:  # the one pooled connection is still there for readers
            assert conn.execute(select(api_keys.c.id)).scalars().all() == ["key_a"]
    finally:
        db.close()
