"""Kill -9 the server with jobs queued and running, start it again: every job completes,
none is lost, and each is charged exactly once."""

from __future__ import annotations

import time
from pathlib import Path

import httpx

from fluxserve.billing.keys import KeyStore
from fluxserve.db.database import Database
from fluxserve.jobs.records import JobState
from fluxserve.jobs.store import JobStore
from tests.api.conftest import write_config
from tests.support.client import poll
from tests.support.processes import engine_pid, wait_gone
from tests.support.servers import FluxServer, create_key, run_cli

JOBS = 4


def _submit(server: FluxServer, key: str, seed: int) -> str:
    body = {
        "prompt": "a lighthouse",
        "image_size": "square",
        "num_inference_steps": 30,
        "seed": seed,
    }
    response = httpx.post(
        f"{server.url}/flux-dev/v1/dev/textToImage",
        headers={"Ocp-Apim-Subscription-Key": key},
        json=body,
        timeout=30,
    )
    assert response.status_code == 202, response.text
    return str(response.json()["request_id"])


def _wait_processing(server: FluxServer, key: str, request_id: str) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        status = httpx.get(
            f"{server.url}/v2/requests/status/{request_id}",
            headers={"Ocp-Apim-Subscription-Key": key},
            timeout=30,
        ).json()["status"]
        if status != "QUEUED":
            return
        time.sleep(0.05)
    raise AssertionError("the first job never started")


def test_kill_and_restart_loses_nothing_and_charges_once(
    tmp_path: Path, demo_cache_dir: Path
) -> None:
    config = write_config(tmp_path / "config.toml", demo_cache_dir)
    key = create_key(tmp_path, credit="1")
    first = FluxServer(tmp_path, config=config).start()
    ids = [_submit(first, key, seed) for seed in range(JOBS)]
    _wait_processing(first, key, ids[0])
    assert first.process is not None
    engine = engine_pid(first.process.pid)
    first.kill()
    wait_gone(engine, timeout_s=10)  # the engine process dies with its server, mid-job

    db = Database.open(f"sqlite:///{tmp_path / 'fluxserve.db'}")
    try:
        states = [JobStore(db).get(rid).state for rid in ids]  # type: ignore[union-attr]
        assert JobState.QUEUED in states, states  # some work was still waiting when we killed it
        assert all(s in (JobState.QUEUED, JobState.PROCESSING, JobState.COMPLETED) for s in states)
    finally:
        db.close()

    second = FluxServer(tmp_path, config=config).start()
    try:
        for rid in ids:
            assert poll(second.url, rid, key)["status"] == "COMPLETED"
    finally:
        second.stop()

    db = Database.open(f"sqlite:///{tmp_path / 'fluxserve.db'}")
    try:
        ledger = KeyStore(db).ledger(key, limit=1000)
        captures = [e.request_id for e in ledger if e.kind == "capture"]
        assert sorted(captures) == sorted(ids)  # each job charged once, none twice
        wallet = KeyStore(db).wallet(key)
        assert (wallet.balance_micros, wallet.held_micros) == (1_000_000 - JOBS * 25_000, 0)
    finally:
        db.close()
    shown = run_cli("wallet", "show", key, data_dir=tmp_path)
    assert "balance $0.90" in shown
