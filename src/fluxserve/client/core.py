"""What the sync and async clients share, free of I/O: headers, which route a model id means,
the retry policy, and reading answers. Each client only sends and sleeps."""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

import httpx

from fluxserve.catalog import API_MODELS
from fluxserve.client.errors import (
    ModerationError,
    RequestCancelled,
    RequestFailed,
    api_error,
    is_moderation,
)
from fluxserve.client.types import Image, Result, Status, Submission

DEFAULT_BASE_URL = "http://127.0.0.1:8000"
STATUS_PATH = "/v2/requests/status/{request_id}"
CANCEL_PATH = "/v2/requests/{request_id}/cancel"
# A retried GET cannot do harm; a POST is retried only where the server did not take it (429,
# 502, 503, or no connection), since a 500 or 504 may come after the job was queued.
_RETRY_GET = frozenset({429, 500, 502, 503, 504})
_RETRY_POST = frozenset({429, 502, 503})
_IMAGE_PARAMS = ("image_url", "image_urls", "image", "input_image")


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff with jitter; a server's `Retry-After` wins over the computed delay."""

    max_retries: int = 3
    base_delay_s: float = 0.5
    max_delay_s: float = 30.0

    def backoff(self, attempt: int) -> float:
        computed = min(self.max_delay_s, self.base_delay_s * 2.0**attempt)
        return computed * (0.5 + random.random() / 2)


def retry_after_s(response: httpx.Response) -> float | None:
    """`Retry-After` in seconds, whether given as seconds or as an HTTP date."""
    value = response.headers.get("Retry-After")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


class Attempts:
    """The retry state of one call: after each answer, how long to wait before the next try,
    None when the answer is final and good, or the exception to raise."""

    def __init__(self, policy: RetryPolicy, method: str) -> None:
        self.policy = policy
        self.method = method.upper()
        self.attempt = 0

    def _left(self) -> bool:
        return self.attempt < self.policy.max_retries

    def after_response(self, response: httpx.Response) -> float | None:
        status = response.status_code
        if status < 400:
            return None
        retryable = _RETRY_GET if self.method == "GET" else _RETRY_POST
        hinted = retry_after_s(response)
        if status in retryable and self._left():
            delay = hinted if hinted is not None else self.policy.backoff(self.attempt)
            self.attempt += 1
            return min(delay, self.policy.max_delay_s)
        raise api_error(status, _json_or_text(response), hinted)

    def after_transport_error(self, exc: httpx.TransportError) -> float:
        unsent = isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout)
        if (self.method == "GET" or unsent) and self._left():
            delay = self.policy.backoff(self.attempt)
            self.attempt += 1
            return delay
        raise exc


def _json_or_text(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return response.text


def headers(api_key: str | None) -> dict[str, str]:
    """The spec's two key headers (routes differ in which one they read; fluxserve takes
    either), and a Bearer for the OpenAI routes."""
    if not api_key:
        return {}
    return {
        "Ocp-Apim-Subscription-Key": api_key,
        "X-Secret-Key": api_key,
        "Authorization": f"Bearer {api_key}",
    }


def submit_headers(api_key: str | None, idempotency_key: str | None) -> dict[str, str]:
    """Headers of a submit: one `Idempotency-Key` for all its retries, so a server that keeps
    them never queues one request twice."""
    return {**headers(api_key), "Idempotency-Key": idempotency_key or str(uuid.uuid4())}


def route_for(model: str, params: dict[str, Any], endpoint: str | None = None) -> str:
    """The path to POST to: `model` may be a path ("/flux-dev/v1/dev/textToImage") or a model
    id; a model with several routes takes its image-to-image one when an image is given."""
    if model.startswith("/"):
        return model
    api_model = API_MODELS.get(model)
    if api_model is None:
        known = ", ".join(sorted(API_MODELS))
        raise ValueError(f"unknown model {model!r}: pass a route path, or one of: {known}")
    routes = [e for e in api_model.endpoints if e.mode != "batch"]
    if endpoint is not None:
        chosen = [e for e in api_model.endpoints if endpoint in (e.name, e.path)]
        if not chosen:
            raise ValueError(f"{model} has no endpoint {endpoint!r}")
        return chosen[0].path
    if any(name in params for name in _IMAGE_PARAMS):
        routes.sort(key=lambda e: "image_to_image" not in e.name)
    return routes[0].path


def submission(body: Any) -> Submission:
    if isinstance(body, dict) and isinstance(body.get("output"), str):
        return Submission(request_id=None, status="COMPLETED", output_url=body["output"])
    if not isinstance(body, dict) or "request_id" not in body:
        raise ValueError(f"unexpected answer to a submit: {body!r}")
    return Submission(
        request_id=str(body["request_id"]),
        status=str(body.get("status", "QUEUED")),
        polling_url=body.get("polling_url"),
    )


def result_of(status: Status) -> Result | None:
    """The result once the request has ended well; raises when it ended badly; None before."""
    if status.status == "COMPLETED":
        images = [Image(url, status.media_type) for url in status.media_urls]
        return Result(status.request_id, status.model_id or "", images)
    if status.status == "CANCELLED":
        raise RequestCancelled(status.request_id, status.status, status.error)
    if status.status in ("FAILED", "ERROR"):
        kind = ModerationError if is_moderation(status.error) else RequestFailed
        raise kind(status.request_id, status.status, status.error)
    return None


def sync_result(model: str, done: Submission) -> Result:
    assert done.output_url is not None
    return Result(None, model, [Image(done.output_url)])


def body_fields(openapi: Any, path: str) -> set[str] | None:
    """The fields of a route's JSON body as `/openapi.json` documents them (None: unknown)."""
    try:
        post = openapi["paths"][path]["post"]
        schema = post["requestBody"]["content"]["application/json"]["schema"]
        if "$ref" in schema:
            schema = openapi["components"]["schemas"][schema["$ref"].rsplit("/", 1)[-1]]
        return set(schema["properties"])
    except (KeyError, TypeError):
        return None
