"""One customer's hanging webhook receivers must not delay another customer's webhook: the
deliverer is a bounded pool with a per-host limit, not passes awaited together."""

from __future__ import annotations

import asyncio
import socket
import time
import uuid
from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

from fluxserve.billing.keys import KeyStore
from fluxserve.db.database import Database
from fluxserve.jobs.outbox import Outbox
from fluxserve.jobs.store import JobStore
from fluxserve.webhooks.deliverer import WebhookDeliverer, WebhookPolicy

if TYPE_CHECKING:
    from conftest import ManualClock, Receiver

HANGING_HOSTS = 5
HANGING_DELIVERIES = 60
TIMEOUT_S = 4.0


@pytest.fixture
def hanging_ports() -> Iterator[list[int]]:
    """Listening sockets that never accept: the kernel completes the handshake and takes the
    request, and no answer ever comes, like a receiver stuck in its own work."""
    sockets = []
    for _ in range(HANGING_HOSTS):
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        sock.listen(HANGING_DELIVERIES)
        sockets.append(sock)
    try:
        yield [s.getsockname()[1] for s in sockets]
    finally:
        for sock in sockets:
            sock.close()


def _url_for(key: str) -> str:
    return f"http://t/media/{key}"


def _finished_job(jobs: JobStore, key_id: str, url: str) -> str:
    request_id = f"flux-dev_{uuid.uuid4()}"
    jobs.create(
        request_id=request_id,
        model_id="flux-dev",
        key_id=key_id,
        spec={"prompt": "a red fox"},
        price_micros=0,
        webhook_url=url,
    )
    [claimed] = jobs.claim("worker-1", "node-1", 60.0)
    assert jobs.complete(claimed, output_keys=["outputs/a.png"], media_type="x")
    return request_id


def test_hanging_receivers_do_not_delay_a_healthy_one(
    db: Database, clock: ManualClock, receiver: Receiver, hanging_ports: list[int]
) -> None:
    key, _ = KeyStore(db, clock).create(name="hooks", credit_micros=0)
    jobs, outbox = JobStore(db, clock), Outbox(db, clock)
    for index in range(HANGING_DELIVERIES):
        port = hanging_ports[index % HANGING_HOSTS]
        _finished_job(jobs, key.id, f"http://127.0.0.1:{port}/stuck/{index}")
    # The healthy row is the newest: under passes of the oldest rows it would come last.
    _finished_job(jobs, key.id, receiver.url("/healthy"))
    # A small pool: the hanging hosts could fill it four times over without the host limit.
    policy = WebhookPolicy(allow_private=True, timeout_s=TIMEOUT_S, max_concurrent=16, per_host=2)

    async def scenario() -> float:
        stop = asyncio.Event()
        async with WebhookDeliverer(outbox, jobs, _url_for, policy, clock=clock) as deliverer:
            started = time.monotonic()
            task = asyncio.create_task(deliverer.run(stop, poll_s=0.2))
            try:
                while not receiver.requests:
                    assert time.monotonic() - started < TIMEOUT_S, "healthy webhook still late"
                    await asyncio.sleep(0.02)
                return time.monotonic() - started
            finally:
                stop.set()
                await task

    elapsed = asyncio.run(scenario())

    # Well before the first hanging delivery could even time out.
    assert elapsed < TIMEOUT_S / 2, elapsed
    assert [r.path for r in receiver.requests] == ["/healthy"]
