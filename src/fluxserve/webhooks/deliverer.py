"""Deliver webhook callbacks from the outbox, off the worker's path.

The job store writes an outbox row in the same transaction as a job's terminal state; this
module's `WebhookDeliverer` runs as its own asyncio task, renders each due row's body from the
job record at delivery time, and POSTs it. A dead or slow receiver therefore never holds up a
GPU worker, and a crash loses nothing: an undelivered row is simply still due.

Delivery is at least once. A receiver may see the same delivery twice (for instance if we crash
between its 2xx and our bookkeeping); ``X-Fluxserve-Delivery`` is stable across retries of one
delivery, so receivers can de-duplicate on it.

What a receiver gets
    ``POST <webhook url>`` with a JSON body: for the async endpoints the same body as
    ``GET /v2/requests/status/{request_id}``; for the schnell batch endpoint the body of
    ``/checkStatus``. Headers:

    - ``Content-Type: application/json``, ``User-Agent: fluxserve``
    - ``X-Fluxserve-Event``: what happened (the outbox row's event, e.g. ``completed``)
    - ``X-Fluxserve-Delivery``: the delivery id
    - ``X-Fluxserve-Signature: t=<unix seconds>,v1=<hex>`` when the operator set a secret
    - ``webhook-id``, ``webhook-timestamp``, ``webhook-signature`` (Standard Webhooks), signed
      with the secret of the API key that made the request (see `fluxserve.webhooks.standard`);
      ``webhook-id`` is ``msg_<delivery id>``, the same on every retry of one delivery

    Any 2xx means delivered. ``410 Gone`` means "never send this again". Anything else, a
    timeout or a connection failure is retried with exponential backoff and jitter, up to the
    policy's attempt limit.

Verifying the signature (receiver side)
    1. Read the raw request body as bytes, before any JSON parsing (re-serialising changes the
       bytes and breaks the signature).
    2. Split the header on ``,`` into ``key=value`` pairs; take ``t`` and every ``v1``.
    3. Compute ``HMAC-SHA256(key=secret.encode("utf-8"), msg=t.encode("ascii") + b"." + body)``
       as lowercase hex.
    4. Accept if it equals one of the ``v1`` values under a constant-time comparison
       (``hmac.compare_digest``) and ``t`` is within a few minutes of your clock (replay guard).

    Python receivers can call `fluxserve.webhooks.signing.verify_signature`.

Webhook URLs whose host resolves to a non-public address (loopback, private, link-local...)
are refused unless the policy allows private URLs: the row is given up with a clear error. The
request is sent to the address that was checked, so a DNS answer that changes between the
check and the connection cannot redirect it; redirects are never followed.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Self

import httpx

from fluxserve.db.clock import Clock, utc_now
from fluxserve.errors import InputFetchError
from fluxserve.jobs.outbox import Outbox, OutboxItem
from fluxserve.jobs.records import JobRecord
from fluxserve.jobs.store import JobStore
from fluxserve.jobs.views import UrlFor, batch_status_body, status_body
from fluxserve.netguard import IPAddress, Resolver, Route, checked_addresses, pinned_route
from fluxserve.settings import Settings
from fluxserve.webhooks.signing import SIGNATURE_HEADER, signature_header
from fluxserve.webhooks.standard import delivery_id, standard_headers

# An API key's id -> its webhook signing secret (None: unsigned).
SecretFor = Callable[[str], str | None]

logger = logging.getLogger(__name__)

# A row whose host is at its `per_host` limit is handed back and looked at again this much
# later: short enough to follow the host's pace, long enough not to spin on the database.
BUSY_HOST_DELAY_S = 1.0
# How long a pass holds its rows away from other deliverers on the same database; beyond the
# request timeout, room for DNS and bookkeeping. A deliverer that dies lets them fall due again.
CLAIM_MARGIN_S = 60.0


@dataclass(frozen=True)
class WebhookPolicy:
    """How hard to try. `backoff_base_s * 2**attempts`, capped at `backoff_max_s`, is the
    longest wait before the next try (the actual wait is jittered between half and all of it)."""

    max_attempts: int = 8
    timeout_s: float = 10.0
    backoff_base_s: float = 2.0
    backoff_max_s: float = 600.0
    secret: str | None = None
    allow_private: bool = False
    max_concurrent: int = 128
    per_host: int = 8

    @classmethod
    def from_settings(cls, settings: Settings) -> WebhookPolicy:
        return cls(
            max_attempts=settings.webhook_max_attempts,
            timeout_s=settings.webhook_timeout_s,
            backoff_base_s=settings.webhook_backoff_base_s,
            secret=settings.webhook_secret,
            allow_private=settings.allow_private_urls,
            max_concurrent=settings.webhook_concurrency,
            per_host=settings.webhook_per_host,
        )

    def retry_delay_s(self, attempts: int, rng: random.Random) -> float:
        """Wait before the next try after `attempts` failed ones ("equal jitter": between half
        and all of the capped exponential, so receivers that failed together do not retry in
        lock step)."""
        ceiling = min(self.backoff_max_s, self.backoff_base_s * 2.0 ** min(attempts, 62))
        return ceiling / 2 + rng.uniform(0, ceiling / 2)


@dataclass(frozen=True)
class _Pass:
    """What one look at the outbox did: rows asked for, rows claimed, deliveries started."""

    requested: int
    claimed: int
    started: list[asyncio.Task[None]]


@dataclass(frozen=True)
class _Outcome:
    """What one try came to: delivered (no `error`), or an error, retried unless `final`."""

    status_code: int | None = None
    error: str | None = None
    final: bool = False


def encode_body(body: dict[str, Any]) -> bytes:
    """Compact UTF-8 JSON, the same encoding the HTTP API uses for its responses."""
    return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


class WebhookDeliverer:
    """Sends due outbox rows to their receivers; run it with `run()` as its own task."""

    def __init__(
        self,
        outbox: Outbox,
        jobs: JobStore,
        url_for: UrlFor,
        policy: WebhookPolicy,
        client: httpx.AsyncClient | None = None,
        clock: Clock | None = None,
        *,
        resolver: Resolver | None = None,
        secret_for: SecretFor | None = None,
    ) -> None:
        """`url_for` builds media URLs in bodies; `resolver` replaces the system DNS resolver
        (tests); `secret_for` gives a key's Standard Webhooks secret (read at every try, so a
        rotated secret signs at once)."""
        self._outbox = outbox
        self._jobs = jobs
        self._url_for = url_for
        self._policy = policy
        self._owns_client = client is None
        # trust_env=False: no proxy or .netrc picked up from the environment by surprise.
        self._client = client or httpx.AsyncClient(
            follow_redirects=False,
            trust_env=False,
            limits=httpx.Limits(max_connections=policy.max_concurrent),
        )
        self._clock = clock or utc_now
        self._resolver = resolver
        self._secret_for = secret_for
        self._rng = random.Random()
        self._in_flight: set[asyncio.Task[None]] = set()
        self._host_load: Counter[str] = Counter()
        self._slot_freed = asyncio.Event()

    async def aclose(self) -> None:
        """Close the HTTP client if this deliverer made it."""
        if self._owns_client:
            await self._client.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await self.aclose()

    async def deliver_due(self) -> int:
        """One pass: start every due row there is room for, wait for those; return how many
        rows were claimed (started or, their host being busy, handed back for later)."""
        pass_ = await self._start_due()
        await asyncio.gather(*pass_.started)
        return pass_.claimed

    async def run(
        self, stop: asyncio.Event, poll_s: float = 0.5, wake: asyncio.Event | None = None
    ) -> None:
        """Deliver until `stop` is set: each due row goes out as soon as the pool has room, and
        the pool is refilled whenever a delivery ends, when `wake` is set (the app sets it when
        a job ends; from a worker thread, through `loop.call_soon_threadsafe(wake.set)`), or
        every `poll_s` seconds. A failing pass is logged, never fatal. On stop, deliveries in
        flight are waited for (each is bounded by the policy's timeout)."""
        try:
            while not stop.is_set():
                self._slot_freed.clear()
                try:
                    pass_ = await self._start_due()
                except Exception:
                    logger.exception("webhook delivery pass failed; retrying in %.1f s", poll_s)
                    pass_ = _Pass(requested=0, claimed=0, started=[])
                more_due = pass_.claimed > 0 and pass_.claimed == pass_.requested
                if more_due and len(self._in_flight) < self._policy.max_concurrent:
                    continue  # rows were handed back for busy hosts: others may be due
                await _wait_for_any(stop, wake, self._slot_freed, timeout=poll_s)
        finally:
            if self._in_flight:
                await asyncio.gather(*self._in_flight, return_exceptions=True)

    async def _start_due(self) -> _Pass:
        """Claim as many due rows as the pool has room for and start a delivery for each,
        except rows whose host already has `per_host` deliveries in flight: those are handed
        back, due a little later, so that one slow host cannot take the whole pool."""
        room = self._policy.max_concurrent - len(self._in_flight)
        if room <= 0:
            return _Pass(requested=0, claimed=0, started=[])
        claim_s = self._policy.timeout_s + CLAIM_MARGIN_S
        items = await asyncio.to_thread(self._outbox.due, room, self._clock(), claim_s)
        started: list[asyncio.Task[None]] = []
        busy: list[int] = []
        for item in items:
            host = _host_key(item.url)
            if self._host_load[host] >= self._policy.per_host:
                busy.append(item.id)
                continue
            self._host_load[host] += 1
            task = asyncio.create_task(self._deliver_in_pool(item, host))
            self._in_flight.add(task)
            started.append(task)
        if busy:
            later = self._clock() + timedelta(seconds=BUSY_HOST_DELAY_S)
            await asyncio.to_thread(self._outbox.defer, busy, later)
        return _Pass(requested=room, claimed=len(items), started=started)

    async def _deliver_in_pool(self, item: OutboxItem, host: str) -> None:
        try:
            await self._deliver_one(item)
        except Exception as exc:
            # Bookkeeping failed (database down?): the row's claim lapses and it is tried
            # again, so the receiver may see this delivery twice, never zero times.
            logger.error("could not record webhook delivery %s", item.id, exc_info=exc)
        finally:
            self._host_load[host] -= 1
            if self._host_load[host] <= 0:
                del self._host_load[host]
            task = asyncio.current_task()
            if task is not None:
                self._in_flight.discard(task)
            self._slot_freed.set()

    async def _deliver_one(self, item: OutboxItem) -> None:
        try:
            job = await asyncio.to_thread(self._jobs.get, item.request_id)
            if job is None:
                outcome = _Outcome(error=f"job {item.request_id} no longer exists", final=True)
            else:
                secret = await self._key_secret(job.key_id)
                outcome = await self._post(item, encode_body(self._render(job)), secret)
        except Exception as exc:
            # A bug in rendering must not wedge the row: count it as a failed try.
            logger.exception("webhook delivery %s failed unexpectedly", item.id)
            outcome = _Outcome(error=f"internal error: {type(exc).__name__}")
        await asyncio.to_thread(self._record, item, outcome)

    async def _key_secret(self, key_id: str) -> str | None:
        if self._secret_for is None:
            return None
        return await asyncio.to_thread(self._secret_for, key_id)

    def _render(self, job: JobRecord) -> dict[str, Any]:
        if job.webhook_style == "batch":
            return batch_status_body(job, self._url_for)
        return status_body(job, self._url_for)

    async def _post(self, item: OutboxItem, body: bytes, secret: str | None = None) -> _Outcome:
        """One try, DNS included, bounded by the policy's timeout."""
        try:
            async with asyncio.timeout(self._policy.timeout_s):
                return await self._resolve_and_send(item, body, secret)
        except (TimeoutError, httpx.TimeoutException):
            return _Outcome(error=f"timed out after {self._policy.timeout_s:g} s")
        except httpx.HTTPError as exc:
            return _Outcome(error=f"connection failed: {type(exc).__name__}: {exc}")

    async def _resolve_and_send(
        self, item: OutboxItem, body: bytes, secret: str | None
    ) -> _Outcome:
        try:
            addresses = await checked_addresses(
                item.url,
                allow_private=self._policy.allow_private,
                what="webhook URL",
                resolver=self._resolver,
            )
        except InputFetchError as exc:
            return _Outcome(error=exc.message, final=True)
        except OSError as exc:  # DNS trouble may pass; try again later
            return _Outcome(error=f"webhook host did not resolve: {exc}")
        headers = self._headers(item, body, secret)
        return await self._send_to_any(httpx.URL(item.url), addresses, headers, body)

    async def _send_to_any(
        self,
        url: httpx.URL,
        addresses: list[IPAddress],
        headers: dict[str, str],
        body: bytes,
    ) -> _Outcome:
        """POST to the first checked address that accepts a connection."""
        for address in addresses[:-1]:
            try:
                return await self._send(pinned_route(url, address), headers, body)
            except httpx.ConnectError:
                continue
        return await self._send(pinned_route(url, addresses[-1]), headers, body)

    async def _send(self, route: Route, headers: dict[str, str], body: bytes) -> _Outcome:
        request = self._client.build_request(
            "POST",
            route.url,
            content=body,
            headers={**headers, **route.headers},
            timeout=self._policy.timeout_s,
            extensions=route.extensions,
        )
        response = await self._client.send(request, stream=True)
        await response.aclose()  # the receiver's answer body is of no interest
        return _classify(response.status_code)

    def _headers(self, item: OutboxItem, body: bytes, secret: str | None) -> dict[str, str]:
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "fluxserve",
            "X-Fluxserve-Event": item.event,
            "X-Fluxserve-Delivery": str(item.id),
            # One delivery per connection: pooled connections are keyed by address, and a TLS
            # session verified for one host name must not carry a request for another.
            "Connection": "close",
        }
        stamp = int(self._clock().timestamp())
        if self._policy.secret:
            headers[SIGNATURE_HEADER] = signature_header(self._policy.secret, stamp, body)
        if secret:
            headers.update(standard_headers(secret, delivery_id(item.id), stamp, body))
        return headers

    def _record(self, item: OutboxItem, outcome: _Outcome) -> None:
        if outcome.error is None and outcome.status_code is not None:
            self._outbox.mark_delivered(item.id, outcome.status_code)
            return
        error = outcome.error or "unknown error"
        tries = item.attempts + 1
        code = outcome.status_code
        if outcome.final:
            logger.warning("webhook delivery %s given up: %s", item.id, error)
            self._outbox.give_up(item.id, error, code)
        elif tries >= self._policy.max_attempts:
            logger.warning("webhook delivery %s given up after %d tries: %s", item.id, tries, error)
            self._outbox.give_up(item.id, f"{error} (gave up after {tries} attempts)", code)
        else:
            delay = self._policy.retry_delay_s(item.attempts, self._rng)
            next_at = self._clock() + timedelta(seconds=delay)
            self._outbox.reschedule(item.id, next_at, error, code)


def _classify(status_code: int) -> _Outcome:
    if 200 <= status_code < 300:
        return _Outcome(status_code=status_code)
    if status_code == 410:
        return _Outcome(status_code=status_code, error="receiver answered 410 Gone", final=True)
    return _Outcome(status_code=status_code, error=f"receiver answered HTTP {status_code}")


def _host_key(url: str) -> str:
    """Deliveries are limited per receiver origin (host and port)."""
    try:
        parsed = httpx.URL(url)
    except httpx.InvalidURL:
        return url
    return f"{parsed.host}:{parsed.port or parsed.scheme}"


async def _wait_for_any(
    stop: asyncio.Event, wake: asyncio.Event | None, freed: asyncio.Event, timeout: float
) -> None:
    """Sleep up to `timeout`, waking early when `stop`, `wake` or `freed` is set; clears
    `wake`."""
    waiters = [asyncio.ensure_future(stop.wait()), asyncio.ensure_future(freed.wait())]
    if wake is not None:
        waiters.append(asyncio.ensure_future(wake.wait()))
    try:
        await asyncio.wait(waiters, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiter in waiters:
            waiter.cancel()
    if wake is not None:
        wake.clear()
