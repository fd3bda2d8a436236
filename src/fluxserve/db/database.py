"""The database handle: one engine, migrated on open, with read and write transactions."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, make_url
from sqlalchemy.pool import StaticPool

from fluxserve.db import pg_liveness, sqlite
from fluxserve.db.migrate import upgrade_to_head


class Database:
    """Owns the SQLAlchemy engine for SQLite or PostgreSQL.

    Open it once per process with `Database.open(url)` and pass it down; stores build their
    transactions with `write()` and `read()`."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._sqlite = engine.dialect.name == "sqlite"
        # PostgreSQL's READ COMMITTED gives every statement its own snapshot anyway, so a read
        # gains nothing from a transaction but the BEGIN and COMMIT round trips.
        self._reader = (
            engine if self._sqlite else engine.execution_options(isolation_level="AUTOCOMMIT")
        )
        self._writers: sqlite.WriterQueue | None = None
        self._resident: sqlite.ResidentWriter | None = None
        if self._sqlite and not sqlite.is_memory(engine.url):
            assert engine.url.database is not None
            self._writers = sqlite.WriterQueue(Path(engine.url.database).expanduser())
            self._resident = sqlite.ResidentWriter(engine)

    @classmethod
    def open(cls, url: str, *, pool_size: int = 5, max_overflow: int = 10) -> Database:
        """Create the engine, apply SQLite pragmas, and run `alembic upgrade head`.

        For a SQLite file the parent folder is created. `sqlite://` (in memory) works too,
        on one shared connection, which is only useful in tests. A bare `postgresql://` URL
        uses psycopg 3 (which prepares a statement once a connection has run it 5 times).
        `pool_size` + `max_overflow` bound the connections this process opens (on a SQLite
        file, beside the one its writers keep)."""
        engine = _create_engine(url, pool_size, max_overflow)
        try:
            upgrade_to_head(engine)
        except BaseException:
            engine.dispose()
            raise
        return cls(engine)

    @property
    def dialect(self) -> str:
        """ "sqlite" or "postgresql"."""
        return self.engine.dialect.name

    @contextmanager
    def write(self) -> Iterator[Connection]:
        """A transaction that will write: committed on success, rolled back on error.

        On SQLite it takes the write lock at BEGIN, so read-then-write logic inside sees no
        concurrent writer; on PostgreSQL it is READ COMMITTED, so callers guard every UPDATE
        with its precondition and check what it changed."""
        if self._writers is None:
            with self.engine.connect() as conn, conn.begin():
                if self._sqlite:
                    sqlite.begin(conn, write=True)
                yield conn
            return
        # The turn first: a writer waiting for it holds no connection meanwhile.
        with self._writers.turn() as outermost:
            resident = self._resident if outermost else None
            if resident is not None:
                with resident.transaction() as conn:
                    yield conn
                return
            # A write nested in this thread's own (or after close): a connection of its own,
            # which meets SQLite's busy timeout as it did before there was a resident one.
            with self.engine.connect() as conn, conn.begin():
                sqlite.begin(conn, write=True)
                yield conn

    @contextmanager
    def read(self) -> Iterator[Connection]:
        """Read-only statements: one consistent snapshot on SQLite; on PostgreSQL each statement
        sees what was committed when it started, as in a READ COMMITTED transaction (without
        its two round trips). Statements that must agree use `snapshot`."""
        with self._reader.connect() as conn, conn.begin():
            if self._sqlite:
                sqlite.begin(conn, write=False)
            yield conn

    @contextmanager
    def snapshot(self) -> Iterator[Connection]:
        """A read-only transaction whose statements all see one moment, on PostgreSQL too
        (REPEATABLE READ), for views that must add up across tables."""
        if self._sqlite:
            with self.read() as conn:
                yield conn
            return
        with self.engine.connect() as conn:
            conn = conn.execution_options(isolation_level="REPEATABLE READ")
            with conn.begin():
                yield conn

    def close(self) -> None:
        """Close every pooled connection."""
        if self._writers is not None:
            with self._writers.idle():  # not under a writer of this process still at work
                resident, self._resident = self._resident, None
            if resident is not None:
                resident.close()
        self.engine.dispose()
        if self._writers is not None:
            self._writers.close()


def _create_engine(url: str, pool_size: int, max_overflow: int) -> Engine:
    parsed = make_url(url)
    options: dict[str, Any] = {}
    if parsed.get_backend_name() == "sqlite":
        sqlite.ensure_parent_dir(parsed)
        options["connect_args"] = {"check_same_thread": False}
        if sqlite.is_memory(parsed):
            options["poolclass"] = StaticPool
        else:
            # One connection more, which the writers keep (sqlite.ResidentWriter).
            options.update(pool_size=pool_size + 1, max_overflow=max_overflow)
        engine = create_engine(parsed, **options)
        sqlite.install_hooks(engine)
        return engine
    if parsed.drivername == "postgresql":
        # psycopg 3 is the driver we ship with; SQLAlchemy's bare default is psycopg2.
        parsed = parsed.set(drivername="postgresql+psycopg")
    engine = create_engine(
        parsed,
        pool_size=pool_size,
        max_overflow=max_overflow,
        connect_args=pg_liveness.KEEPALIVES,
    )
    pg_liveness.check_on_checkout(engine)
    return engine
