"""The API's key cache: most requests authenticate without the database; a disable through the
same store takes effect at once, one through another process within the cache's TTL."""

from __future__ import annotations

import pytest

from fluxserve.billing.key_cache import KeyCache
from fluxserve.billing.keys import KeyStore
from fluxserve.db.database import Database
from fluxserve.errors import KeyDisabled, Unauthorized


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_entries_expire_after_the_ttl_and_the_cache_stays_bounded() -> None:
    clock = FakeClock()
    cache: KeyCache[str] = KeyCache(5.0, max_entries=2, clock=clock)
    cache.put("h1", "key_1", "one")
    clock.now += 4.9
    assert cache.get("h1") == "one"
    clock.now += 0.2
    assert cache.get("h1") is None
    for n in range(5):
        cache.put(f"h{n}", f"key_{n}", str(n))
    assert sum(cache.get(f"h{n}") is not None for n in range(5)) <= 2


def test_a_zero_ttl_caches_nothing() -> None:
    cache: KeyCache[str] = KeyCache(0)
    cache.put("h", "key", "record")
    assert cache.get("h") is None


def test_cached_lookups_skip_the_database_until_disabled(db: Database) -> None:
    api = KeyStore(db, cache_ttl_s=60)
    record, plain = api.create(name="cached")
    assert api.authenticate_cached(plain) is None  # not looked up yet
    assert api.authenticate(plain) == record
    assert api.authenticate_cached(plain) == record

    # Another process (here: another store on the same database) disables it: this process
    # keeps trusting its entry, for at most the TTL...
    KeyStore(db).disable(record.id)
    assert api.authenticate_cached(plain) == record
    # ...while a disable through this store drops it at once.
    api.disable(record.id)
    assert api.authenticate_cached(plain) is None
    with pytest.raises(KeyDisabled):
        api.authenticate(plain)
    with pytest.raises(KeyDisabled):  # the disabled record is cached too, still refused
        api.authenticate_cached(plain)


def test_unknown_and_missing_keys_are_never_cached(db: Database) -> None:
    api = KeyStore(db, cache_ttl_s=60)
    with pytest.raises(Unauthorized):
        api.authenticate("fs_unknown")
    assert api.authenticate_cached("fs_unknown") is None
    with pytest.raises(Unauthorized):
        api.authenticate_cached("")
