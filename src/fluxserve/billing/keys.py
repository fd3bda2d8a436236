"""API keys and their wallets: issue, authenticate, disable, top up, inspect.

Only a SHA-256 of each key is stored. Keys are `fs_` + 32 random bytes, so a fast hash is
enough: there is nothing to brute-force, and lookups stay one indexed equality."""

from __future__ import annotations

import hashlib
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, insert, or_, select, update

from fluxserve.billing import ledger, wallet
from fluxserve.billing.ledger import LedgerEntry
from fluxserve.billing.wallet import WalletView
from fluxserve.db.clock import Clock, checked
from fluxserve.db.database import Database
from fluxserve.db.schema import api_keys
from fluxserve.errors import InvalidRequest, KeyDisabled, NotFound, Unauthorized

__all__ = ["ApiKeyRecord", "KeyStore", "LedgerEntry", "WalletView"]

KEY_PREFIX = "fs_"
_SHOWN_PREFIX_LEN = 10  # enough to tell keys apart in listings, far too little to guess one


@dataclass(frozen=True)
class ApiKeyRecord:
    """A key as stored (never the key itself). `prefix` is its first characters."""

    id: str
    name: str
    prefix: str
    disabled: bool
    is_operator: bool
    created_at: datetime


def hash_key(plain_key: str) -> str:
    """The stored form of a key."""
    return hashlib.sha256(plain_key.encode("utf-8")).hexdigest()


class KeyStore:
    """Keys and wallets in the database."""

    def __init__(self, db: Database, clock: Clock | None = None) -> None:
        self._db = db
        self._now = checked(clock)

    def create(
        self, *, name: str = "", credit_micros: int = 0, is_operator: bool = False
    ) -> tuple[ApiKeyRecord, str]:
        """Issue a key with a wallet holding `credit_micros`; the plain key is returned once."""
        if credit_micros < 0:
            raise InvalidRequest("Initial credit cannot be negative")
        plain = KEY_PREFIX + secrets.token_urlsafe(32)
        record = ApiKeyRecord(
            id=f"key_{uuid.uuid4().hex}",
            name=name,
            prefix=plain[:_SHOWN_PREFIX_LEN],
            disabled=False,
            is_operator=is_operator,
            created_at=self._now(),
        )
        with self._db.write() as conn:
            conn.execute(
                insert(api_keys).values(
                    id=record.id,
                    name=record.name,
                    prefix=record.prefix,
                    key_hash=hash_key(plain),
                    disabled=False,
                    is_operator=is_operator,
                    created_at=record.created_at,
                )
            )
            wallet.open_wallet(conn, record.id, record.created_at)
            if credit_micros > 0:
                wallet.topup(conn, record.id, credit_micros, record.created_at, "initial credit")
        return record, plain

    def authenticate(self, plain_key: str | None) -> ApiKeyRecord:
        """The key's record; Unauthorized when missing or unknown, KeyDisabled when disabled."""
        if not plain_key:
            raise Unauthorized("Missing API key", title="Unauthorized")
        with self._db.read() as conn:
            row = conn.execute(
                select(api_keys).where(api_keys.c.key_hash == hash_key(plain_key))
            ).one_or_none()
        if row is None:
            raise Unauthorized("Invalid API key", title="Unauthorized")
        record = _record(row._mapping)
        if record.disabled:
            raise KeyDisabled("This API key is disabled", title="Forbidden")
        return record

    def resolve(self, key_or_id: str) -> ApiKeyRecord:
        """Find a key by its id (`key_…`) or by the plain key; NotFound otherwise."""
        with self._db.read() as conn:
            return _find(conn, key_or_id)

    def disable(self, key_or_id: str) -> ApiKeyRecord:
        """Disable a key for good; its wallet and ledger stay."""
        with self._db.write() as conn:
            record = _find(conn, key_or_id)
            conn.execute(update(api_keys).where(api_keys.c.id == record.id).values(disabled=True))
            return _find(conn, record.id)

    def topup(self, key_or_id: str, micros: int, note: str | None = None) -> WalletView:
        """Add `micros` (> 0) to a key's balance, with a `topup` ledger entry."""
        if micros <= 0:
            raise InvalidRequest("A top-up must be a positive amount")
        with self._db.write() as conn:
            record = _find(conn, key_or_id)
            return wallet.topup(conn, record.id, micros, self._now(), note)

    def wallet(self, key_or_id: str) -> WalletView:
        """A key's balance and held amounts."""
        with self._db.read() as conn:
            return wallet.read(conn, _find(conn, key_or_id).id)

    def ledger(self, key_or_id: str, limit: int = 100) -> list[LedgerEntry]:
        """A key's newest `limit` ledger entries, newest first."""
        with self._db.read() as conn:
            return ledger.recent(conn, _find(conn, key_or_id).id, limit)


def _find(conn: Connection, key_or_id: str) -> ApiKeyRecord:
    row = conn.execute(
        select(api_keys).where(
            or_(api_keys.c.id == key_or_id, api_keys.c.key_hash == hash_key(key_or_id))
        )
    ).one_or_none()
    if row is None:
        raise NotFound("No such API key", title="Not found")
    return _record(row._mapping)


def _record(row: Any) -> ApiKeyRecord:
    return ApiKeyRecord(
        id=str(row["id"]),
        name=str(row["name"]),
        prefix=str(row["prefix"]),
        disabled=bool(row["disabled"]),
        is_operator=bool(row["is_operator"]),
        created_at=row["created_at"],
    )
