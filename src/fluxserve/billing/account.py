"""What a key's account view shows: its wallet, the holds of its unfinished requests, what it
was charged per model over a period, and its last ledger entries, all read in one snapshot."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, func, select

from fluxserve.billing import ledger, wallet
from fluxserve.billing.ledger import LedgerEntry
from fluxserve.billing.wallet import WalletView
from fluxserve.db.database import Database
from fluxserve.db.schema import jobs, ledger_entries

_UNFINISHED = ("QUEUED", "PROCESSING")


@dataclass(frozen=True)
class Hold:
    """Money reserved by one request that has not ended."""

    request_id: str
    model_id: str
    state: str
    micros: int
    since: datetime


@dataclass(frozen=True)
class ModelUsage:
    """Charges (captures) of one model within the period."""

    model_id: str
    requests: int
    charged_micros: int


@dataclass(frozen=True)
class AccountView:
    wallet: WalletView
    holds: list[Hold]
    usage: list[ModelUsage]
    entries: list[LedgerEntry]


def read_account(
    db: Database, key_id: str, since: datetime, until: datetime, entries: int
) -> AccountView:
    """The account of `key_id`; usage counts charges made in [since, until)."""
    with db.snapshot() as conn:
        return AccountView(
            wallet=wallet.read(conn, key_id),
            holds=_holds(conn, key_id),
            usage=_usage(conn, key_id, since, until),
            entries=ledger.recent(conn, key_id, entries),
        )


def _holds(conn: Connection, key_id: str) -> list[Hold]:
    columns = (jobs.c.request_id, jobs.c.model_id, jobs.c.state, jobs.c.price_micros)
    rows = conn.execute(
        select(*columns, jobs.c.created_at)
        .where(jobs.c.key_id == key_id, jobs.c.state.in_(_UNFINISHED), jobs.c.price_micros > 0)
        .order_by(jobs.c.created_at, jobs.c.request_id)
    ).all()
    return [Hold(str(r[0]), str(r[1]), str(r[2]), int(r[3]), r[4]) for r in rows]


def _usage(conn: Connection, key_id: str, since: datetime, until: datetime) -> list[ModelUsage]:
    charged = func.sum(-ledger_entries.c.amount_micros)
    rows = conn.execute(
        select(jobs.c.model_id, func.count(), charged)
        .select_from(ledger_entries.join(jobs, jobs.c.request_id == ledger_entries.c.request_id))
        .where(
            ledger_entries.c.key_id == key_id,
            ledger_entries.c.kind == "capture",
            ledger_entries.c.created_at >= since,
            ledger_entries.c.created_at < until,
        )
        .group_by(jobs.c.model_id)
        .order_by(jobs.c.model_id)
    ).all()
    return [ModelUsage(str(r[0]), int(r[1]), int(r[2])) for r in rows]
