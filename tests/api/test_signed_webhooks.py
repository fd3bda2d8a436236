"""Webhooks customers can trust, over real HTTP to a real receiver: every delivery is signed with
the key's own `whsec_` secret in the Standard Webhooks form (checked with the official
`standardwebhooks` package), the secret rotates from the CLI, each request has a delivery log
(every try, its status code and time) for its owner only, and a finished request's webhook can
be sent again. Kontext's body `webhook` gets the same checks as the `X-Webhook-URL` header."""

from __future__ import annotations

import json
import uuid
from typing import Any

import httpx
import pytest
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from tests.api.conftest import Api
from tests.support.client import as_files, poll
from tests.support.jobs import submit
from tests.support.servers import (
    Received,
    WebhookReceiver,
    create_key,
    create_key_and_secret,
    run_cli,
)

FLUX_PRO = "/flux-pro/v1/pro/textToImage"
KONTEXT = "/flux-kontext-restore-image/v1/flux-kontext-restore-image/generate"


def _verified(secret: str, delivery: Received) -> Any:
    """The body, once `standardwebhooks` has checked its signature (raises otherwise)."""
    return Webhook(secret).verify(delivery.body, delivery.headers)


def _log(api: Api, request_id: str, key: str) -> httpx.Response:
    url = f"{api.url}/v2/requests/{request_id}/webhooks"
    return httpx.get(url, headers={"Ocp-Apim-Subscription-Key": key}, timeout=30)


def _replay(api: Api, request_id: str, key: str) -> httpx.Response:
    url = f"{api.url}/v2/requests/{request_id}/webhooks/replay"
    return httpx.post(url, headers={"Ocp-Apim-Subscription-Key": key}, timeout=30)


def _submit_with_hook(api: Api, key: str, hook: str) -> str:
    body = {"prompt": "a paper boat", "width": 64, "height": 64}
    return submit(api.url, FLUX_PRO, key, body, headers={"X-Webhook-URL": hook})


def test_deliveries_verify_with_standardwebhooks_and_are_logged(
    api: Api, receiver: WebhookReceiver
) -> None:
    key, secret = create_key_and_secret(api.server.data_dir, credit="5", name="signed")
    assert secret.startswith("whsec_")
    path = f"/signed-{uuid.uuid4().hex}"
    receiver.answer_next(path, 503)  # the first try fails: the log shows both
    request_id = _submit_with_hook(api, key, receiver.url(path))
    failed, delivered = receiver.wait_for_count(path, 2)
    final = poll(api.url, request_id, key)
    for delivery in (failed, delivered):
        assert as_files(_verified(secret, delivery)) == as_files(final)
    # One delivery, retried: the same webhook-id on both tries; the old header is still there.
    assert failed.headers["webhook-id"] == delivered.headers["webhook-id"]
    assert delivered.headers["X-Fluxserve-Event"] == "completed"
    with pytest.raises(WebhookVerificationError):
        _verified(create_key_and_secret(api.server.data_dir, name="other")[1], delivered)

    log = _log(api, request_id, key)
    assert log.status_code == 200, log.text
    (entry,) = log.json()["deliveries"]
    assert entry["id"] == delivered.headers["webhook-id"]
    assert (entry["url"], entry["event"], entry["status"]) == (
        receiver.url(path),
        "completed",
        "delivered",
    )
    assert [a["status_code"] for a in entry["attempts"]] == [503, 200]
    assert entry["attempts"][0]["error"] == "receiver answered HTTP 503"
    assert entry["attempts"][0]["at"] <= entry["attempts"][1]["at"] == entry["finished_at"]
    # Only the owner sees it, as if the request did not exist for anyone else.
    assert _log(api, request_id, api.key).status_code == 404
    assert _replay(api, request_id, api.key).status_code == 404


def test_rotated_secret_signs_a_replayed_delivery(api: Api, receiver: WebhookReceiver) -> None:
    key, old_secret = create_key_and_secret(api.server.data_dir, credit="5", name="rotating")
    path = f"/rotate-{uuid.uuid4().hex}"
    request_id = _submit_with_hook(api, key, receiver.url(path))
    first = receiver.wait_for(path)
    _verified(old_secret, first)

    out = run_cli("keys", "rotate-webhook-secret", key, data_dir=api.server.data_dir)
    new_secret = out.strip().splitlines()[-1]
    assert new_secret.startswith("whsec_") and new_secret != old_secret
    replay = _replay(api, request_id, key)
    assert replay.status_code == 202, replay.text
    assert replay.json()["request_id"] == request_id
    _, again = receiver.wait_for_count(path, 2)
    assert (
        again.headers["webhook-id"] == replay.json()["delivery_id"] != first.headers["webhook-id"]
    )
    # The same body, its output links signed afresh for the replay.
    assert as_files(json.loads(again.body)) == as_files(json.loads(first.body))
    _verified(new_secret, again)
    with pytest.raises(WebhookVerificationError):
        _verified(old_secret, again)
    deliveries = _log(api, request_id, key).json()["deliveries"]
    assert [d["status"] for d in deliveries] == ["delivered", "delivered"]


def test_replay_needs_a_finished_request_with_a_webhook(api: Api) -> None:
    key = create_key(api.server.data_dir, credit="5", name="no-hook")
    request_id = submit(api.url, FLUX_PRO, key, {"prompt": "a kite", "width": 64, "height": 64})
    poll(api.url, request_id, key)
    refused = _replay(api, request_id, key)
    assert refused.status_code == 409
    assert refused.json() == {"error": "This request was made without a webhook URL"}
    assert _log(api, request_id, key).json() == {
        "request_id": request_id,
        "webhook_url": None,
        "deliveries": [],
    }


@pytest.mark.parametrize("bad", ["http://", "ftp://example.com/h", "http://exa mple.com/h"])
def test_kontext_body_webhook_is_checked_like_the_header(api: Api, bad: str) -> None:
    headers = {"Ocp-Apim-Subscription-Key": api.key}
    body = {"input_image": "https://example.com/in.png", "webhook": bad}
    from_body = httpx.post(f"{api.url}{KONTEXT}", headers=headers, json=body, timeout=30)
    body.pop("webhook")
    from_header = httpx.post(
        f"{api.url}{KONTEXT}", headers={**headers, "X-Webhook-URL": bad}, json=body, timeout=30
    )
    assert from_header.status_code == 400
    assert from_body.status_code == 400, from_body.text
    assert from_body.json() == from_header.json() == {"error": "Invalid webhook URL"}
