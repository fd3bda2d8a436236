"""The append-only money ledger. Rows are only ever inserted, never updated or deleted."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, bindparam, insert, select

from fluxserve.db.driver import DriverStatement
from fluxserve.db.schema import ledger_entries

_APPENDED = ("key_id", "request_id", "kind", "amount_micros", "balance_after_micros",
             "held_after_micros", "created_at", "note")  # fmt: skip
_APPEND = DriverStatement(
    insert(ledger_entries).values({name: bindparam(name) for name in _APPENDED})
)


@dataclass(frozen=True)
class LedgerEntry:
    """One movement of a key's money.

    `amount_micros` is the change in the key's total funds (balance + held): a `topup` adds,
    a `capture` (charge) subtracts, while `hold` and `release` only move money between
    balance and held, so their amount is 0 and the moved sum shows in `held_after_micros`
    (and in `note`). Hence the amounts of all entries sum to balance + held."""

    id: int
    key_id: str
    request_id: str | None
    kind: str
    amount_micros: int
    balance_after_micros: int
    held_after_micros: int
    created_at: datetime
    note: str | None
    held_change_micros: int | None = None
    """How much this entry moved into held (negative: out of it); None when unknown."""


def append(
    conn: Connection,
    *,
    key_id: str,
    kind: str,
    amount_micros: int,
    balance_after_micros: int,
    held_after_micros: int,
    at: datetime,
    request_id: str | None = None,
    note: str | None = None,
) -> None:
    """Add one entry inside the caller's transaction."""
    _APPEND.execute(
        conn,
        {
            "key_id": key_id,
            "request_id": request_id,
            "kind": kind,
            "amount_micros": amount_micros,
            "balance_after_micros": balance_after_micros,
            "held_after_micros": held_after_micros,
            "created_at": at,
            "note": note,
        },
    )


def recent(conn: Connection, key_id: str, limit: int) -> list[LedgerEntry]:
    """The newest `limit` entries of a key, newest first, each with its held change (a
    key's entries are serialised by its wallet row, so each follows the one before it)."""
    rows = conn.execute(
        select(ledger_entries)
        .where(ledger_entries.c.key_id == key_id)
        .order_by(ledger_entries.c.id.desc())
        .limit(limit + 1)
    ).all()
    entries = [_entry(row._mapping) for row in rows]
    # Each entry follows the next older one; the key's first follows an empty wallet (None).
    older: list[LedgerEntry | None] = [*entries[1:], None]
    return [_with_held_change(entry, older[i]) for i, entry in enumerate(entries[:limit])]


def _with_held_change(entry: LedgerEntry, before: LedgerEntry | None) -> LedgerEntry:
    held_before = 0 if before is None else before.held_after_micros
    return replace(entry, held_change_micros=entry.held_after_micros - held_before)


def _entry(row: Any) -> LedgerEntry:
    return LedgerEntry(
        id=int(row["id"]),
        key_id=str(row["key_id"]),
        request_id=row["request_id"],
        kind=str(row["kind"]),
        amount_micros=int(row["amount_micros"]),
        balance_after_micros=int(row["balance_after_micros"]),
        held_after_micros=int(row["held_after_micros"]),
        created_at=row["created_at"],
        note=row["note"],
    )
