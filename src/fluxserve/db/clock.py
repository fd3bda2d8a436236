"""The clock every store takes: a callable returning an aware UTC datetime."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    """The current time, timezone-aware UTC."""
    return datetime.now(UTC)


def checked(clock: Clock | None) -> Clock:
    """`clock`, or the system clock; a clock that returns naive times is refused on use."""
    source = clock or utc_now

    def now() -> datetime:
        value = source()
        if value.tzinfo is None:
            raise ValueError(f"clock returned a naive datetime: {value!r}")
        return value.astimezone(UTC)

    return now
