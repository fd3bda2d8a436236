"""The `X-Webhook-URL` header on async endpoints, over real HTTP to a real receiver: the body
POSTed is the status body, for completed and for failed requests alike; a bad URL is refused
at the door."""

from __future__ import annotations

import uuid

import httpx

from tests.api.conftest import Api
from tests.support.client import as_files, poll
from tests.support.jobs import status, submit
from tests.support.ledger import read_wallet
from tests.support.servers import WebhookReceiver, create_key

FLUX_PRO = "/flux-pro/v1/pro/textToImage"


def _hook_path() -> str:
    return f"/hook-{uuid.uuid4().hex}"


def test_completed_job_posts_its_status_body(api: Api, receiver: WebhookReceiver) -> None:
    path = _hook_path()
    rid = submit(
        api.url,
        FLUX_PRO,
        api.key,
        {"prompt": "a red kite over a beach", "image_size": "square"},
        headers={"X-Webhook-URL": receiver.url(path)},
    )
    delivered = receiver.wait_for(path)
    final = status(api.url, rid, api.key)
    assert final["status"] == "COMPLETED"
    # The owner's status read adds `provenance` and `expires_at`, and signs its media URLs
    # afresh; the webhook body is exactly the spec's, with URLs to the same files.
    assert "expires_at" not in delivered.json()
    assert as_files(delivered.json()) == as_files(final)
    assert delivered.headers["X-Fluxserve-Event"] == "completed"
    assert delivered.headers["Content-Type"].startswith("application/json")
    image = httpx.get(final["output"]["media_url"][0], timeout=30)
    assert image.status_code == 200 and image.headers["content-type"] == "image/jpeg"
    assert [r.path for r in receiver.received].count(path) == 1


def test_failed_job_posts_its_status_body_too(api: Api, receiver: WebhookReceiver) -> None:
    path = _hook_path()
    rid = submit(
        api.url,
        FLUX_PRO,
        api.key,
        {"prompt": "hentai poster", "image_size": "square"},
        headers={"X-Webhook-URL": receiver.url(path)},
    )
    delivered = receiver.wait_for(path)
    final = poll(api.url, rid, api.key)
    assert final["status"] == "FAILED"
    assert final["error"] == "Prompt rejected by the content safety filter: explicit sexual content"
    # The owner's status read adds `provenance` and `expires_at`, and signs its media URLs
    # afresh; the webhook body is exactly the spec's, with URLs to the same files.
    assert "expires_at" not in delivered.json()
    assert as_files(delivered.json()) == as_files(final)
    assert delivered.headers["X-Fluxserve-Event"] == "failed"


def test_invalid_webhook_url_is_400_and_nothing_is_held(api: Api) -> None:
    key = create_key(api.server.data_dir, credit="1", name="bad-hook")
    for bad in ("ftp://x", "not a url", "http://"):
        response = httpx.post(
            f"{api.url}{FLUX_PRO}",
            headers={**api.headers(key), "X-Webhook-URL": bad},
            json={"prompt": "a red kite"},
            timeout=30,
        )
        assert response.status_code == 400, (bad, response.text)
        assert response.json() == {"error": "Invalid webhook URL"}
    wallet, entries = read_wallet(api.server.data_dir, key)
    assert (wallet.balance_micros, wallet.held_micros) == (1_000_000, 0)
    assert [e.kind for e in entries] == ["topup"]
