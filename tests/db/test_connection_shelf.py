"""SQLite connections kept open between transactions (db/connection_shelf.py), through
`Database`: reused, never more than callers at once, and nothing a failed caller left behind
reaches the next one."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Connection, text

from fluxserve.db.database import Database


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    # One pooled connection and no overflow: a second connection made while the first is
    # idle would wait for the pool's 30 s timeout, so reuse must really happen.
    database = Database.open(f"sqlite:///{tmp_path / 'fs.db'}", pool_size=1, max_overflow=0)
    yield database
    database.close()


def _count(conn: Connection) -> int:
    return int(conn.execute(text("SELECT count(*) FROM jobs")).scalar_one())


def test_transactions_of_any_thread_reuse_one_connection(db: Database) -> None:
    seen: list[Connection] = []

    def one_transaction() -> None:
        with db.write() as conn:
            seen.append(conn)
        with db.read() as conn:
            seen.append(conn)

    for _ in range(3):
        worker = threading.Thread(target=one_transaction)
        worker.start()
        worker.join(10)
        assert not worker.is_alive()  # a fresh checkout would have waited on the pool
    assert len(seen) == 6 and all(conn is seen[0] for conn in seen)
    assert db.engine.pool.checkedout() == 1  # type: ignore[attr-defined]


def test_callers_at_once_get_their_own_connections(tmp_path: Path) -> None:
    db = Database.open(f"sqlite:///{tmp_path / 'fs.db'}", pool_size=2, max_overflow=0)
    try:
        with db.read() as outer, db.read() as inner:
            assert outer is not inner
        with db.read() as again:
            assert again in (outer, inner)
        assert db.engine.pool.checkedout() == 2  # type: ignore[attr-defined]
    finally:
        db.close()
    assert db.engine.pool.checkedout() == 0  # type: ignore[attr-defined]


def test_a_caller_waiting_for_a_connection_gets_the_one_put_back(db: Database) -> None:
    # The pool's only connection is in use: the second caller waits, and must get it when
    # the first is done, not wait on a pool it never returns to (a 30 s timeout).
    first_in, first_may_end = threading.Event(), threading.Event()
    got: list[Connection] = []

    def first() -> None:
        with db.read() as conn:
            got.append(conn)
            first_in.set()
            first_may_end.wait(10)

    def second() -> None:
        with db.read() as conn:
            got.append(conn)

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    threads[0].start()
    assert first_in.wait(10)
    threads[1].start()
    threads[1].join(0.2)
    assert threads[1].is_alive() and len(got) == 1  # it waits while the first holds it
    first_may_end.set()
    for thread in threads:
        thread.join(10)
        assert not thread.is_alive()
    assert got[0] is got[1]


def test_idle_connections_beyond_the_pool_size_are_closed(tmp_path: Path) -> None:
    db = Database.open(f"sqlite:///{tmp_path / 'fs.db'}", pool_size=1, max_overflow=2)
    try:
        with db.read() as a, db.read() as b, db.read() as c:
            assert len({id(a), id(b), id(c)}) == 3  # the overflow serves callers at once
        assert db.engine.pool.checkedout() == 1  # type: ignore[attr-defined]
        assert sum(conn.closed for conn in (a, b, c)) == 2
    finally:
        db.close()


def test_a_failed_transaction_leaves_nothing_behind(db: Database) -> None:
    with db.write() as conn:
        conn.execute(text("CREATE TABLE scratch (x INTEGER)"))
    with pytest.raises(RuntimeError), db.write() as conn:
        conn.execute(text("INSERT INTO scratch VALUES (1)"))
        failed = conn
        raise RuntimeError("the caller fails after a statement took effect")
    with db.read() as conn:
        assert conn is failed  # rolled back cleanly, so fit to be reused
        assert conn.execute(text("SELECT count(*) FROM scratch")).scalar_one() == 0


def test_a_connection_left_in_a_transaction_is_not_reused(db: Database) -> None:
    shelf = db._shelf
    assert shelf is not None
    with shelf.connection() as conn:
        conn.execute(text("SELECT 1"))  # autobegins, and the caller never ends it
        left = conn
    assert left.closed
    with db.read() as conn:
        assert conn is not left and _count(conn) == 0


def test_a_connection_sqlite_left_in_a_transaction_is_not_reused(db: Database) -> None:
    # A failed COMMIT can end SQLAlchemy's transaction while SQLite's stays open, holding the
    # write lock: such a connection must go back to the pool, whose reset rolls it back.
    shelf = db._shelf
    assert shelf is not None
    with shelf.connection() as conn:
        conn.connection.driver_connection.execute("BEGIN IMMEDIATE")  # type: ignore[union-attr]
        left = conn
    assert left.closed
    with db.write() as conn:  # the write lock is free again
        assert conn is not left and _count(conn) == 0


def test_memory_databases_keep_the_pool(tmp_path: Path) -> None:
    db = Database.open("sqlite://")
    try:
        assert db._shelf is None
    finally:
        db.close()
