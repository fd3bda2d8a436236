"""Which webhook event a finished job sends, and whether the caller's filter lets it out."""

from __future__ import annotations

from collections.abc import Iterable

from fluxserve.jobs.records import TERMINAL_STATES, JobState

# Filter values a caller may send and the terminal states each one lets through. Ours are the
# lowercase state names; Replicate-style filters also say "failed" for every unsuccessful end,
# and "start"/"output"/"logs", which name no terminal event and so let none through.
_FILTER_STATES: dict[str, frozenset[JobState]] = {
    "completed": frozenset({JobState.COMPLETED}),
    "failed": frozenset({JobState.FAILED, JobState.ERROR}),
    "error": frozenset({JobState.ERROR}),
    "cancelled": frozenset({JobState.CANCELLED}),
    "canceled": frozenset({JobState.CANCELLED}),  # Replicate's spelling
    "start": frozenset(),
    "output": frozenset(),
    "logs": frozenset(),
}

KNOWN_FILTER_VALUES: frozenset[str] = frozenset(_FILTER_STATES)


def event_name(state: JobState) -> str:
    """The webhook event of a terminal state: "completed", "failed", "error" or "cancelled"."""
    if state not in TERMINAL_STATES:
        raise ValueError(f"{state} is not a terminal state")
    return state.value.lower()


def allows(events: Iterable[str] | None, state: JobState) -> bool:
    """Whether a filter (None: everything) lets the terminal `state`'s event through."""
    if events is None:
        return True
    return any(state in _FILTER_STATES.get(value.lower(), frozenset()) for value in events)
