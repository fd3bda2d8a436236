"""The per-key cap on QUEUED + PROCESSING jobs, checked early (before a submission fetches or
stores any input) by routes that take inputs. Price is no brake on a $0 model; this cap is.
Every submission meets the cap again inside its own transaction (`JobStore.create`)."""

from __future__ import annotations

from fluxserve.db.database import Database
from fluxserve.jobs.quota import check_active_cap


class ActiveJobCap:
    def __init__(self, db: Database, limit: int) -> None:
        self._db = db
        self.limit = limit

    def check(self, key_id: str) -> None:
        """TooManyActiveJobs when `key_id` already has `limit` jobs queued or running.

        Counted, not reserved: submissions racing on several nodes may each see room and
        overshoot by at most their number, which is what the rate limit bounds."""
        with self._db.read() as conn:
            check_active_cap(conn, key_id, self.limit)
