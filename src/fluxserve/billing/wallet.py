"""Wallet movements, each one conditional UPDATE plus its ledger entry, run inside the
caller's transaction so that a job's state change and its money move commit together.

Every UPDATE carries its own precondition (`balance >= p`, `held >= p`) and reports what it
changed, never read-then-write: two transactions racing for the last dollar cannot both
pass, on SQLite or on PostgreSQL, and the CHECK constraints back this up."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from sqlalchemy import Column, Connection, bindparam, insert, select, update

from fluxserve.billing import ledger
from fluxserve.db.driver import DriverStatement
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


_READ = select(wallets.c.balance_micros, wallets.c.held_micros).where(
    wallets.c.key_id == bindparam("key_id")
)


def read(conn: Connection, key_id: str) -> WalletView:
    """The wallet of `key_id`; NotFound when there is none."""
    row = conn.execute(_READ, {"key_id": key_id}).one_or_none()
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
    view = _move(conn, key_id, at, balance_delta=-micros, held_delta=micros, guard="balance")
    if view is None:
        read(conn, key_id)  # NotFound for an unknown key, else the balance was short
        raise InsufficientBalance(required_usd=micros_to_usd(micros))
    _record(conn, view, "hold", 0, at, request_id, f"held {micros_to_usd(micros)} USD")
    return view


def capture(
    conn: Connection, key_id: str, micros: int, request_id: str, at: datetime
) -> WalletView:
    """Charge a held amount: it leaves the wallet."""
    view = _move(conn, key_id, at, balance_delta=0, held_delta=-micros, guard="held")
    if view is None:
        raise RuntimeError(f"wallet {key_id} holds less than {micros} micros for {request_id}")
    _record(conn, view, "capture", -micros, at, request_id, f"charged {micros_to_usd(micros)} USD")
    return view


def release(
    conn: Connection, key_id: str, micros: int, request_id: str, at: datetime
) -> WalletView:
    """Return a held amount to the balance, uncharged."""
    view = _move(conn, key_id, at, balance_delta=micros, held_delta=-micros, guard="held")
    if view is None:
        raise RuntimeError(f"wallet {key_id} holds less than {micros} micros for {request_id}")
    _record(conn, view, "release", 0, at, request_id, f"released {micros_to_usd(micros)} USD")
    return view


def _moving(guard: Column[int] | None) -> DriverStatement:
    """UPDATE … RETURNING built once: a submit and every job end run one, with parameters.
    `guard`: the column that must hold at least what leaves it (the precondition)."""
    stmt = update(wallets).where(wallets.c.key_id == bindparam("w_key"))
    if guard is not None:
        stmt = stmt.where(guard >= bindparam("w_guard"))
    moving = stmt.values(
        balance_micros=wallets.c.balance_micros + bindparam("w_balance"),
        held_micros=wallets.c.held_micros + bindparam("w_held"),
        updated_at=bindparam("w_at"),
    ).returning(wallets.c.balance_micros, wallets.c.held_micros)
    return DriverStatement(moving)


Guard = Literal["balance", "held"]
_MOVES: dict[Guard | None, DriverStatement] = {
    None: _moving(None),
    "balance": _moving(wallets.c.balance_micros),
    "held": _moving(wallets.c.held_micros),
}


def _move(
    conn: Connection,
    key_id: str,
    at: datetime,
    *,
    balance_delta: int,
    held_delta: int,
    guard: Guard | None = None,
) -> WalletView | None:
    """Add the deltas; when `guard` names a column, only if what leaves it is there. None
    when no row changed."""
    values = {"w_key": key_id, "w_balance": balance_delta, "w_held": held_delta, "w_at": at}
    if guard is not None:
        values["w_guard"] = -(balance_delta if guard == "balance" else held_delta)
    row = _MOVES[guard].one_or_none(conn, values)
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
