"""The `provenance` field the status body adds for its owner: what the stored outputs'
content credentials say, read back as any validator would read them."""

from __future__ import annotations

import asyncio
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
