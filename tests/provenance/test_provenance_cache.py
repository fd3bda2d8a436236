"""The status read's provenance of a finished job is read from its images once, not on every
poll, and again once the sweeper has deleted them."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from typing import Any

from fluxserve.api.provenance import ProvenanceCache
from fluxserve.jobs.records import JobState
from tests.jobs.test_job_views import JOB


class CountingStorage:
    """Holds no file; counts how often an output is asked for."""

    def __init__(self) -> None:
        self.gets = 0

    def get(self, key: str) -> Any:
        self.gets += 1
        return None


def test_a_finished_jobs_provenance_is_read_once_per_state_of_its_media() -> None:
    done = replace(
        JOB, state=JobState.COMPLETED, media_type="image/png", output_keys=["outputs/x/0.png"]
    )
    storage = CountingStorage()
    cache = ProvenanceCache(size=8)

    async def field(job: Any, deleted: bool) -> Any:
        return await cache.field(job, storage, deleted)  # type: ignore[arg-type]

    first = asyncio.run(field(done, False))
    assert first is not None and asyncio.run(field(done, False)) == first
    assert storage.gets == 1
    asyncio.run(field(done, True))  # the sweeper deleted its outputs: read again
    assert storage.gets == 2
    assert asyncio.run(field(JOB, False)) is None  # not finished: nothing to say, nothing read
    assert storage.gets == 2
