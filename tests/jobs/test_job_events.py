"""Webhook event names and event filters (ours and Replicate-style)."""

from __future__ import annotations

import pytest

from fluxserve.jobs.events import allows, event_name
from fluxserve.jobs.records import JobState

C, F, E = JobState.COMPLETED, JobState.FAILED, JobState.ERROR


def test_event_names_are_lowercase_terminal_states() -> None:
    assert [event_name(s) for s in (C, F, E)] == ["completed", "failed", "error"]
    with pytest.raises(ValueError):
        event_name(JobState.PROCESSING)


@pytest.mark.parametrize(
    ("events", "passed"),
    [
        (None, {C, F, E}),
        ([], set()),
        (["completed"], {C}),
        (["failed"], {F, E}),
        (["error"], {E}),
        (["COMPLETED", "error"], {C, E}),
        (["start", "output", "logs"], set()),
        (["start", "completed", "failed"], {C, F, E}),
        (["nonsense"], set()),
    ],
)
def test_filters(events: list[str] | None, passed: set[JobState]) -> None:
    assert {state for state in (C, F, E) if allows(events, state)} == passed
