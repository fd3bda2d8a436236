"""Wallet movements, each one conditional UPDATE plus its ledger entry, run inside the
caller's transaction so that a job's state change and its money move commit together.

Every UPDATE carries its own precondition (`balance >= p`, `held >= p`) and reports what it
changed, never read-then-write: two transactions racing for the last dollar cannot both
pass, on SQLite or on PostgreSQL, and the CHECK constraints back this up."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, Connection, insert, select, update

from fluxserve.billing import ledger
from fluxserve.db.schema import wallets
from fluxserve.errors import InsufficientBalance, NotFound
from fluxserve.money import micros_to_usd


@dataclass(frozen=True)
class WalletView:
    """A key's money: `balance_micros` is spendable, `held_micros` is reserved by jobs."""

    key_id: str
    balance_micros: int
    held_micros: int


def open_wallet(conn: Connection, key_id: str, at: datetime) -> None:
    """Create the empty wallet of a new key."""
    conn.execute(
        insert(wallets).values(key_id=key_id, balance_micros=0, held_micros=0, updated_at=at)
    )


def read(conn: Connection, key_id: str) -> WalletView:
    """The wallet of `key_id`; NotFound when there is none."""
    row = conn.execute(
        select(wallets.c.balance_micros, wallets.c.held_micros).where(wallets.c.key_id == key_id)
    ).one_or_none()
    if row is None:
        raise NotFound(f"No wallet for key {key_id}")
    return WalletView(key_id, int(row[0]), int(row[1]))


def topup(conn: Connection, key_id: str, micros: int, at: datetime, note: str | None) -> WalletView:
    """Add `micros` (> 0) to the balance."""
    if micros <= 0:
        raise ValueError("a top-up must be positive")
    view = _move(conn, key_id, at, balance_delta=micros, held_delta=0)
    if view is None:
        raise NotFound(f"No wallet for key {key_id}")
    _record(conn, view, "topup", micros, at, None, note)
    return view


def hold(conn: Connection, key_id: str, micros: int, request_id: str, at: datetime) -> WalletView:
    """Move `micros` from balance to held; InsufficientBalance when the balance is short."""
    view = _move(
        conn,
        key_id,
        at,
        balance_delta=-micros,
        held_delta=micros,
        guard=wallets.c.balance_micros >= micros,
    )
    if view is None:
        read(conn, key_id)  # NotFound for an unknown key, else the balance was short
        raise InsufficientBalance(required_usd=micros_to_usd(micros))
    _record(conn, view, "hold", 0, at, request_id, f"held {micros_to_usd(micros)} USD")
    return view


def capture(
    conn: Connection, key_id: str, micros: int, request_id: str, at: datetime
) -> WalletView:
    """Charge a held amount: it leaves the wallet."""
    view = _move(conn, key_id, at, balance_delta=0, held_delta=-micros, guard=_holds(micros))
    if view is None:
        raise RuntimeError(f"wallet {key_id} holds less than {micros} micros for {request_id}")
    _record(conn, view, "capture", -micros, at, request_id, f"charged {micros_to_usd(micros)} USD")
    return view


def release(
    conn: Connection, key_id: str, micros: int, request_id: str, at: datetime
) -> WalletView:
    """Return a held amount to the balance, uncharged."""
    view = _move(conn, key_id, at, balance_delta=micros, held_delta=-micros, guard=_holds(micros))
    if view is None:
        raise RuntimeError(f"wallet {key_id} holds less than {micros} micros for {request_id}")
    _record(conn, view, "release", 0, at, request_id, f"released {micros_to_usd(micros)} USD")
    return view


def _holds(micros: int) -> ColumnElement[bool]:
    return wallets.c.held_micros >= micros


def _move(
    conn: Connection,
    key_id: str,
    at: datetime,
    *,
    balance_delta: int,
    held_delta: int,
    guard: ColumnElement[bool] | None = None,
) -> WalletView | None:
    stmt = update(wallets).where(wallets.c.key_id == key_id)
    if guard is not None:
        stmt = stmt.where(guard)
    row = conn.execute(
        stmt.values(
            balance_micros=wallets.c.balance_micros + balance_delta,
            held_micros=wallets.c.held_micros + held_delta,
            updated_at=at,
        ).returning(wallets.c.balance_micros, wallets.c.held_micros)
    ).one_or_none()
    return None if row is None else WalletView(key_id, int(row[0]), int(row[1]))


def _record(
    conn: Connection,
    view: WalletView,
    kind: str,
    amount: int,
    at: datetime,
    request_id: str | None,
    note: str | None,
) -> None:
    ledger.append(
        conn,
        key_id=view.key_id,
        kind=kind,
        amount_micros=amount,
        balance_after_micros=view.balance_micros,
        held_after_micros=view.held_micros,
        at=at,
        request_id=request_id,
        note=note,
    )
