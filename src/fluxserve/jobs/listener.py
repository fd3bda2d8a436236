"""Listening for other nodes' wake-ups on PostgreSQL (`LISTEN`), on a connection of its own,
and turning them into this process's `JobSignals`: idle workers claim a job queued on another
node at once, and a sync request learns at once that its job ended on a worker node.

Polling stays as the fallback, so a lost connection only slows things down; it is reopened."""

from __future__ import annotations

import logging
import threading

import psycopg
from sqlalchemy import make_url

from fluxserve.jobs.notify import CHANGED_CHANNEL, FINISHED_CHANNEL, QUEUED_CHANNEL
from fluxserve.jobs.signals import JobSignals

log = logging.getLogger("fluxserve.jobs")

RECONNECT_S = 2.0


def psycopg_dsn(database_url: str) -> str:
    """The libpq form of a SQLAlchemy PostgreSQL URL."""
    url = make_url(database_url).set(drivername="postgresql")
    return url.render_as_string(hide_password=False)


class PgListener:
    def __init__(self, database_url: str, signals: JobSignals) -> None:
        self._dsn = psycopg_dsn(database_url)
        self._signals = signals
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="pg-listener", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5.0)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self._listen()
            except psycopg.Error as exc:
                log.warning("wake-up listener lost its connection (%s); reconnecting", exc)
                self._stop.wait(RECONNECT_S)

    def _listen(self) -> None:
        with psycopg.connect(self._dsn, autocommit=True) as conn:
            conn.execute(f"LISTEN {QUEUED_CHANNEL}")
            conn.execute(f"LISTEN {FINISHED_CHANNEL}")
            conn.execute(f"LISTEN {CHANGED_CHANNEL}")
            while not self._stop.is_set():
                for note in conn.notifies(timeout=1.0, stop_after=64):
                    if note.channel == QUEUED_CHANNEL:
                        self._signals.job_queued(note.payload)
                    elif note.channel == CHANGED_CHANNEL:
                        request_id, _, model_id = note.payload.partition(" ")
                        self._signals.job_changed(request_id, model_id)
                    else:
                        self._signals.job_finished(note.payload)
