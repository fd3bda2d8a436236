"""Live events (`GET /v2/requests/{id}/events`, Server-Sent Events) read by a real HTTP client
(httpx streaming): on one node, and across an API node (`serve --no-workers`) and a worker node
on PostgreSQL, where the stream is driven by the database and the cross-node wake-ups. One
event per change of state, queue position and recorded progress step; the stream ends after
the terminal state; `Last-Event-ID` resumes. A cancel on the API node stops the worker node's
engine."""

from __future__ import annotations

from collections.abc import Iterator
from itertools import pairwise
from pathlib import Path

import httpx
import pytest

from fluxserve.billing.keys import KeyStore
from fluxserve.db.database import Database
from tests.api.conftest import Api, write_config
from tests.support.cluster import start_worker
from tests.support.jobs import submit
from tests.support.servers import FluxServer, run_cli
from tests.support.sse import Event, events, events_url

FLUX_DEV = "/flux-dev/v1/dev/textToImage"
ORDER = {"QUEUED": 0, "PROCESSING": 1, "COMPLETED": 2, "CANCELLED": 2}


def _check_stream(seen: list[Event], end: str) -> None:
    """Each event names a change: a new state, a smaller queue position or a later step."""
    assert seen and seen[-1].data["status"] == end and seen[-1].id == end
    assert seen[0].event == "status"
    ids = [event.id for event in seen]
    assert len(set(ids)) == len(ids), ids
    states = [event.data["status"] for event in seen]
    assert states == sorted(states, key=ORDER.__getitem__), states
    for before, after in pairwise(seen):
        if before.data["status"] != after.data["status"]:
            assert after.event == "status"
        if after.event == "position":
            assert after.data["queue_position"] < before.data["queue_position"]
        if after.event == "progress":
            earlier = (before.data.get("progress") or {"step": 0})["step"]
            assert after.data["progress"]["step"] > earlier
    for event in seen:
        if event.data["status"] == "QUEUED":
            assert isinstance(event.data["queue_position"], int) and "eta_s" in event.data
        if event.data["status"] == "PROCESSING":
            assert "eta_s" in event.data


def test_events_on_one_node_and_resume(api: Api) -> None:
    body = {"prompt": "a lantern", "image_size": "square_hd", "num_inference_steps": 8}
    rid = submit(api.url, FLUX_DEV, api.key, body)

    seen = list(events(events_url(api.url, rid), api.key))

    _check_stream(seen, "COMPLETED")
    assert any(event.event == "progress" for event in seen)
    assert seen[-1].data["output"]["media_url"]
    # Resuming: only what changed since the event named.
    resumed = list(events(events_url(api.url, rid), api.key, last_event_id=seen[0].id))
    assert [event.id for event in resumed] == ["COMPLETED"]
    assert list(events(events_url(api.url, rid), api.key, last_event_id="COMPLETED")) == []


def test_events_are_the_owners_only(api: Api) -> None:
    rid = submit(api.url, FLUX_DEV, api.key, {"prompt": "a lantern", "image_size": "square"})
    other = run_cli("keys", "create", "--credit", "1", data_dir=api.server.data_dir).split()[-1]
    for key, code in ((other, 404), ("fs_not_a_key", 401)):
        answer = httpx.get(
            events_url(api.url, rid), headers={"Ocp-Apim-Subscription-Key": key}, timeout=30
        )
        assert answer.status_code == code, answer.text


@pytest.fixture
def cluster(
    tmp_path: Path, demo_cache_dir: Path, postgres_url: str
) -> Iterator[tuple[FluxServer, str, Path]]:
    config = write_config(tmp_path / "config.toml", demo_cache_dir, workers=1)
    # One job per claim: the job behind is seen moving up when the one ahead is claimed.
    config.write_text(config.read_text() + "[engine]\nmax_batch = 1\n")
    env = {"FLUXSERVE_DATABASE_URL": postgres_url}
    key = run_cli("keys", "create", "--credit", "1", data_dir=tmp_path, env=env).splitlines()[-1]
    api = FluxServer(
        tmp_path, config=config, extra_args=("--no-workers", "--database-url", postgres_url)
    ).start()
    worker = start_worker(tmp_path, config, postgres_url, api.url, "flux-dev")
    try:
        yield api, key, tmp_path / "worker.log"
    finally:
        worker.terminate()
        worker.wait(30)
        api.stop()


@pytest.mark.postgres
def test_events_and_cancel_across_an_api_node_and_a_worker_node(
    cluster: tuple[FluxServer, str, Path], postgres_url: str
) -> None:
    api, key, worker_log = cluster
    ahead = submit(api.url, FLUX_DEV, key, {"prompt": "a lantern", "image_size": "square_hd"})
    rid = submit(api.url, FLUX_DEV, key, {"prompt": "a kite", "image_size": "square"})

    seen = list(events(events_url(api.url, rid), key))

    _check_stream(seen, "COMPLETED")
    if seen[0].data["status"] == "QUEUED" and seen[0].data["queue_position"] == 1:
        # The job ahead was claimed on the worker node: this one moved up before it ran.
        assert [e.data["queue_position"] for e in seen if e.event == "position"] == [0]
    assert [e.id for e in events(events_url(api.url, rid), key, seen[0].id)] == ["COMPLETED"]
    assert httpx.get(
        f"{api.url}/v2/requests/status/{ahead}",
        headers={"Ocp-Apim-Subscription-Key": key},
        timeout=30,
    ).json()["status"] in ("PROCESSING", "COMPLETED")

    # Cancel on the API node; the worker node hears it and its engine stops.
    long = {"prompt": "a harbour", "image_size": "square_hd", "num_inference_steps": 60}
    victim = submit(api.url, FLUX_DEV, key, long)
    stream = events(events_url(api.url, victim), key)
    for event in stream:
        if event.event == "progress":
            break
    cancel = httpx.post(
        f"{api.url}/v2/requests/{victim}/cancel",
        headers={"Ocp-Apim-Subscription-Key": key},
        timeout=30,
    )
    assert cancel.status_code == 200 and cancel.json()["status"] == "CANCELLED"
    assert [event.id for event in stream] == ["CANCELLED"]
    after = submit(api.url, FLUX_DEV, key, {"prompt": "a kite", "image_size": "square"})
    assert list(events(events_url(api.url, after), key))[-1].id == "COMPLETED"
    # The worker ran the next job only once the cancelled call had returned, early.
    assert f"{victim}: stopped: cancelled after denoising step" in worker_log.read_text()
    db = Database.open(postgres_url)
    try:
        entries = KeyStore(db).ledger(key, limit=100)
    finally:
        db.close()
    assert sorted(e.kind for e in entries if e.request_id == victim) == ["hold", "release"]
