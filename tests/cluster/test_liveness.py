"""Node liveness on a real cluster: a job that a live node runs is never run a second time,
whatever else starts; a dead node's job runs again within the lease and one sweep; a node
stopped with SIGTERM hands back what it cannot finish, at once and without spending an
attempt, and one stopped while it starts exits cleanly without claiming anything. Attempts
are read back from the database (`job_attempts`)."""

from __future__ import annotations

import signal
import time

import httpx
import pytest

from tests.cluster.conftest import TRAINER, Cluster
from tests.support.client import poll

pytestmark = [pytest.mark.cluster, pytest.mark.postgres]


def _completed_and_served(cluster: Cluster, request_id: str) -> dict[str, object]:
    done = poll(cluster.api.url, request_id, cluster.key)
    assert done["status"] == "COMPLETED", done
    output = done["output"]
    assert isinstance(output, dict)
    for url in output["media_url"]:
        assert httpx.get(url, timeout=30).status_code == 200, url
    return done


def test_starting_nodes_never_reruns_a_live_nodes_job(cluster: Cluster) -> None:
    cluster.start_worker(TRAINER)
    request_id = cluster.train(steps=5000)  # runs until the test cancels it
    cluster.wait_for(request_id, step_at_least=2)

    # Two more nodes start while the first runs the job: their start-up must not take it
    # from a node that is alive. Once both run, the job is still the first node's.
    cluster.start_worker(TRAINER)
    cluster.start_worker("flux-1-schnell")
    cluster.wait_until_running(1, 2)
    still = cluster.status(request_id)
    assert still["status"] == "PROCESSING", still
    assert [outcome for _, outcome in cluster.attempts(request_id)] == [None]

    cancel = httpx.post(
        f"{cluster.api.url}/v2/requests/{request_id}/cancel", headers=cluster.headers, timeout=30
    )
    assert cancel.status_code == 200, cancel.text
    attempts = cluster.attempts(request_id)
    assert [outcome for _, outcome in attempts] == ["CANCELLED"], attempts
    # A node that only trains started one engine process (its training lane's), none for
    # generation; the schnell node started its generation engine and no training one.
    assert cluster.engines_started(0) == 1, cluster.worker_log(0)
    assert cluster.engines_started(2) == 1, cluster.worker_log(2)


def test_a_dead_nodes_job_runs_again_elsewhere(cluster: Cluster) -> None:
    doomed = cluster.start_worker(TRAINER)
    request_id = cluster.train(steps=60)  # far from done when its node dies, at once
    cluster.wait_for(request_id, step_at_least=7)  # a checkpoint exists
    cluster.start_worker(TRAINER)

    doomed.send_signal(signal.SIGKILL)
    doomed.wait(30)

    done = _completed_and_served(cluster, request_id)
    attempts = cluster.attempts(request_id)
    assert [outcome for _, outcome in attempts] == ["LOST", "COMPLETED"], attempts
    assert attempts[0][0] != attempts[1][0]
    sidecar = httpx.get(done["output"]["media_url"][1], timeout=30).json()  # type: ignore[index]
    assert sidecar["resumed_from_step"] >= 5


def test_sigterm_hands_back_at_once_without_spending_an_attempt(cluster: Cluster) -> None:
    stopping = cluster.start_worker(TRAINER)
    # Progress is recorded every 0.5 s, so the training is further along than it says: give it
    # far more steps than a fast machine runs in that time plus the 0.2 s drain.
    request_id = cluster.train(steps=120)
    cluster.wait_for(request_id, step_at_least=2)

    stopping.send_signal(signal.SIGTERM)  # drain_s = 0.2: the training cannot finish in time
    assert stopping.wait(60) == 0
    handed_back = cluster.status(request_id)
    assert handed_back["status"] == "QUEUED", (handed_back, cluster.worker_log(0))

    cluster.start_worker(TRAINER)
    _completed_and_served(cluster, request_id)
    attempts = cluster.attempts(request_id)
    assert [outcome for _, outcome in attempts] == ["HANDED_BACK", "COMPLETED"], attempts


def test_sigterm_while_starting_claims_nothing_and_exits_cleanly(cluster: Cluster) -> None:
    body = {"prompt": "a red bicycle", "num_steps": 1, "width": 64, "height": 64}
    response = httpx.post(
        f"{cluster.api.url}/flux-1-schnell/v1/getDataBatch",
        headers=cluster.headers, json=body, timeout=30,
    )  # fmt: skip
    assert response.status_code == 202, response.text
    request_id = cluster.request_id_of(str(response.json()["requestId"]))
    starting = cluster.start_worker("flux-1-schnell")
    # Its first log line comes from building the node, before its engine process starts
    # (seconds of imports): the signal handler is in place and the pool has not started.
    while not cluster.worker_log(0).strip():
        assert starting.poll() is None, cluster.worker_log(0)
        time.sleep(0.05)

    starting.send_signal(signal.SIGTERM)
    assert starting.wait(60) == 0, cluster.worker_log(0)
    assert "running for" not in cluster.worker_log(0)
    assert cluster.attempts(request_id) == []
    assert cluster.status(request_id)["status"] == "QUEUED"
