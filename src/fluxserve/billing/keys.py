"""API keys and their wallets: issue, authenticate, disable, top up, inspect.

Only a SHA-256 of each key is stored. Keys are `fs_` + 32 random bytes, so a fast hash is
enough: there is nothing to brute-force, and lookups stay one indexed equality."""

from __future__ import annotations

import base64
import hashlib
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, insert, or_, select, update

from fluxserve.billing import ledger, wallet
from fluxserve.billing.account import AccountView, read_account
from fluxserve.billing.key_cache import KeyCache
from fluxserve.billing.ledger import LedgerEntry
from fluxserve.billing.wallet import WalletView
from fluxserve.db.clock import Clock, checked
from fluxserve.db.database import Database
from fluxserve.db.schema import api_keys
from fluxserve.errors import InvalidRequest, KeyDisabled, NotFound, Unauthorized
from fluxserve.settings import PRIORITY_LIMIT

__all__ = ["ApiKeyRecord", "KeyStore", "LedgerEntry", "WalletView"]

KEY_PREFIX = "fs_"
WEBHOOK_SECRET_PREFIX = "whsec_"  # the Standard Webhooks form: the prefix, then base64
_WEBHOOK_SECRET_BYTES = 24  # 192 bits, as the Standard Webhooks reference libraries make them
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
    priority: int = 0


def new_webhook_secret() -> str:
    """A fresh secret to sign a key's webhook deliveries with (`fluxserve.webhooks.standard`)."""
    random = secrets.token_bytes(_WEBHOOK_SECRET_BYTES)
    return WEBHOOK_SECRET_PREFIX + base64.b64encode(random).decode("ascii")


def hash_key(plain_key: str) -> str:
    """The stored form of a key."""
    return hashlib.sha256(plain_key.encode("utf-8")).hexdigest()


