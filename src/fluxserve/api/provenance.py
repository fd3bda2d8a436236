"""The `provenance` field the status body adds for its owner: what the stored outputs'
content credentials say, read back as any validator would read them."""

from __future__ import annotations

import asyncio
import threading
from collections import OrderedDict
from typing import Any

from fluxserve.jobs.records import JobRecord, JobState
from fluxserve.provenance.reader import CredentialsReport, read_credentials, summary
from fluxserve.storage.base import MediaStorage


def _reports(job: JobRecord, storage: MediaStorage) -> list[CredentialsReport]:
    reports = []
    for key in job.output_keys:
        found = None if "://" in key else storage.get(key)  # a URL: stored before keys were
        if found is None:
            reports.append(CredentialsReport(present=False, validation_state="Missing"))
        else:
            reports.append(read_credentials(found[0], found[1]))
    return reports


async def provenance_field(job: JobRecord, storage: MediaStorage) -> dict[str, Any] | None:
    """None unless the job COMPLETED with images (a trained LoRA carries no manifest)."""
    if job.state is not JobState.COMPLETED or not (job.media_type or "").startswith("image/"):
        return None
    return summary(await asyncio.to_thread(_reports, job, storage))


class ProvenanceCache:
    """`provenance_field` of recent COMPLETED jobs. Their outputs never change while they are
    kept, so a client polling a finished job does not make the node re-read and re-validate
    its images on every poll; the retention sweeper's deletion makes a new entry."""

    def __init__(self, size: int = 1024) -> None:
        self._size = size
        self._known: OrderedDict[tuple[str, bool], dict[str, Any] | None] = OrderedDict()
        self._lock = threading.Lock()

    async def field(
        self, job: JobRecord, storage: MediaStorage, outputs_deleted: bool
    ) -> dict[str, Any] | None:
        if job.state is not JobState.COMPLETED:
            return None
        entry = (job.request_id, outputs_deleted)
        with self._lock:
            if entry in self._known:
                self._known.move_to_end(entry)
                return self._known[entry]
        found = await provenance_field(job, storage)
        with self._lock:
            self._known[entry] = found
            while len(self._known) > self._size:
                self._known.popitem(last=False)
        return found
