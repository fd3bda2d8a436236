"""Sync timeouts are fair, over real HTTP: when a sync route gives up (504), a job that has not
started is cancelled and released, and one already running finishes and is charged; the 504
body says which, with the polling URL.

Nothing here races a clock: the server has two workers and one engine, and long "blocker" jobs
(far longer than the sync timeout on any machine) hold the engine until the test cancels them.
A sync job claimed by a worker waits for the engine: it has started, and cannot end before the
test lets it. One that finds both workers busy stays queued."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.api.conftest import write_config
from tests.support.client import poll
from tests.support.jobs import submit, wait_until
from tests.support.ledger import ledger_kinds, read_wallet
from tests.support.servers import FluxServer, create_key
from tests.support.sse import events, events_url

SYNC_TIMEOUT_S = 3
KLEIN = "/flux-2-klein-4b/v1/generateImage"
FLUX_DEV = "/flux-dev/v1/dev/textToImage"
CREDIT = 1_000_000
BLOCKER_SIDE = 2048


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, demo_cache_dir: Path) -> Iterator[FluxServer]:
    data_dir = tmp_path_factory.mktemp("sync-timeout")
    config = write_config(
        data_dir / "config.toml", demo_cache_dir, workers=2, sync_timeout_s=SYNC_TIMEOUT_S
    )
    running = FluxServer(data_dir, config=config).start()
    yield running
    running.stop()


def _headers(key: str) -> dict[str, str]:
    return {"Ocp-Apim-Subscription-Key": key}


def _sync(server: FluxServer, key: str, size: int = 512, steps: int = 2) -> httpx.Response:
    body = {"prompt": "a lighthouse", "width": size, "height": size, "steps": steps, "seed": 1}
    return httpx.post(f"{server.url}{KLEIN}", headers=_headers(key), json=body, timeout=120)


def _running_blocker(server: FluxServer, key: str) -> str:
    """A job that holds the engine for minutes on any CPU (4 MP, 100 steps), once it steps.
    Sent to the sync route, it answers 504 itself, which names it."""
    answer = _sync(server, key, BLOCKER_SIDE, 100)
    assert answer.status_code == 504, answer.text
    blocker = str(answer.json()["request_id"])
    for event in events(events_url(server.url, blocker), key):
        if event.event == "progress":
            return blocker
    raise AssertionError(f"{blocker} ended before it ran")


def _waiting_blocker(server: FluxServer, key: str) -> str:
    """A job claimed by the other worker, where it waits for the engine."""
    blocker = submit(server.url, FLUX_DEV, key, {"prompt": "a harbour"})
    wait_until(server.url, blocker, key, lambda body: body["status"] == "PROCESSING")
    return blocker


def _cancel(server: FluxServer, key: str, request_id: str) -> None:
    url = f"{server.url}/v2/requests/{request_id}/cancel"
    assert httpx.post(url, headers=_headers(key), timeout=30).status_code == 200


def test_a_job_not_started_is_cancelled_and_released(server: FluxServer) -> None:
    key = create_key(server.data_dir, credit="1", name="queued")
    # Both workers are busy (one runs, one waits for the engine): the sync job stays queued.
    blockers = [_running_blocker(server, key), _waiting_blocker(server, key)]

    answer = _sync(server, key)

    assert answer.status_code == 504, answer.text
    body = answer.json()
    assert body["status"] == "CANCELLED" and "not charged" in body["error"]
    assert body["polling_url"] == f"{server.url}/v2/requests/status/{body['request_id']}"
    assert body["polling_url"] in body["error"]
    final = httpx.get(body["polling_url"], headers=_headers(key), timeout=30)
    assert final.json()["status"] == "CANCELLED"
    assert ledger_kinds(server.data_dir, key, body["request_id"]) == ["hold", "release"]
    for blocker in blockers:
        _cancel(server, key, blocker)
    wallet, _ = read_wallet(server.data_dir, key)
    assert (wallet.balance_micros, wallet.held_micros) == (CREDIT, 0)


def test_a_running_job_finishes_and_is_charged(server: FluxServer) -> None:
    key = create_key(server.data_dir, credit="1", name="running")
    # One worker runs the blocker; the other claims the sync job at once, and it waits.
    blocker = _running_blocker(server, key)

    answer = _sync(server, key)

    assert answer.status_code == 504, answer.text
    body = answer.json()
    assert body["status"] == "PROCESSING" and "charged when it completes" in body["error"]
    assert body["polling_url"] in body["error"]
    _cancel(server, key, blocker)  # the engine is free: the sync job runs to its end
    done = poll(server.url, body["request_id"], key)
    assert done["status"] == "COMPLETED", done
    assert ledger_kinds(server.data_dir, key, body["request_id"]) == ["hold", "capture"]
    assert ledger_kinds(server.data_dir, key, blocker) == ["hold", "release"]
    wallet, entries = read_wallet(server.data_dir, key)
    [capture] = [e for e in entries if e.kind == "capture"]
    assert capture.amount_micros < 0
    assert (wallet.balance_micros, wallet.held_micros) == (CREDIT + capture.amount_micros, 0)
