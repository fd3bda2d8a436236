"""The asynchronous client: the same calls as `Client`, awaited."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from types import TracebackType
from typing import Any

import httpx

from fluxserve.client import core
from fluxserve.client.errors import APIError, WaitTimeout
from fluxserve.client.types import Result, Status, Submission

ProgressCallback = Callable[[Status], Awaitable[None] | None]


class AsyncClient:
    """`AsyncClient(api_key, base_url)`: `Client` for asyncio code."""

    def __init__(
        self,
        api_key: str | None,
        base_url: str = core.DEFAULT_BASE_URL,
        *,
        timeout_s: float = 120.0,
        retry: core.RetryPolicy | None = None,
        poll_interval_s: float = 0.5,
        http: httpx.AsyncClient | None = None,
    ) -> None:
        self.api_key = api_key
        self.base_url = base_url.rstrip("/")
        self.retry = retry or core.RetryPolicy()
        self.poll_interval_s = poll_interval_s
        self._http = http or httpx.AsyncClient(timeout=timeout_s)
        self._openapi: Any = None

    async def _send(
        self, method: str, path: str, *, json: Any = None, headers: dict[str, str] | None = None
    ) -> httpx.Response:
        attempts = core.Attempts(self.retry, method)
        sent = headers or core.headers(self.api_key)
        while True:
            try:
                response = await self._http.request(
                    method, f"{self.base_url}{path}", json=json, headers=sent
                )
            except httpx.TransportError as exc:
                await asyncio.sleep(attempts.after_transport_error(exc))
                continue
            delay = attempts.after_response(response)
            if delay is None:
                return response
            await asyncio.sleep(delay)

    async def submit(
        self,
        model: str,
        /,
        *,
        endpoint: str | None = None,
        idempotency_key: str | None = None,
        **params: Any,
    ) -> Submission:
        """POST the request. `model` is a model id or a route path; `params` is its body."""
        path = core.route_for(model, params, endpoint)
        response = await self._send(
            "POST", path, json=params, headers=core.submit_headers(self.api_key, idempotency_key)
        )
        return core.submission(response.json())

    async def status(self, request_id: str) -> Status:
        path = core.STATUS_PATH.format(request_id=request_id)
        return Status.parse((await self._send("GET", path)).json())

    async def wait(
        self,
        request_id: str,
        *,
        timeout_s: float | None = None,
        on_progress: ProgressCallback | None = None,
    ) -> Result:
        """Poll until the request ends (fluxserve has no events stream yet). Raises
        `RequestFailed`/`ModerationError` when it ends badly, `WaitTimeout` after `timeout_s`."""
        deadline = None if timeout_s is None else time.monotonic() + timeout_s
        while True:
            status = await self.status(request_id)
            if on_progress is not None:
                shown = on_progress(status)
                if shown is not None:
                    await shown
            result = core.result_of(status)
            if result is not None:
                return result
            if deadline is not None and time.monotonic() >= deadline:
                raise WaitTimeout(f"{request_id} is still {status.status} after {timeout_s} s")
            await asyncio.sleep(self.poll_interval_s)

    async def run(
        self,
        model: str,
        /,
        *,
        endpoint: str | None = None,
        timeout_s: float | None = None,
        on_progress: ProgressCallback | None = None,
        **params: Any,
    ) -> Result:
        """Submit and wait: the images of a finished request."""
        done = await self.submit(model, endpoint=endpoint, **params)
        if done.request_id is None:
            return core.sync_result(model, done)
        return await self.wait(done.request_id, timeout_s=timeout_s, on_progress=on_progress)

    async def cancel(self, request_id: str) -> Status:
        """`POST /v2/requests/{id}/cancel`: the status, CANCELLED (uncharged). A request that
        has ended already raises `ConflictError` (409); servers without the route (the hosted
        API) answer 404, raised as `NotFoundError`."""
        path = core.CANCEL_PATH.format(request_id=request_id)
        return Status.parse((await self._send("POST", path)).json())

    async def account(self) -> dict[str, Any]:
        """The key's name and wallet (`GET /v1/account`, a fluxserve route)."""
        body: dict[str, Any] = (await self._send("GET", "/v1/account")).json()
        return body

    async def body_fields(
        self, model: str, params: dict[str, Any] | None = None
    ) -> set[str] | None:
        """The body fields the route of `model` takes, from the server's `/openapi.json`
        (None where the server publishes none)."""
        if self._openapi is None:
            try:
                self._openapi = (await self._send("GET", "/openapi.json")).json()
            except (httpx.HTTPError, ValueError, APIError):
                self._openapi = {}
        return core.body_fields(self._openapi, core.route_for(model, params or {}))

    async def close(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()
