"""Which jobs' media the retention sweeper has deleted, and which are due for it."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, bindparam, exists, insert, select
from sqlalchemy.exc import IntegrityError

from fluxserve.catalog import API_MODELS
from fluxserve.db.database import Database
from fluxserve.db.driver import DriverStatement
from fluxserve.db.schema import MEDIA_KINDS, jobs, media_deletions
from fluxserve.jobs.records import TERMINAL_STATES, JobState

_TERMINAL = [state.value for state in TERMINAL_STATES]
TRAINER_MODELS = [model.id for model in API_MODELS.values() if model.trainer]


# Read by every status read of a completed job: on the driver (db/driver.py).
_DELETIONS = DriverStatement(
    select(media_deletions.c.kind, media_deletions.c.deleted_at).where(
        media_deletions.c.request_id == bindparam("request_id")
    )
)


def deleted_on(conn: Connection, request_id: str) -> dict[str, datetime]:
    """Kind of media ("outputs", "inputs") -> when the sweeper deleted it, read in the
    caller's transaction."""
    rows = _DELETIONS.all(conn, {"request_id": request_id})
    return {str(kind): at for kind, at in rows}


class MediaLog:
    def __init__(self, db: Database) -> None:
        self._db = db

    def deleted(self, request_id: str) -> dict[str, datetime]:
        """Kind of media ("outputs", "inputs") -> when the sweeper deleted it."""
        with self._db.read() as conn:
            return deleted_on(conn, request_id)

    def due(self, kind: str, ended_before: datetime, limit: int) -> list[str]:
        """Ids of jobs that ended before `ended_before` whose `kind` of media is still kept."""
        _check_kind(kind)
        recorded = exists().where(
            media_deletions.c.request_id == jobs.c.request_id, media_deletions.c.kind == kind
        )
        query = (
            select(jobs.c.request_id)
            .where(jobs.c.state.in_(_TERMINAL), jobs.c.completed_at < ended_before, ~recorded)
            .order_by(jobs.c.completed_at)
            .limit(limit)
        )
        with self._db.read() as conn:
            return [str(row[0]) for row in conn.execute(query)]

    def record(self, request_id: str, kind: str, at: datetime) -> None:
        """Note that `kind` of the job's media is gone (a second note of it changes nothing:
        two nodes may sweep the same job)."""
        _check_kind(kind)
        try:
            with self._db.write() as conn:
                conn.execute(
                    insert(media_deletions).values(request_id=request_id, kind=kind, deleted_at=at)
                )
        except IntegrityError:
            return

    def kept_training_outputs(self) -> list[str]:
        """The output keys of every finished training whose outputs are still kept: the
        LoRA files that generations may still ask for."""
        gone = exists().where(
            media_deletions.c.request_id == jobs.c.request_id, media_deletions.c.kind == "outputs"
        )
        query = select(jobs.c.output_keys).where(
            jobs.c.model_id.in_(TRAINER_MODELS), jobs.c.state == JobState.COMPLETED.value, ~gone
        )
        with self._db.read() as conn:
            return [str(key) for (keys,) in conn.execute(query) for key in keys]


def _check_kind(kind: str) -> None:
    if kind not in MEDIA_KINDS:
        raise ValueError(f"unknown kind of media {kind!r}")
