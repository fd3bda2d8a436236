"""The account view's numbers against the ledger, on SQLite and PostgreSQL: holds of the
unfinished jobs, charges per model within a period, and each entry's held change."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from fluxserve.billing.keys import KeyStore
from fluxserve.db.database import Database
from fluxserve.jobs.records import JobRecord
from fluxserve.jobs.store import JobStore

T0 = datetime(2026, 12, 1, 12, tzinfo=UTC)


def test_holds_usage_and_ledger_add_up(db: Database, keys: KeyStore) -> None:
    now = [T0]
    store = JobStore(db, clock=lambda: now[0])
    key, _ = keys.create(name="acct", credit_micros=1_000_000)

    def finished(request_id: str, model: str, price: int) -> JobRecord:
        store.create(
            request_id=request_id, model_id=model, key_id=key.id, spec={}, price_micros=price
        )
        [job] = store.claim("w", "n", 60, [model])
        done = store.complete(job, output_keys=[], media_type="image/png")
        assert done is not None
        return done

    finished("dev-1", "flux-dev", 25_000)
    now[0] = T0 + timedelta(hours=1)
    finished("dev-2", "flux-dev", 25_000)
    finished("pro-1", "flux-pro", 30_000)
    store.create(
        request_id="dev-3", model_id="flux-dev", key_id=key.id, spec={}, price_micros=25_000
    )

    view = keys.account(key.id, T0 + timedelta(minutes=30), T0 + timedelta(days=1), 100)
    assert view.wallet.balance_micros == 1_000_000 - 80_000 - 25_000
    assert view.wallet.held_micros == 25_000
    assert [(h.request_id, h.micros, h.state) for h in view.holds] == [("dev-3", 25_000, "QUEUED")]
    # dev-1 was charged before the period began.
    usage = {u.model_id: (u.requests, u.charged_micros) for u in view.usage}
    assert usage == {"flux-dev": (1, 25_000), "flux-pro": (1, 30_000)}
    assert sum(e.amount_micros for e in view.entries) == 1_000_000 - 80_000
    moves = [(e.kind, e.held_change_micros) for e in reversed(view.entries)]
    assert moves[:3] == [("topup", 0), ("hold", 25_000), ("capture", -25_000)]
    assert moves[-1] == ("hold", 25_000)

    # Fewer entries than there are: the oldest shown still knows its held change.
    last_two = keys.account(key.id, T0, T0 + timedelta(days=1), 2).entries
    assert [(e.kind, e.held_change_micros) for e in last_two] == [
        ("hold", 25_000),
        ("capture", -30_000),
    ]
