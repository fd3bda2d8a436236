"""Statements on the driver's cursor (db/driver.py), on each backend: they store exactly what a
SQLAlchemy execution stores, bind the values written into them, and fail as SQLAlchemy does."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import psycopg
import pytest
from sqlalchemy import Numeric, bindparam, func, insert, select, text, union_all, update
from sqlalchemy.exc import DBAPIError, IntegrityError

from fluxserve.db.database import Database
from fluxserve.db.driver import DriverStatement
from fluxserve.db.retry import is_transient
from fluxserve.db.schema import api_keys, jobs

_INSERT_KEY = DriverStatement(
    insert(api_keys).values({c.name: bindparam(c.name) for c in api_keys.c})
)
_COUNT_KEYS = DriverStatement(
    select(func.count()).select_from(
        select(api_keys.c.id)
        .where(api_keys.c.disabled == False, api_keys.c.priority >= bindparam("priority"))  # noqa: E712
        .limit(bindparam("limit"))
        .offset(1)
        .subquery()
    )
)
_MOMENT = datetime(2026, 12, 5, 18, 30, 1, 234567, tzinfo=UTC)


def _key(key_id: str, **changes: Any) -> dict[str, Any]:
    values = {"id": key_id, "name": f"name-{key_id}", "prefix": "fs_", "key_hash": key_id * 2,
              "disabled": False, "is_operator": False, "created_at": _MOMENT, "priority": 0,
              "webhook_secret": None}  # fmt: skip
    return values | changes


def _job(request_id: str) -> dict[str, Any]:
    """A job row with every kind of column: JSON object, list and null, aware datetimes,
    nulls, big integers."""
    return {
        "request_id": request_id, "model_id": "flux-dev", "key_id": "k1", "state": "QUEUED",
        "spec": {"prompt": "ünïcode ✓", "seed": 2**40, "loras": [{"scale": 0.5}]},
        "price_micros": 25_000, "output_keys": ["a.png"], "media_type": None, "error": None,
        "progress": None, "attempts": 0, "created_at": _MOMENT,
        "updated_at": _MOMENT.astimezone(timezone(timedelta(hours=2))), "completed_at": None,
        "webhook_url": None, "webhook_events": ["COMPLETED"], "webhook_style": "status",
        "alias": None, "worker_id": None, "lease_until": _MOMENT + timedelta(seconds=30),
        "node_id": None, "attempt_id": None, "priority": -3, "sched_rank": 2**50,
    }  # fmt: skip


def _stored_row(db: Database, request_id: str) -> tuple[Any, ...]:
    """The row as the driver reads it back: what is on disk, before any type processing."""
    with db.read() as conn:
        cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
        columns = ", ".join(c.name for c in jobs.c if c.name != "request_id")
        marker = "?" if db.dialect == "sqlite" else "%s"
        cursor.execute(f"SELECT {columns} FROM jobs WHERE request_id = {marker}", (request_id,))
        return tuple(cursor.fetchone())


def test_a_row_is_stored_exactly_as_a_sqlalchemy_execution_stores_it(db: Database) -> None:
    insert_job = DriverStatement(insert(jobs).values({c.name: bindparam(c.name) for c in jobs.c}))
    with db.write() as conn:
        _INSERT_KEY.execute(conn, _key("k1"))
        conn.execute(insert(jobs), _job("by-sqlalchemy"))
        insert_job.execute(conn, _job("by-driver"))
    assert _stored_row(db, "by-driver") == _stored_row(db, "by-sqlalchemy")
    with db.read() as conn:
        read = [conn.execute(select(jobs).where(jobs.c.request_id == r)).one()._asdict()
                for r in ("by-driver", "by-sqlalchemy")]  # fmt: skip
    assert read[0] | {"request_id": "by-sqlalchemy"} == read[1]
    assert read[0]["updated_at"] == _MOMENT  # stored as UTC, whatever zone it came in
    assert read[0]["spec"]["prompt"] == "ünïcode ✓"


def test_a_row_reads_as_a_sqlalchemy_execution_reads_it(db: Database) -> None:
    by_id = DriverStatement(select(jobs).where(jobs.c.request_id == bindparam("request_id")))
    returning = DriverStatement(
        update(jobs)
        .where(jobs.c.request_id == bindparam("request_id"))
        .values(attempts=jobs.c.attempts + 1)
        .returning(jobs.c.spec, jobs.c.lease_until, jobs.c.attempts)
    )
    with db.write() as conn:
        _INSERT_KEY.execute(conn, _key("k1"))
        conn.execute(insert(jobs), [_job("full"), _job("sparse") | _SPARSE])
    for request_id in ("full", "sparse"):
        with db.read() as conn:
            expected = conn.execute(select(jobs).where(jobs.c.request_id == request_id)).one()
            row = by_id.one_or_none(conn, {"request_id": request_id})
            assert row == tuple(expected)
            # in UTC, as SQLAlchemy gives them, whatever the server's session time zone
            assert all(v.utcoffset() == timedelta(0) for v in row if isinstance(v, datetime))
            assert by_id.all(conn, {"request_id": request_id}) == [tuple(expected)]
            assert by_id.one_or_none(conn, {"request_id": "none"}) is None
        with db.write() as conn:
            spec, lease_until, attempts = returning.one(conn, {"request_id": request_id})
        assert (spec, lease_until, attempts) == (expected.spec, expected.lease_until, 1)


# The other values a column takes: JSON null, and nulls where the first job had values.
_SPARSE = {"webhook_events": None, "lease_until": None, "progress": {"step": 1, "of": 4},
           "output_keys": [], "completed_at": _MOMENT, "error": "out of memory"}  # fmt: skip


def test_values_written_into_the_statement_are_bound(db: Database) -> None:
    with db.write() as conn:
        for index, disabled in enumerate([False, False, True, False, False]):
            _INSERT_KEY.execute(conn, _key(f"k{index}", disabled=disabled, priority=index))
        # `disabled == false` and OFFSET 1 are written into the statement; priority and limit
        # are given: k1, k3 and k4 match, the offset skips one.
        assert _COUNT_KEYS.one(conn, {"priority": 1, "limit": 5}) == (2,)
        assert _COUNT_KEYS.one(conn, {"priority": 1, "limit": 1}) == (1,)
        assert _COUNT_KEYS.one(conn, {"priority": 4, "limit": 5}) == (0,)


def test_a_driver_error_is_sqlalchemys_and_the_transaction_leaves_nothing(db: Database) -> None:
    with db.write() as conn:
        _INSERT_KEY.execute(conn, _key("k1"))
    with pytest.raises(IntegrityError), db.write() as conn:
        _INSERT_KEY.execute(conn, _key("k2"))
        _INSERT_KEY.execute(conn, _key("k1"))  # the same primary key
    with db.read() as conn:
        assert conn.execute(select(api_keys.c.id)).scalars().all() == ["k1"]


def test_a_missing_value_is_refused_before_the_driver_sees_it(db: Database) -> None:
    with pytest.raises(KeyError, match="key_hash"), db.write() as conn:
        _INSERT_KEY.execute(conn, {k: v for k, v in _key("k1").items() if k != "key_hash"})


def test_a_parameter_with_a_default_takes_the_callers_value_when_given(db: Database) -> None:
    # A name SQLAlchemy escapes in a named paramstyle (psycopg's) too.
    names = DriverStatement(
        select(api_keys.c.name).where(api_keys.c.priority == bindparam("key.priority", 7))
    )
    with db.write() as conn:
        _INSERT_KEY.execute(conn, _key("k1", priority=7))
        _INSERT_KEY.execute(conn, _key("k2", priority=2))
        assert names.one_or_none(conn, {}) == ("name-k1",)
        assert names.one_or_none(conn, {"key.priority": 2}) == ("name-k2",)


@pytest.mark.parametrize(
    ("statement", "refusal"),
    [
        (select(jobs.c.request_id).where(jobs.c.state.in_(bindparam("s", expanding=True))),
         "expand"),
        (select(jobs.c.request_id).where(jobs.c.state == bindparam("s", callable_=lambda: "Q")),
         "callable"),
        (union_all(select(jobs.c.request_id), select(jobs.c.alias)), "SELECT, INSERT"),
        (select(func.avg(jobs.c.price_micros, type_=Numeric())), "Numeric"),
    ],
)  # fmt: skip
def test_what_it_cannot_do_as_sqlalchemy_does_is_refused(
    db: Database, statement: Any, refusal: str
) -> None:
    with pytest.raises(ValueError, match=refusal), db.read() as conn:
        DriverStatement(statement).one_or_none(conn, {"s": ["QUEUED"]})


@pytest.mark.postgres
def test_a_connection_killed_mid_transaction_is_invalidated_and_the_fault_transient(
    postgres_url: str,
) -> None:
    db = Database.open(postgres_url, pool_size=1, max_overflow=0)
    try:
        with pytest.raises(DBAPIError) as raised, db.write() as conn:
            pid = conn.execute(text("SELECT pg_backend_pid()")).scalar_one()
            admin = postgres_url.replace("postgresql+psycopg://", "postgresql://")
            with psycopg.connect(admin, autocommit=True) as killer:
                killer.execute("SELECT pg_terminate_backend(%s)", (pid,))
            _INSERT_KEY.execute(conn, _key("k1"))
        assert raised.value.connection_invalidated
        assert is_transient(raised.value)  # so retry_transient runs the transaction again
        with db.write() as conn:  # the pool's only connection was replaced
            _INSERT_KEY.execute(conn, _key("k1"))
            assert conn.execute(text("SELECT pg_backend_pid()")).scalar_one() != pid
    finally:
        db.close()


def test_a_closed_connection_is_invalidated_and_the_fault_transient(db: Database) -> None:
    with pytest.raises(DBAPIError) as raised, db.write() as conn:
        conn.connection.driver_connection.close()  # type: ignore[union-attr]
        _INSERT_KEY.execute(conn, _key("k1"))
    assert raised.value.connection_invalidated and is_transient(raised.value)
    with db.write() as conn:  # a fresh connection
        _INSERT_KEY.execute(conn, _key("k1"))
