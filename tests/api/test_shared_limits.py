"""Limits that hold across API nodes, and the metrics every node reports alike: two
`serve --no-workers` processes on one PostgreSQL job store and one Redis."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.api.conftest import write_config
from tests.support.servers import FluxServer, run_cli

SCHNELL_BATCH = "/flux-1-schnell/v1/getDataBatch"  # $0, queued: nothing but the cap stops it
FLUX_DEV = "/flux-dev/v1/dev/textToImage"
RATE_PER_MINUTE = 5
MAX_ACTIVE = 3


@pytest.fixture
def two_nodes(
    tmp_path: Path, demo_cache_dir: Path, postgres_url: str, redis_url: str
) -> Iterator[tuple[FluxServer, FluxServer, dict[str, str]]]:
    config = write_config(
        tmp_path / "config.toml",
        demo_cache_dir,
        rate_limit_per_minute=RATE_PER_MINUTE,
        batch_sync_wait_s=0,
    )
    with config.open("a") as handle:
        handle.write(
            f'[limits]\nredis_url = "{redis_url}"\nredis_key_prefix = "t-{uuid.uuid4().hex}"\n'
            f"max_active_jobs_per_key = {MAX_ACTIVE}\n"
        )
    env = {"FLUXSERVE_DATABASE_URL": postgres_url}
    keys = {
        name: run_cli("keys", "create", "--credit", "0", data_dir=tmp_path, env=env)
        .strip()
        .splitlines()[-1]
        for name in ("rate", "flood", "other")
    }
    args = ("--no-workers", "--database-url", postgres_url)
    first = FluxServer(tmp_path, config=config, extra_args=args).start()
    try:
        second = FluxServer(tmp_path, config=config, extra_args=args).start()
    except BaseException:
        first.stop()
        raise
    try:
        yield first, second, keys
    finally:
        second.stop()
        first.stop()


def post(node: FluxServer, path: str, key: str, body: dict[str, Any]) -> httpx.Response:
    headers = {"Ocp-Apim-Subscription-Key": key, "X-Secret-Key": key}
    return httpx.post(f"{node.url}{path}", headers=headers, json=body, timeout=60)


def scrape(node: FluxServer) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    response = httpx.get(f"{node.url}/metrics", timeout=30)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def test_limits_and_metrics_hold_across_api_nodes(
    two_nodes: tuple[FluxServer, FluxServer, dict[str, str]],
) -> None:
    first, second, keys = two_nodes
    nodes = (first, second)

    # One rate for the key, whichever node it calls: each refused body still spent a token.
    spent = [post(nodes[i % 2], FLUX_DEV, keys["rate"], {}).status_code for i in range(5)]
    assert spent == [400] * RATE_PER_MINUTE
    for node in nodes:
        limited = post(node, FLUX_DEV, keys["rate"], {"prompt": "x"})
        assert limited.status_code == 429
        assert limited.headers["Retry-After"] == str(60 // RATE_PER_MINUTE)
        assert limited.json() == {
            "error": "Too Many Requests",
            "message": f"Too many requests; retry after {60 // RATE_PER_MINUTE} s",
        }

    # A $0 model on a key with $0: only the active-job cap, counted in PostgreSQL, stops it.
    body = {"prompt": "a lighthouse", "num_steps": 1, "width": 256, "height": 256}
    accepted = [post(nodes[i % 2], SCHNELL_BATCH, keys["flood"], body) for i in range(MAX_ACTIVE)]
    assert [r.status_code for r in accepted] == [202] * MAX_ACTIVE, accepted[-1].text
    for node in nodes:
        capped = post(node, SCHNELL_BATCH, keys["flood"], body)
        assert capped.status_code == 429, capped.text
        assert capped.headers["Retry-After"] == "5"
        assert capped.json() == {
            "error": "Too Many Requests",
            "message": f"Too many active requests: at most {MAX_ACTIVE} per key may be queued "
            "or running; retry after 5 s",
        }
    assert post(second, SCHNELL_BATCH, keys["other"], body).status_code == 202  # per key

    # Both nodes report the same queue, read from the job store at scrape time.
    schnell = (("engine_model", "flux1-schnell"), ("model", "flux-1-schnell"))
    for node in nodes:
        metrics = scrape(node)
        assert metrics[("fluxserve_job_store_up", ())] == 1
        assert metrics[("fluxserve_queue_depth", schnell)] == MAX_ACTIVE + 1
        assert metrics[("fluxserve_queue_oldest_age_seconds", schnell)] > 0
        assert metrics[("fluxserve_jobs_processing", schnell)] == 0
        completed = ("fluxserve_jobs_finished_total", (*schnell, ("state", "COMPLETED")))
        assert metrics[completed] == 0
        assert metrics[("fluxserve_webhook_backlog", ())] == 0
