"""The engine process dies under a running job (SIGKILL, as the OOM killer would): that job ends
ERROR without a charge, the server stays up, and the next job runs on a fresh engine."""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.api.conftest import write_config
from tests.support.client import poll
from tests.support.jobs import submit, wait_until
from tests.support.ledger import ledger_kinds, read_wallet
from tests.support.processes import engine_pid, wait_gone
from tests.support.servers import FluxServer, create_key

FLUX_DEV = "/flux-dev/v1/dev/textToImage"
CREDIT = 1_000_000
FLUX_DEV_PRICE = 25_000


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, demo_cache_dir: Path) -> Iterator[FluxServer]:
    data_dir = tmp_path_factory.mktemp("engine-crash")
    config = write_config(data_dir / "config.toml", demo_cache_dir)
    running = FluxServer(data_dir, config=config).start()
    yield running
    running.stop()


def test_engine_killed_mid_job_errors_that_job_and_restarts(server: FluxServer) -> None:
    assert server.process is not None
    key = create_key(server.data_dir, credit="1", name="crash")
    long_job = {"prompt": "a harbour", "image_size": "square_hd", "num_inference_steps": 60}
    rid = submit(server.url, FLUX_DEV, key, long_job)
    # Wait until the engine is stepping, so the kill lands inside the pipeline call.
    wait_until(server.url, rid, key, lambda body: "progress" in body)
    victim = engine_pid(server.process.pid)
    os.kill(victim, signal.SIGKILL)
    wait_gone(victim)

    done = poll(server.url, rid, key)
    assert done["status"] == "ERROR", done
    assert "engine process died" in done["error"]
    assert done["output"] is None
    assert ledger_kinds(server.data_dir, key, rid) == ["hold", "release"]
    wallet, _ = read_wallet(server.data_dir, key)
    assert (wallet.balance_micros, wallet.held_micros) == (CREDIT, 0)
    assert not (server.data_dir / "media" / "outputs" / rid).exists()

    after = poll(server.url, submit(server.url, FLUX_DEV, key, {"prompt": "a harbour"}), key)
    assert after["status"] == "COMPLETED", after
    assert engine_pid(server.process.pid) != victim
    assert server.process.poll() is None  # the server itself never went down
    wallet, _ = read_wallet(server.data_dir, key)
    assert (wallet.balance_micros, wallet.held_micros) == (CREDIT - FLUX_DEV_PRICE, 0)
