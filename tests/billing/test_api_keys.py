"""API keys: issued once, stored hashed, authenticated, disabled, resolved."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from fluxserve.billing.keys import KeyStore
from fluxserve.db.database import Database
from fluxserve.errors import KeyDisabled, NotFound, Unauthorized


def test_create_returns_the_plain_key_once_and_stores_only_its_hash(
    db: Database, keys: KeyStore, db_dir: Path
) -> None:
    record, plain = keys.create(name="alice", credit_micros=5_000_000, is_operator=True)
    other, other_plain = keys.create()
    db.close()

    assert re.fullmatch(r"key_[0-9a-f]{32}", record.id)
    assert plain.startswith("fs_") and len(plain) >= 3 + 43
    assert plain.startswith(record.prefix) and len(record.prefix) < len(plain) // 3
    assert (record.name, record.is_operator, record.disabled) == ("alice", True, False)
    assert other_plain != plain and other.id != record.id
    stored = b"".join(path.read_bytes() for path in db_dir.iterdir() if path.is_file())
    assert b"alice" in stored  # the files were read
    assert plain.encode() not in stored and other_plain.encode() not in stored


def test_authenticate(keys: KeyStore) -> None:
    record, plain = keys.create(name="bob")

    assert keys.authenticate(plain) == record
    for bad in (None, "", "fs_unknown", record.id):
        with pytest.raises(Unauthorized):
            keys.authenticate(bad)
    disabled = keys.disable(plain)
    assert disabled.disabled and disabled.id == record.id
    with pytest.raises(KeyDisabled):
        keys.authenticate(plain)


def test_resolve_by_id_or_plain_key(keys: KeyStore) -> None:
    record, plain = keys.create(name="carol")

    assert keys.resolve(record.id) == record
    assert keys.resolve(plain) == record
    with pytest.raises(NotFound):
        keys.resolve("key_0000")
    with pytest.raises(NotFound):
        keys.disable("fs_nope")
