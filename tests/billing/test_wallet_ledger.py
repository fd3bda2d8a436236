"""Wallet top-ups and the append-only ledger that explains every balance."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from fluxserve.billing.keys import KeyStore
from fluxserve.db.database import Database
from fluxserve.errors import InvalidRequest, NotFound


def test_initial_credit_and_topups_are_ledgered(keys: KeyStore) -> None:
    record, plain = keys.create(credit_micros=1_000_000)

    after = keys.topup(plain, 250_000, note="invoice 7")

    assert (after.key_id, after.balance_micros, after.held_micros) == (record.id, 1_250_000, 0)
    assert keys.wallet(record.id) == after
    newest, first = keys.ledger(record.id)
    assert (first.kind, first.amount_micros, first.note) == ("topup", 1_000_000, "initial credit")
    assert (newest.kind, newest.amount_micros, newest.note) == ("topup", 250_000, "invoice 7")
    assert newest.balance_after_micros == 1_250_000 and newest.held_after_micros == 0
    assert newest.id > first.id and newest.created_at >= first.created_at
    assert newest.created_at.tzinfo is not None


def test_key_without_credit_has_an_empty_wallet_and_ledger(keys: KeyStore) -> None:
    record, _ = keys.create()

    assert keys.wallet(record.id).balance_micros == 0
    assert keys.ledger(record.id) == []


@pytest.mark.parametrize("micros", [0, -5])
def test_topup_must_be_positive(keys: KeyStore, micros: int) -> None:
    record, _ = keys.create(credit_micros=10)
    with pytest.raises(InvalidRequest):
        keys.topup(record.id, micros)
    assert keys.wallet(record.id).balance_micros == 10


def test_unknown_key_has_no_wallet(keys: KeyStore) -> None:
    with pytest.raises(NotFound):
        keys.wallet("key_missing")
    with pytest.raises(NotFound):
        keys.topup("key_missing", 5)


def test_concurrent_topups_all_land_and_reconcile(keys: KeyStore) -> None:
    record, _ = keys.create()

    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(lambda n: keys.topup(record.id, 1_000 + n), range(40)))

    entries = keys.ledger(record.id, limit=1_000)
    wallet = keys.wallet(record.id)
    assert len(entries) == 40
    assert wallet.balance_micros == sum(1_000 + n for n in range(40))
    assert sum(e.amount_micros for e in entries) == wallet.balance_micros + wallet.held_micros
    running = 0
    for entry in reversed(entries):  # oldest first: each entry continues the one before
        running += entry.amount_micros
        assert entry.balance_after_micros == running
    assert len(keys.ledger(record.id, limit=5)) == 5


def test_database_refuses_a_negative_balance(db: Database, keys: KeyStore) -> None:
    record, _ = keys.create(credit_micros=100)
    with pytest.raises(IntegrityError, match="CHECK constraint failed"), db.write() as conn:
        conn.execute(
            text("UPDATE wallets SET balance_micros = balance_micros - 101 WHERE key_id = :k"),
            {"k": record.id},
        )
    assert keys.wallet(record.id).balance_micros == 100
