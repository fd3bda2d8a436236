"""Idempotency keys in the job store: which job a key's `Idempotency-Key` made, and from what
request (its fingerprint). The row is written in the transaction that creates the job, so the
table's primary key (API key, idempotency key) is what makes a second job impossible."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Connection, delete, insert, select

from fluxserve.db.schema import idempotency_keys


@dataclass(frozen=True)
class IdempotencyClaim:
    """The `Idempotency-Key` a request came with, the fingerprint of that request, and how long
    the key is kept."""

    key: str
    fingerprint: str
    ttl_s: float


@dataclass(frozen=True)
class IdempotentJob:
    """What an earlier request with the same key made."""

    request_id: str
    fingerprint: str


class DuplicateIdempotencyKey(Exception):
    """Another request with the same key created its job first (nothing was written)."""


def find(conn: Connection, key_id: str, key: str, now: datetime) -> IdempotentJob | None:
    """The live (unexpired) record of `key` for the API key `key_id`, or None."""
    row = conn.execute(
        select(idempotency_keys.c.request_id, idempotency_keys.c.fingerprint).where(
            idempotency_keys.c.key_id == key_id,
            idempotency_keys.c.idempotency_key == key,
            idempotency_keys.c.expires_at > now,
        )
    ).one_or_none()
    return None if row is None else IdempotentJob(str(row.request_id), str(row.fingerprint))


def record(
    conn: Connection, key_id: str, claim: IdempotencyClaim, request_id: str, now: datetime
) -> None:
    """Tie `claim` to the job just created, in the caller's transaction. Expired keys are
    dropped first (a lazy purge: no sweeper needed), so an expired key can be used again."""
    purge_expired(conn, now)
    conn.execute(
        insert(idempotency_keys).values(
            key_id=key_id,
            idempotency_key=claim.key,
            fingerprint=claim.fingerprint,
            request_id=request_id,
            created_at=now,
            expires_at=now + timedelta(seconds=claim.ttl_s),
        )
    )


def purge_expired(conn: Connection, now: datetime) -> int:
    """Delete every expired key; how many."""
    expired = delete(idempotency_keys).where(idempotency_keys.c.expires_at <= now)
    return conn.execute(expired).rowcount
