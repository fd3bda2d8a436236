"""Cross-node wake-ups on PostgreSQL: `NOTIFY` inside the transaction that queues or ends a
job, delivered only when it commits. Listeners (`jobs/listener.py`) turn them into the same
in-process signals a single node uses. SQLite has one node: nothing to send."""

from __future__ import annotations

from sqlalchemy import Connection, bindparam, func, select

from fluxserve.db.driver import DriverStatement

QUEUED_CHANNEL = "fluxserve_queued"
FINISHED_CHANNEL = "fluxserve_finished"
# A job changed without ending (claimed, progressed, or a job ahead of it left the queue):
# payload "request_id model_id", for live event streams.
CHANGED_CHANNEL = "fluxserve_changed"


_NOTIFY = DriverStatement(select(func.pg_notify(bindparam("channel"), bindparam("payload"))))


def queued(conn: Connection, model_id: str) -> None:
    _send(conn, QUEUED_CHANNEL, model_id)


def finished(conn: Connection, request_id: str) -> None:
    _send(conn, FINISHED_CHANNEL, request_id)


def changed(conn: Connection, request_id: str, model_id: str) -> None:
    _send(conn, CHANGED_CHANNEL, f"{request_id} {model_id}")


def _send(conn: Connection, channel: str, payload: str) -> None:
    if conn.dialect.name == "postgresql":
        _NOTIFY.execute(conn, {"channel": channel, "payload": payload})
