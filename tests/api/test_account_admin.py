"""The account view (GET /v2/account) checked against the server's own database, and the
operators' admin API (keys, credit, jobs) over real HTTP."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from fluxserve.db.database import Database
from fluxserve.db.schema import ledger_entries, wallets
from fluxserve.money import usd_to_micros
from tests.api.conftest import OPERATOR_TOKEN, Api
from tests.support.client import poll
from tests.support.jobs import submit

FLUX_DEV = "/flux-dev/v1/dev/textToImage"  # $0.025 an image
SMALL = {"prompt": "a lighthouse", "image_size": "64x64", "num_inference_steps": 1}
OPERATOR = {"Authorization": f"Bearer {OPERATOR_TOKEN}"}


def admin(api: Api, method: str, path: str, **kw: Any) -> httpx.Response:
    return httpx.request(method, f"{api.url}/admin/v1{path}", headers=OPERATOR, timeout=30, **kw)


def new_key(api: Api, credit: str, name: str = "customer") -> dict[str, Any]:
    response = admin(api, "POST", "/keys", json={"name": name, "credit_usd": credit})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def account(api: Api, key: str, **params: str) -> dict[str, Any]:
    response = httpx.get(
        f"{api.url}/v2/account", headers=api.headers(key), params=params, timeout=30
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


@pytest.fixture
def server_db(api: Api) -> Iterator[Database]:
    db = Database.open(f"sqlite:///{api.server.data_dir / 'fluxserve.db'}")
    yield db
    db.close()


def _db_wallet_and_ledger(db: Database, key_id: str) -> tuple[Any, list[Any]]:
    with db.read() as conn:
        wallet = conn.execute(select(wallets).where(wallets.c.key_id == key_id)).one()
        entries = conn.execute(
            select(ledger_entries)
            .where(ledger_entries.c.key_id == key_id)
            .order_by(ledger_entries.c.id.desc())
        ).all()
    return wallet, entries


def test_v2_account_agrees_with_the_ledger(api: Api, server_db: Database) -> None:
    created = new_key(api, "1")
    key, key_id = created["key"], created["id"]
    done = [poll(api.url, submit(api.url, FLUX_DEV, key, SMALL), key) for _ in range(2)]
    assert [d["status"] for d in done] == ["COMPLETED", "COMPLETED"]
    submit(api.url, FLUX_DEV, key, SMALL)  # may still hold its price when the view is read

    view = account(api, key, entries="100")
    wallet, all_entries = _db_wallet_and_ledger(server_db, key_id)
    assert wallet.balance_micros + wallet.held_micros == sum(e.amount_micros for e in all_entries)
    # The third job may have moved on since the view was read: compare what it had seen.
    entries = [e for e in all_entries if e.id <= view["ledger"][0]["id"]]
    assert view["key_id"] == key_id
    # One snapshot: the holds listed are exactly what is held.
    assert sum(usd_to_micros(h["amount_usd"]) for h in view["holds"]) == usd_to_micros(
        view["held_usd"]
    )
    assert all(h["model_id"] == "flux-dev" and h["amount_usd"] == "0.025" for h in view["holds"])
    shown = [(e["id"], e["kind"], usd_to_micros(e["amount_usd"])) for e in view["ledger"]]
    stored = [(e.id, e.kind, e.amount_micros) for e in entries]
    assert shown == stored
    # The view's wallet is the state its newest entry left.
    newest = view["ledger"][0]
    assert usd_to_micros(view["balance_usd"]) == usd_to_micros(newest["balance_after_usd"])
    assert usd_to_micros(view["held_usd"]) == usd_to_micros(newest["held_after_usd"])
    assert usd_to_micros(view["balance_usd"]) + usd_to_micros(view["held_usd"]) == sum(
        e.amount_micros for e in entries
    )
    holds = [e for e in view["ledger"] if e["kind"] == "hold"]
    assert holds and all(e["held_change_usd"] == "0.025" for e in holds)

    usage = view["usage"]["models"]
    captures = [e for e in entries if e.kind == "capture"]
    assert [m["model_id"] for m in usage] == ["flux-dev"]
    assert usage[0]["requests"] == len(captures) >= 2
    assert usd_to_micros(usage[0]["charged_usd"]) == -sum(e.amount_micros for e in captures)
    assert view["usage"]["total_usd"] == usage[0]["charged_usd"]


def test_v2_account_usage_follows_the_period(api: Api) -> None:
    key = new_key(api, "1")["key"]
    assert poll(api.url, submit(api.url, FLUX_DEV, key, SMALL), key)["status"] == "COMPLETED"
    now = datetime.now(UTC)
    later = {
        "since": (now + timedelta(hours=1)).isoformat(),
        "until": (now + timedelta(hours=2)).isoformat(),
    }
    empty = account(api, key, **later)
    assert empty["usage"]["models"] == [] and empty["usage"]["total_usd"] == "0.00"
    around = account(api, key, since=(now - timedelta(hours=1)).isoformat())
    assert around["usage"]["models"][0]["charged_usd"] == "0.025"
    backwards = httpx.get(
        f"{api.url}/v2/account",
        headers=api.headers(key),
        params={**later, "since": "2100-01-01T00:00:00Z"},
        timeout=30,
    )
    assert backwards.status_code == 400 and "since" in backwards.json()["error"]


def test_v1_account_is_unchanged(api: Api) -> None:
    key = new_key(api, "0.025")["key"]
    body = httpx.get(f"{api.url}/v1/account", headers=api.headers(key), timeout=30).json()
    assert body == {
        "name": "customer",
        "key_prefix": key[:10],
        "balance_usd": "0.025",
        "held_usd": "0.00",
    }


def test_admin_api_needs_the_operator_token(api: Api) -> None:
    for headers in ({}, {"Authorization": "Bearer wrong"}, api.headers()):
        response = httpx.get(f"{api.url}/admin/v1/jobs", headers=headers, timeout=30)
        assert response.status_code == 401, response.text
        assert response.json()["error"] == "Unauthorized"


def test_admin_api_manages_keys_credit_and_jobs(api: Api) -> None:
    created = new_key(api, "0.025", name="via-admin")
    key, key_id = created["key"], created["id"]
    assert created["balance_usd"] == "0.025" and created["disabled"] is False
    assert "key" not in admin(api, "GET", f"/keys/{key_id}").json()

    topped = admin(api, "POST", f"/keys/{key_id}/top-up", json={"amount_usd": "0.000001"})
    assert topped.status_code == 200 and topped.json()["balance_usd"] == "0.025001"
    for bad in ("0", "-1", "0.0000001", "abc"):
        refused = admin(api, "POST", f"/keys/{key_id}/top-up", json={"amount_usd": bad})
        assert refused.status_code == 400, (bad, refused.text)

    request_id = submit(api.url, FLUX_DEV, key, SMALL)
    assert poll(api.url, request_id, key)["status"] == "COMPLETED"
    listed = admin(api, "GET", "/jobs", params={"key": key_id, "state": "COMPLETED"}).json()
    assert [j["request_id"] for j in listed["jobs"]] == [request_id]
    assert listed["jobs"][0]["price_usd"] == "0.025"
    assert admin(api, "GET", "/jobs", params={"key": key_id, "state": "QUEUED"}).json() == {
        "jobs": []
    }

    disabled = admin(api, "POST", f"/keys/{key_id}/disable")
    assert disabled.status_code == 200 and disabled.json()["disabled"] is True
    refused = httpx.get(f"{api.url}/v1/account", headers=api.headers(key), timeout=30)
    assert refused.status_code == 403
    missing = admin(api, "POST", "/keys/key_nope/top-up", json={"amount_usd": "1"})
    assert missing.status_code == 404 and "error" in missing.json()
