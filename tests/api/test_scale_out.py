"""Many machines as a configuration change: a stateless API node (`serve --no-workers`) and a
GPU worker node (`fluxserve worker --models ...`) sharing one PostgreSQL job store."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.api.conftest import write_config
from tests.support.client import download_image
from tests.support.cluster import start_worker
from tests.support.servers import FluxServer, run_cli


@pytest.fixture
def cluster(
    tmp_path: Path, demo_cache_dir: Path, postgres_url: str
) -> Iterator[tuple[FluxServer, str]]:
    config = write_config(tmp_path / "config.toml", demo_cache_dir)
    env = {"FLUXSERVE_DATABASE_URL": postgres_url}
    key = run_cli("keys", "create", "--credit", "1", data_dir=tmp_path, env=env).splitlines()[-1]
    api = FluxServer(
        tmp_path, config=config, extra_args=("--no-workers", "--database-url", postgres_url)
    ).start()
    worker = start_worker(tmp_path, config, postgres_url, api.url, "flux-1-schnell")
    try:
        yield api, key
    finally:
        worker.terminate()
        worker.wait(30)
        api.stop()


def test_api_node_and_worker_node_share_a_postgres_store(cluster: tuple[FluxServer, str]) -> None:
    api, key = cluster
    headers = {"Ocp-Apim-Subscription-Key": key}
    body = {"prompt": "a red bicycle", "num_steps": 2, "width": 256, "height": 256, "seed": 3}
    response = httpx.post(
        f"{api.url}/flux-1-schnell/v1/getData", headers=headers, json=body, timeout=180
    )
    assert response.status_code == 200, response.text
    image, _ = download_image(response.json()["output"])
    assert image.size == (256, 256)

    # The only worker hosts schnell: a flux-dev job waits in the queue, it is not lost.
    queued = httpx.post(
        f"{api.url}/flux-dev/v1/dev/textToImage",
        headers=headers,
        json={"prompt": "a red bicycle"},
        timeout=30,
    )
    assert queued.status_code == 202
    time.sleep(3)
    status = httpx.get(queued.json()["polling_url"], headers=headers, timeout=30).json()
    assert status["status"] == "QUEUED"
    health = httpx.get(f"{api.url}/health", timeout=30).json()
    assert all(not m["loaded"] for m in health["engine_models"])  # the API node runs no engine
