"""`Idempotency-Key` over real HTTP (Stripe's semantics): fifty identical submissions sent at
once make one job and one charge and get one answer; the same key with another body is a 422;
sync routes answer a retry with the first request's outcome; the official `openai` client's
multipart uploads (a new boundary on every send) count as the same request. On SQLite and on
PostgreSQL."""

from __future__ import annotations

import asyncio
import io
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest
from PIL import Image

from fluxserve.billing.keys import KeyStore
from fluxserve.billing.ledger import LedgerEntry
from fluxserve.db.database import Database
from tests.api.conftest import Api, write_config
from tests.support.client import poll
from tests.support.servers import FluxServer, create_key, run_cli

FLUX_PRO = "/flux-pro/v1/pro/textToImage"
KLEIN = "/flux-2-klein-4b/v1/generateImage"
TWINS = 50


@dataclass
class Target:
    url: str
    key: str
    database_url: str

    def ledger(self) -> list[LedgerEntry]:
        db = Database.open(self.database_url)
        try:
            return KeyStore(db).ledger(self.key, limit=1000)
        finally:
            db.close()


def _pg_target(tmp_path: Path, demo_cache_dir: Path, postgres_url: str) -> Iterator[Target]:
    config = write_config(tmp_path / "config.toml", demo_cache_dir, rate_limit_per_minute=1000)
    env = {"FLUXSERVE_DATABASE_URL": postgres_url}
    out = run_cli("keys", "create", "--credit", "100", data_dir=tmp_path, env=env)
    server = FluxServer(tmp_path, config=config, extra_args=("--database-url", postgres_url))
    server.start()
    try:
        yield Target(server.url, out.strip().splitlines()[-1], postgres_url)
    finally:
        server.stop()


@pytest.fixture(params=["sqlite", "postgres"])
def target(
    request: pytest.FixtureRequest, api: Api, tmp_path: Path, demo_cache_dir: Path
) -> Iterator[Target]:
    if request.param == "sqlite":
        key = create_key(api.server.data_dir, credit="100", name="idempotency")
        yield Target(api.url, key, f"sqlite:///{api.server.data_dir / 'fluxserve.db'}")
        return
    postgres_url = request.getfixturevalue("postgres_url")
    yield from _pg_target(tmp_path, demo_cache_dir, postgres_url)


def _post_all(
    target: Target, path: str, bodies: list[dict[str, Any]], idempotency_key: str
) -> list[httpx.Response]:
    """POST every body at once, each on its own connection, with one Idempotency-Key."""
    headers = {"Ocp-Apim-Subscription-Key": target.key, "Idempotency-Key": idempotency_key}

    async def post_all() -> list[httpx.Response]:
        limits = httpx.Limits(max_connections=len(bodies))
        async with httpx.AsyncClient(base_url=target.url, timeout=120, limits=limits) as client:
            return await asyncio.gather(
                *(client.post(path, json=body, headers=headers) for body in bodies)
            )

    return asyncio.run(post_all())


def _kinds(entries: list[LedgerEntry], keep: Callable[[LedgerEntry], bool]) -> list[str]:
    return [e.kind for e in sorted(entries, key=lambda e: e.id) if keep(e)]


def test_concurrent_twins_make_one_job_and_one_charge(target: Target) -> None:
    body = {"prompt": "a lighthouse at dusk", "width": 64, "height": 64, "seed": 7}
    idempotency_key = f"twins-{uuid.uuid4()}"
    responses = _post_all(target, FLUX_PRO, [body] * TWINS, idempotency_key)
    assert {r.status_code for r in responses} == {202}, [r.text for r in responses][:3]
    answers = {r.text for r in responses}
    assert len(answers) == 1, answers  # byte for byte the same answer
    replayed = [r.headers.get("Idempotent-Replayed") for r in responses]
    assert replayed.count("true") == TWINS - 1 and replayed.count(None) == 1
    request_id = responses[0].json()["request_id"]

    assert poll(target.url, request_id, target.key)["status"] == "COMPLETED"
    entries = target.ledger()
    assert _kinds(entries, lambda e: e.kind != "topup") == ["hold", "capture"]
    assert {e.request_id for e in entries if e.kind != "topup"} == {request_id}

    # Later, after the job ended: still the original answer, and still nothing new charged.
    again = _post_all(target, FLUX_PRO, [body], idempotency_key)[0]
    assert (again.status_code, again.text) == (202, responses[0].text)
    # The same request with another key order and spacing is the same request.
    reordered = {"seed": 7, "height": 64, "width": 64, "prompt": "a lighthouse at dusk"}
    assert _post_all(target, FLUX_PRO, [reordered], idempotency_key)[0].text == answers.pop()

    changed = {**body, "prompt": "a different lighthouse"}
    other = _post_all(target, FLUX_PRO, [changed], idempotency_key)[0]
    assert other.status_code == 422, other.text
    assert other.json() == {
        "error": "Idempotency key reused",
        "message": f"Idempotency-Key '{idempotency_key}' was already used with a different "
        "request; use a new key for a new request",
    }
    assert len(target.ledger()) == len(entries)  # the refused request held nothing


