"""The per-key cap on QUEUED + PROCESSING jobs, checked before a submission fetches or stores
anything. Price is no brake on a $0 model; this cap is."""

from __future__ import annotations

from fluxserve.db.database import Database
from fluxserve.errors import TooManyActiveJobs
from fluxserve.jobs.quota import count_active_jobs

# A job takes seconds; a client told to come back sooner would only be refused again.
RETRY_AFTER_S = 5


class ActiveJobCap:
    def __init__(self, db: Database, limit: int) -> None:
        self._db = db
        self.limit = limit

    def check(self, key_id: str) -> None:
        """TooManyActiveJobs when `key_id` already has `limit` jobs queued or running.

        Counted, not reserved: submissions racing on several nodes may each see room and
        overshoot by at most their number, which is what the rate limit bounds."""
        if count_active_jobs(self._db, key_id, up_to=self.limit) >= self.limit:
            raise TooManyActiveJobs(self.limit, RETRY_AFTER_S)
