"""A server's wallets and ledger read straight from its SQLite file, as an operator would."""

from __future__ import annotations

from pathlib import Path

from fluxserve.billing.keys import KeyStore
from fluxserve.billing.ledger import LedgerEntry
from fluxserve.billing.wallet import WalletView
from fluxserve.db.database import Database


def read_wallet(data_dir: Path, key: str) -> tuple[WalletView, list[LedgerEntry]]:
    """The key's wallet and its latest ledger entries (newest first)."""
    db = Database.open(f"sqlite:///{data_dir / 'fluxserve.db'}")
    try:
        keys = KeyStore(db)
        return keys.wallet(key), keys.ledger(key, limit=1000)
    finally:
        db.close()


def ledger_kinds(data_dir: Path, key: str, request_id: str) -> list[str]:
    """The kinds of the ledger entries of one request, oldest first."""
    _, entries = read_wallet(data_dir, key)
    return [e.kind for e in sorted(entries, key=lambda e: e.id) if e.request_id == request_id]