def test_a_sync_retry_gets_the_first_requests_outcome(api: Api) -> None:
    key = create_key(api.server.data_dir, credit="10", name="idempotent-sync")
    target = Target(api.url, key, f"sqlite:///{api.server.data_dir / 'fluxserve.db'}")
    body = {"prompt": "a teapot", "width": 512, "height": 512, "steps": 1, "seed": 3}
    first, retry = _post_all(target, KLEIN, [body, body], f"sync-{uuid.uuid4()}")
    assert (first.status_code, retry.status_code) == (200, 200), (first.text, retry.text)
    assert first.json() == retry.json()  # the same image: one job answered both
    charged = _kinds(target.ledger(), lambda e: e.kind == "capture")
    assert charged == ["capture"]


def _png() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (64, 64), (200, 40, 40)).save(buffer, "PNG")
    return buffer.getvalue()


def test_openai_client_uploads_with_one_key_are_one_request(api: Api) -> None:
    client = openai.OpenAI(api_key=api.key, base_url=f"{api.url}/v1", max_retries=0)
    headers = {"Idempotency-Key": f"edit-{uuid.uuid4()}"}

    def edit(prompt: str) -> Any:
        return client.images.edit(
            model="flux-dev",
            image=("in.png", _png(), "image/png"),
            prompt=prompt,
            size="64x64",
            extra_headers=headers,
        )

    first, second = edit("make it blue"), edit("make it blue")
    assert first.model_extra and second.model_extra
    assert first.model_extra["request_id"] == second.model_extra["request_id"]
    with pytest.raises(openai.UnprocessableEntityError) as refused:
        edit("make it green")
    assert "already used with a different request" in str(refused.value)


def test_a_retry_is_not_refused_by_the_active_jobs_cap(
    tmp_path: Path, demo_cache_dir: Path
) -> None:
    config = write_config(tmp_path / "config.toml", demo_cache_dir, batch_sync_wait_s=0)
    with config.open("a") as handle:
        handle.write("[limits]\nmax_active_jobs_per_key = 1\n")
    key = create_key(tmp_path, credit="5", name="capped")
    # No workers: the first job stays QUEUED, so the key is at its cap for good.
    server = FluxServer(tmp_path, config=config, extra_args=("--no-workers",)).start()
    try:
        target = Target(server.url, key, f"sqlite:///{tmp_path / 'fluxserve.db'}")
        body = {"prompt": "a quiet harbour", "width": 64, "height": 64}
        first = _post_all(target, FLUX_PRO, [body], "capped-1")[0]
        retry = _post_all(target, FLUX_PRO, [body], "capped-1")[0]
        assert (first.status_code, retry.status_code) == (202, 202), retry.text
        assert retry.text == first.text
        assert _post_all(target, FLUX_PRO, [body], "capped-2")[0].status_code == 429
        # getDataBatch's own request id (the job's alias) is replayed too.
        batch = {"prompt": "a quiet harbour", "width": 256, "height": 256}
        batch_key = create_key(tmp_path, credit="0", name="batch")  # its own cap of one
        headers = {"Ocp-Apim-Subscription-Key": batch_key, "Idempotency-Key": "batch-1"}
        url = f"{server.url}/flux-1-schnell/v1/getDataBatch"
        answers = [httpx.post(url, headers=headers, json=batch, timeout=60) for _ in range(2)]
        assert [a.status_code for a in answers] == [202, 202], answers[0].text
        assert answers[0].json()["requestId"] == answers[1].json()["requestId"]
    finally:
        server.stop()
