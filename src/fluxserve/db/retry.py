"""Redoing a whole transaction when the database connection drops under it (a PostgreSQL
restart or failover, a pooled connection killed, SQLite busy past its timeout). The action is
the entire transaction, so a retry never applies half of one."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import TypeVar

from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError

log = logging.getLogger("fluxserve.db")

T = TypeVar("T")

FIRST_PAUSE_S = 0.2
LONGEST_PAUSE_S = 2.0


def is_transient(exc: BaseException) -> bool:
    """A fault of the connection, not of the statement: the same transaction may succeed."""
    if not isinstance(exc, DBAPIError):
        return False
    if exc.connection_invalidated:
        return True
    if type(exc.orig).__module__.startswith("sqlite3"):
        # SQLite says OperationalError for a missing table too; only a busy file is passing.
        text = str(exc.orig).lower()
        return "locked" in text or "busy" in text
    return isinstance(exc, OperationalError | InterfaceError)


def retry_transient(
    action: Callable[[], T],
    *,
    within_s: float,
    sleep: Callable[[float], None] = time.sleep,
) -> T:
    """`action()`, run again after transient faults until it succeeds or `within_s` is spent
    (then the last fault is raised). Any other exception is raised at once."""
    deadline = time.monotonic() + within_s
    pause = FIRST_PAUSE_S
    while True:
        try:
            return action()
        except DBAPIError as exc:
            if not is_transient(exc) or time.monotonic() + pause > deadline:
                raise
            log.warning("database unreachable (%s); retrying", type(exc.orig).__name__)
        sleep(pause)
        pause = min(pause * 2, LONGEST_PAUSE_S)
