"""WebhookDeliverer against the real job store on SQLite and a real receiver on 127.0.0.1."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import random
import ssl
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import pytest
from sqlalchemy import select

from fluxserve.billing.keys import KeyStore
from fluxserve.db.database import Database
from fluxserve.db.schema import webhook_outbox
from fluxserve.jobs.outbox import Outbox
from fluxserve.jobs.records import JobRecord
from fluxserve.jobs.store import JobStore
from fluxserve.jobs.views import batch_status_body, status_body
from fluxserve.netguard import Resolver
from fluxserve.settings import Settings
from fluxserve.webhooks.deliverer import WebhookDeliverer, WebhookPolicy
from fluxserve.webhooks.signing import verify_signature

if TYPE_CHECKING:  # fixtures' types; pytest loads conftest itself
    from conftest import ManualClock, Receiver, TlsReceiver

PUBLIC_URL = "http://fluxserve.test:8000"


def media_url(key: str) -> str:
    return f"{PUBLIC_URL}/media/{key}"


LOCAL = WebhookPolicy(allow_private=True)  # the receiver lives on loopback


@dataclass
class World:
    db: Database
    clock: ManualClock
    jobs: JobStore
    outbox: Outbox
    key_id: str

    def finished_job(
        self, url: str, *, ok: bool = True, style: str = "status", alias: str | None = None
    ) -> JobRecord:
        """A job that went QUEUED -> PROCESSING -> COMPLETED (or ERROR) with a webhook URL."""
        request_id = f"flux-dev_{uuid.uuid4()}"
        self.jobs.create(
            request_id=request_id,
            model_id="flux-dev",
            key_id=self.key_id,
            spec={"prompt": "a red fox"},
            price_micros=25_000,
            webhook_url=url,
            webhook_style=style,
            alias=alias,
        )
        [claimed] = self.jobs.claim("worker-1", "node-1", 60.0)
        assert claimed.request_id == request_id
        self.clock.advance(3)
        if ok:
            done = self.jobs.complete(
                claimed, output_keys=["outputs/a/output-0.png"], media_type="image/png"
            )
        else:
            done = self.jobs.error(claimed, error="engine crashed")
        assert done is not None
        return done

    def row(self, request_id: str) -> dict[str, Any]:
        with self.db.read() as conn:
            row = conn.execute(
                select(webhook_outbox).where(webhook_outbox.c.request_id == request_id)
            ).one()
        return dict(row._mapping)

    def deliverer(
        self, policy: WebhookPolicy = LOCAL, resolver: Resolver | None = None
    ) -> WebhookDeliverer:
        return WebhookDeliverer(
            self.outbox, self.jobs, media_url, policy, clock=self.clock, resolver=resolver
        )

    def one_pass(self, policy: WebhookPolicy = LOCAL, resolver: Resolver | None = None) -> int:
        async def go() -> int:
            async with self.deliverer(policy, resolver) as deliverer:
                return await deliverer.deliver_due()

        return asyncio.run(go())


@pytest.fixture
def world(db: Database, clock: ManualClock) -> World:
    key, _plain = KeyStore(db, clock).create(name="webhooks", credit_micros=1_000_000)
    return World(db, clock, JobStore(db, clock), Outbox(db, clock), key.id)


def test_delivers_the_status_body_with_its_headers(world: World, receiver: Receiver) -> None:
    job = world.finished_job(receiver.url("/cb?token=1"))

    assert world.one_pass() == 1

    [got] = receiver.requests
    assert got.path == "/cb?token=1"
    assert json.loads(got.body) == status_body(job, media_url)
    expected = [f"{PUBLIC_URL}/media/outputs/a/output-0.png"]
    assert json.loads(got.body)["output"]["media_url"] == expected
    assert got.headers["content-type"] == "application/json"
    assert got.headers["user-agent"] == "fluxserve"
    assert got.headers["x-fluxserve-event"] == "completed"
    row = world.row(job.request_id)
    assert got.headers["x-fluxserve-delivery"] == str(row["id"])
    assert "x-fluxserve-signature" not in got.headers
    assert (row["status"], row["last_status_code"], row["attempts"]) == ("delivered", 200, 1)
    assert world.outbox.pending_count() == 0
    assert world.one_pass() == 0  # delivered once, never again
    assert len(receiver.requests) == 1


def test_batch_style_jobs_get_the_batch_body(world: World, receiver: Receiver) -> None:
    job = world.finished_job(receiver.url(), ok=False, style="batch", alias=str(uuid.uuid4()))

    world.one_pass()

    [got] = receiver.requests
    body = json.loads(got.body)
    assert body == batch_status_body(job, media_url)
    assert (body["requestId"], body["status"], body["error"]) == (
        job.alias,
        "error",
        "engine crashed",
    )
    assert got.headers["x-fluxserve-event"] == "error"


def test_retries_with_backoff_after_500s_then_succeeds(world: World, receiver: Receiver) -> None:
    policy = WebhookPolicy(allow_private=True, backoff_base_s=2.0)
    job = world.finished_job(receiver.url())
    receiver.fail_next(2, status=500)

    for attempt in range(2):
        started = world.clock()
        assert world.one_pass(policy) == 1
        row = world.row(job.request_id)
        assert (row["status"], row["attempts"]) == ("pending", attempt + 1)
        assert row["last_error"] == "receiver answered HTTP 500"
        ceiling = 2.0 * 2**attempt  # base * 2**attempts, jittered into [ceiling/2, ceiling]
        waited = (row["next_attempt_at"] - started).total_seconds()
        assert ceiling / 2 <= waited <= ceiling
        assert world.one_pass(policy) == 0  # not due before its time
        world.clock.move_to(row["next_attempt_at"])

    assert world.one_pass(policy) == 1
    row = world.row(job.request_id)
    assert (row["status"], row["last_status_code"], row["attempts"]) == ("delivered", 200, 3)
    assert len(receiver.requests) == 3
    assert len({r.headers["x-fluxserve-delivery"] for r in receiver.requests}) == 1
    assert all(json.loads(r.body)["status"] == "COMPLETED" for r in receiver.requests)


def test_gives_up_after_max_attempts(world: World, receiver: Receiver) -> None:
    policy = WebhookPolicy(allow_private=True, max_attempts=3, backoff_max_s=5.0)
    receiver.default_status = 503
    job = world.finished_job(receiver.url())

    for _ in range(5):
        world.one_pass(policy)
        world.clock.advance(5.0)

    assert len(receiver.requests) == 3
    row = world.row(job.request_id)
    assert (row["status"], row["attempts"]) == ("failed", 3)
    assert row["last_error"] == "receiver answered HTTP 503 (gave up after 3 attempts)"
    assert row["finished_at"] is not None
    assert world.outbox.pending_count() == 0


def test_410_gone_stops_at_once(world: World, receiver: Receiver) -> None:
    receiver.default_status = 410
    job = world.finished_job(receiver.url())

    world.one_pass()
    world.clock.advance(3600)
    world.one_pass()

    assert len(receiver.requests) == 1
    row = world.row(job.request_id)
    assert (row["status"], row["attempts"]) == ("failed", 1)
    assert "410 Gone" in row["last_error"]


def test_signature_verifies_over_the_exact_bytes_posted(world: World, receiver: Receiver) -> None:
    secret = "whsec-test-🔑"
    world.finished_job(receiver.url())

    world.one_pass(WebhookPolicy(allow_private=True, secret=secret))

    [got] = receiver.requests
    header = got.headers["x-fluxserve-signature"]
    fields = dict(part.split("=", 1) for part in header.split(","))
    stamp = int(world.clock().timestamp())
    assert fields["t"] == str(stamp)
    # The receiver's recipe from the deliverer's docstring, done by hand:
    expected = hmac.new(
        secret.encode("utf-8"), f"{stamp}.".encode() + got.body, hashlib.sha256
    ).hexdigest()
    assert hmac.compare_digest(fields["v1"], expected)
    assert verify_signature(secret, header, got.body, now=stamp + 10)
    assert not verify_signature(secret, header, got.body + b" ", now=stamp)
    assert not verify_signature("other-secret", header, got.body, now=stamp)
    assert not verify_signature(secret, header, got.body, now=stamp + 3600)  # replayed late


def test_private_url_is_refused_unless_allowed(world: World, receiver: Receiver) -> None:
    job = world.finished_job(receiver.url())

    world.one_pass(WebhookPolicy(allow_private=False))

    assert receiver.requests == []
    row = world.row(job.request_id)
    assert (row["status"], row["attempts"]) == ("failed", 1)
    assert "non-public address (127.0.0.1)" in row["last_error"]
    assert "webhook URL refused" in row["last_error"]


def _resolver(answers: dict[str, list[str]]) -> Resolver:
    async def resolve(host: str, port: int) -> Sequence[str]:
        return answers[host]

    return resolve


def test_a_name_resolving_to_a_private_address_is_refused(world: World, receiver: Receiver) -> None:
    job = world.finished_job(f"http://hooks.attacker.test:{receiver.port}/cb")
    resolver = _resolver({"hooks.attacker.test": ["93.184.215.14", "169.254.169.254"]})

    world.one_pass(WebhookPolicy(allow_private=False), resolver)

    row = world.row(job.request_id)
    assert row["status"] == "failed"
    assert "non-public address (169.254.169.254)" in row["last_error"]


def test_posts_to_the_checked_address_keeping_the_name(world: World, receiver: Receiver) -> None:
    # hooks.example.test exists only in this resolver: the POST can only arrive if it was sent
    # to the address that was checked, with the name kept in the Host header.
    world.finished_job(f"http://hooks.example.test:{receiver.port}/cb")

    world.one_pass(resolver=_resolver({"hooks.example.test": ["127.0.0.1"]}))

    [got] = receiver.requests
    assert got.headers["host"] == f"hooks.example.test:{receiver.port}"


def test_timeout_and_refused_connection_are_retried(world: World, receiver: Receiver) -> None:
    policy = WebhookPolicy(allow_private=True, timeout_s=0.2)
    receiver.delay_s = 0.6
    slow = world.finished_job(receiver.url())
    closed = world.finished_job("http://127.0.0.1:9/nothing-listens-here")

    assert world.one_pass(policy) == 2

    slow_row, closed_row = world.row(slow.request_id), world.row(closed.request_id)
    assert (slow_row["status"], slow_row["attempts"]) == ("pending", 1)
    assert slow_row["last_error"] == "timed out after 0.2 s"
    assert (closed_row["status"], closed_row["attempts"]) == ("pending", 1)
    assert closed_row["last_error"].startswith("connection failed: ConnectError")


def test_run_wakes_on_demand_and_stops(world: World, receiver: Receiver) -> None:
    async def scenario() -> None:
        stop, wake = asyncio.Event(), asyncio.Event()
        async with world.deliverer() as deliverer:
            task = asyncio.create_task(deliverer.run(stop, poll_s=60.0, wake=wake))
            await asyncio.sleep(0.1)  # first pass done; now it sleeps up to a minute
            await asyncio.to_thread(world.finished_job, receiver.url())
            wake.set()
            for _ in range(100):
                if receiver.requests:
                    break
                await asyncio.sleep(0.02)
            stop.set()
            await asyncio.wait_for(task, timeout=2.0)

    asyncio.run(scenario())

    assert len(receiver.requests) == 1
    assert world.outbox.pending_count() == 0


def test_backoff_doubles_with_jitter_and_is_capped() -> None:
    policy = WebhookPolicy(backoff_base_s=2.0, backoff_max_s=600.0)
    rng = random.Random(7)
    for attempts, ceiling in [(0, 2.0), (1, 4.0), (4, 32.0), (9, 600.0), (500, 600.0)]:
        delays = [policy.retry_delay_s(attempts, rng) for _ in range(50)]
        assert all(ceiling / 2 <= d <= ceiling for d in delays)
        assert len(set(delays)) > 1  # jittered, not lock-step


def test_policy_from_settings(tmp_path: Path) -> None:
    settings = Settings(
        data_dir=tmp_path,
        webhook_max_attempts=3,
        webhook_timeout_s=4.0,
        webhook_backoff_base_s=1.5,
        webhook_secret="s3cret",
        allow_private_urls=True,
    )
    assert WebhookPolicy.from_settings(settings) == WebhookPolicy(
        max_attempts=3, timeout_s=4.0, backoff_base_s=1.5, secret="s3cret", allow_private=True
    )


def test_https_to_the_checked_address_verifies_the_certificate_name(
    world: World, tls_receiver: TlsReceiver
) -> None:
    # Both names resolve to 127.0.0.1; only the one on the certificate may be delivered to,
    # which shows that TLS checks the URL's name although the connection goes to the address.
    port = tls_receiver.receiver.port
    good = world.finished_job(f"https://{tls_receiver.name}:{port}/cb")
    bad = world.finished_job(f"https://impostor.example.test:{port}/cb")
    resolver = _resolver({tls_receiver.name: ["127.0.0.1"], "impostor.example.test": ["127.0.0.1"]})

    async def go() -> int:
        trust = ssl.create_default_context(cafile=str(tls_receiver.ca_file))
        async with httpx.AsyncClient(verify=trust, trust_env=False) as client:
            deliverer = WebhookDeliverer(
                world.outbox, world.jobs, media_url, LOCAL, client, world.clock, resolver=resolver
            )
            return await deliverer.deliver_due()

    assert asyncio.run(go()) == 2

    [got] = tls_receiver.receiver.requests
    assert got.headers["host"] == f"{tls_receiver.name}:{port}"
    assert world.row(good.request_id)["status"] == "delivered"
    bad_row = world.row(bad.request_id)
    assert bad_row["status"] == "pending"
    assert "CERTIFICATE_VERIFY_FAILED" in bad_row["last_error"]
