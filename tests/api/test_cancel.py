"""Cancel over real HTTP against a real server: a QUEUED job ends at once, a PROCESSING one
stops its engine at the next denoising step; neither is charged, both send the CANCELLED
webhook to a real receiver, and the live event stream follows it all to the end. An ended job
answers 409 with its state; someone else's 404. The SDK's `cancel` works too."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from fluxserve.client import Client, ConflictError, RequestCancelled
from tests.api.conftest import write_config
from tests.support.client import poll
from tests.support.jobs import status, submit
from tests.support.ledger import ledger_kinds, read_wallet
from tests.support.servers import FluxServer, WebhookReceiver, create_key
from tests.support.sse import Event, events, events_url

FLUX_DEV = "/flux-dev/v1/dev/textToImage"
CREDIT = 1_000_000
LONG_STEPS = 60  # 1024² on demo weights: long enough to be cancelled mid-way
LONG = {"prompt": "a harbour", "image_size": "square_hd", "num_inference_steps": LONG_STEPS}
SMALL = {"prompt": "a kite", "image_size": "square", "num_inference_steps": 2}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, demo_cache_dir: Path) -> Iterator[FluxServer]:
    data_dir = tmp_path_factory.mktemp("cancel")
    config = write_config(data_dir / "config.toml", demo_cache_dir, workers=1)
    running = FluxServer(data_dir, config=config).start()
    yield running
    running.stop()


def _cancel(server: FluxServer, request_id: str, key: str) -> httpx.Response:
    return httpx.post(
        f"{server.url}/v2/requests/{request_id}/cancel",
        headers={"Ocp-Apim-Subscription-Key": key},
        timeout=30,
    )


def _until(stream: Iterator[Event], kind: str) -> Event:
    for event in stream:
        if event.event == kind:
            return event
    raise AssertionError(f"the stream ended without a {kind} event")


def _steps_run(server: FluxServer) -> float:
    """Denoising steps the server's engine has run, by its own metrics."""
    text = httpx.get(f"{server.url}/metrics", timeout=30).text
    counts = re.findall(r"^fluxserve_engine_step_seconds_count\{[^}]*\} (\S+)$", text, re.M)
    return sum(float(count) for count in counts)


def test_cancel_queued_and_running_jobs(server: FluxServer, receiver: WebhookReceiver) -> None:
    key = create_key(server.data_dir, credit="1", name="cancel")
    hooks = {name: f"/cancel-{name}-{uuid.uuid4().hex}" for name in ("running", "queued")}
    running = submit(
        server.url, FLUX_DEV, key, LONG, headers={"X-Webhook-URL": receiver.url(hooks["running"])}
    )
    stream = events(events_url(server.url, running), key)
    _until(stream, "progress")  # the engine is stepping
    queued = submit(
        server.url, FLUX_DEV, key, SMALL, headers={"X-Webhook-URL": receiver.url(hooks["queued"])}
    )
    waiting = status(server.url, queued, key)
    assert waiting["status"] == "QUEUED" and waiting["queue_position"] == 0
    assert "eta_s" in waiting

    # QUEUED: cancelled at once.
    answer = _cancel(server, queued, key)
    assert answer.status_code == 200, answer.text
    assert answer.json()["status"] == "CANCELLED" and answer.json()["output"] is None
    # PROCESSING: CANCELLED now; the engine stops at its next step.
    answer = _cancel(server, running, key)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["status"] == "CANCELLED" and body["completed_at"] is not None
    assert body["progress"]["step"] < body["progress"]["total"] == LONG_STEPS

    last = _until(stream, "status")
    assert last.data["status"] == "CANCELLED" and last.id == "CANCELLED"
    assert list(stream) == []  # the stream ends after the terminal event

    for name, request_id in (("running", running), ("queued", queued)):
        delivered = receiver.wait_for(hooks[name])
        assert delivered.json()["status"] == "CANCELLED"
        assert delivered.json()["request_id"] == request_id
        assert delivered.headers["X-Fluxserve-Event"] == "cancelled"
        assert ledger_kinds(server.data_dir, key, request_id) == ["hold", "release"]
    wallet, _ = read_wallet(server.data_dir, key)
    assert (wallet.balance_micros, wallet.held_micros) == (CREDIT, 0)

    # The next job runs on the same engine once the cancelled call has returned: by then the
    # engine had run only part of the cancelled job's steps.
    after = poll(server.url, submit(server.url, FLUX_DEV, key, SMALL), key)
    assert after["status"] == "COMPLETED", after
    cancelled_steps = _steps_run(server) - SMALL["num_inference_steps"]
    assert 1 <= cancelled_steps < LONG_STEPS
    assert not (server.data_dir / "media" / "outputs" / running).exists()

    # Ended jobs: 409 naming the state, in the API's error format.
    for request_id, state in ((running, "CANCELLED"), (after["request_id"], "COMPLETED")):
        again = _cancel(server, request_id, key)
        assert again.status_code == 409, again.text
        assert again.json()["error"] == "Conflict" and again.json()["status"] == state
        assert state in again.json()["message"]


def test_someone_elses_job_cannot_be_cancelled(server: FluxServer) -> None:
    owner = create_key(server.data_dir, credit="1", name="owner")
    other = create_key(server.data_dir, credit="1", name="other")
    request_id = submit(server.url, FLUX_DEV, owner, SMALL)

    for rid in (request_id, "no-such-request"):
        answer = _cancel(server, rid, other)
        assert answer.status_code == 404
        assert answer.json() == {"error": f"Request '{rid}' not found"}
    assert _cancel(server, request_id, "fs_not_a_key").status_code == 401
    assert poll(server.url, request_id, owner)["status"] == "COMPLETED"


def test_sdk_cancel(server: FluxServer) -> None:
    key = create_key(server.data_dir, credit="1", name="sdk")
    with Client(key, server.url) as client:
        submitted = client.submit("flux-dev", **LONG)
        assert submitted.request_id is not None
        cancelled = client.cancel(submitted.request_id)
        assert cancelled.status == "CANCELLED" and cancelled.done
        with pytest.raises(RequestCancelled):
            client.wait(submitted.request_id)
        with pytest.raises(ConflictError) as raised:
            client.cancel(submitted.request_id)
    assert raised.value.status_code == 409
    wallet, _ = read_wallet(server.data_dir, key)
    assert (wallet.balance_micros, wallet.held_micros) == (CREDIT, 0)