class KeyStore:
    """Keys and wallets in the database."""

    def __init__(self, db: Database, clock: Clock | None = None, cache_ttl_s: float = 0.0) -> None:
        self._db = db
        self._now = checked(clock)
        # Off by default (the CLI and tests see every change at once); an API process turns
        # it on, see key_cache.py for how long another process's disable may take.
        self._cache: KeyCache[ApiKeyRecord] = KeyCache(cache_ttl_s)

    def create(
        self,
        *,
        name: str = "",
        credit_micros: int = 0,
        is_operator: bool = False,
        priority: int = 0,
    ) -> tuple[ApiKeyRecord, str]:
        """Issue a key with a wallet holding `credit_micros`; the plain key is returned once.
        `priority` orders its jobs against other keys' (jobs/scheduling.py)."""
        if credit_micros < 0:
            raise InvalidRequest("Initial credit cannot be negative")
        _check_priority(priority)
        plain = KEY_PREFIX + secrets.token_urlsafe(32)
        record = ApiKeyRecord(
            id=f"key_{uuid.uuid4().hex}",
            name=name,
            prefix=plain[:_SHOWN_PREFIX_LEN],
            disabled=False,
            is_operator=is_operator,
            created_at=self._now(),
            priority=priority,
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
                    priority=priority,
                    webhook_secret=new_webhook_secret(),
                )
            )
            wallet.open_wallet(conn, record.id, record.created_at)
            if credit_micros > 0:
                wallet.topup(conn, record.id, credit_micros, record.created_at, "initial credit")
        return record, plain

    def authenticate(self, plain_key: str | None) -> ApiKeyRecord:
        """The key's record; Unauthorized when missing or unknown, KeyDisabled when disabled.

        One indexed lookup by the key's hash, skipped while the cache still holds the key."""
        cached = self.authenticate_cached(plain_key)
        if cached is not None:
            return cached
        assert plain_key  # authenticate_cached refused an empty one
        key_hash = hash_key(plain_key)
        with self._db.read() as conn:
            row = conn.execute(
                select(api_keys).where(api_keys.c.key_hash == key_hash)
            ).one_or_none()
        if row is None:
            raise Unauthorized("Invalid API key", title="Unauthorized")
        record = _record(row._mapping)
        self._cache.put(key_hash, record.id, record)
        return _usable(record)

    def authenticate_cached(self, plain_key: str | None) -> ApiKeyRecord | None:
        """Like `authenticate`, from the cache alone (no I/O, fine on the event loop); None
        when the key is not cached and the database must be asked."""
        if not plain_key:
            raise Unauthorized("Missing API key", title="Unauthorized")
        record = self._cache.get(hash_key(plain_key))
        return None if record is None else _usable(record)

    def resolve(self, key_or_id: str) -> ApiKeyRecord:
        """Find a key by its id (`key_…`) or by the plain key; NotFound otherwise."""
        with self._db.read() as conn:
            return _find(conn, key_or_id)

    def disable(self, key_or_id: str) -> ApiKeyRecord:
        """Disable a key for good; its wallet and ledger stay."""
        with self._db.write() as conn:
            record = _find(conn, key_or_id)
            conn.execute(update(api_keys).where(api_keys.c.id == record.id).values(disabled=True))
            disabled = _find(conn, record.id)
        self._cache.drop(record.id)
        return disabled

    def set_priority(self, key_or_id: str, priority: int) -> ApiKeyRecord:
        """Change a key's priority; it applies to the jobs it submits from now on."""
        _check_priority(priority)
        with self._db.write() as conn:
            record = _find(conn, key_or_id)
            conn.execute(
                update(api_keys).where(api_keys.c.id == record.id).values(priority=priority)
            )
            return _find(conn, record.id)

    def webhook_secret(self, key_or_id: str) -> str | None:
        """The `whsec_` secret that signs this key's webhook deliveries."""
        with self._db.read() as conn:
            key_id = _find(conn, key_or_id).id
            secret = conn.execute(
                select(api_keys.c.webhook_secret).where(api_keys.c.id == key_id)
            ).scalar_one()
        return None if secret is None else str(secret)

    def rotate_webhook_secret(self, key_or_id: str) -> str:
        """Replace a key's webhook secret; deliveries from now on are signed with the new one."""
        secret = new_webhook_secret()
        with self._db.write() as conn:
            record = _find(conn, key_or_id)
            conn.execute(
                update(api_keys).where(api_keys.c.id == record.id).values(webhook_secret=secret)
            )
        return secret

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

    def account(self, key_id: str, since: datetime, until: datetime, entries: int) -> AccountView:
        """The account view of a key: wallet, holds, usage in [since, until), ledger."""
        return read_account(self._db, key_id, since, until, entries)

    def ledger(self, key_or_id: str, limit: int = 100) -> list[LedgerEntry]:
        """A key's newest `limit` ledger entries, newest first."""
        with self._db.read() as conn:
            return ledger.recent(conn, _find(conn, key_or_id).id, limit)


def _check_priority(priority: int) -> None:
    if abs(priority) > PRIORITY_LIMIT:
        raise InvalidRequest(f"A key's priority must be within ±{PRIORITY_LIMIT}")


def _find(conn: Connection, key_or_id: str) -> ApiKeyRecord:
    row = conn.execute(
        select(api_keys).where(
            or_(api_keys.c.id == key_or_id, api_keys.c.key_hash == hash_key(key_or_id))
        )
    ).one_or_none()
    if row is None:
        raise NotFound("No such API key", title="Not found")
    return _record(row._mapping)


def _usable(record: ApiKeyRecord) -> ApiKeyRecord:
    if record.disabled:
        raise KeyDisabled("This API key is disabled", title="Forbidden")
    return record


def _record(row: Any) -> ApiKeyRecord:
    return ApiKeyRecord(
        id=str(row["id"]),
        name=str(row["name"]),
        prefix=str(row["prefix"]),
        disabled=bool(row["disabled"]),
        is_operator=bool(row["is_operator"]),
        created_at=row["created_at"],
        priority=int(row["priority"]),
    )
