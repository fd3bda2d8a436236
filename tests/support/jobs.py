"""Submitting async requests and watching their status, for the end-to-end API tests."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import httpx

TERMINAL = ("COMPLETED", "FAILED", "ERROR", "CANCELLED")


def submit(
    base_url: str,
    path: str,
    key: str,
    body: dict[str, Any],
    headers: dict[str, str] | None = None,
) -> str:
    """POST an async request; asserts the 202 and returns its request id."""
    response = httpx.post(
        f"{base_url}{path}",
        headers={"Ocp-Apim-Subscription-Key": key, **(headers or {})},
        json=body,
        timeout=60,
    )
    assert response.status_code == 202, response.text
    return str(response.json()["request_id"])


def status(base_url: str, request_id: str, key: str) -> dict[str, Any]:
    response = httpx.get(
        f"{base_url}/v2/requests/status/{request_id}",
        headers={"Ocp-Apim-Subscription-Key": key},
        timeout=30,
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def wait_until(
    base_url: str,
    request_id: str,
    key: str,
    condition: Callable[[dict[str, Any]], bool],
    timeout_s: float = 120.0,
    interval_s: float = 0.05,
) -> dict[str, Any]:
    """Poll the status until `condition` holds for it; fails if the job ends first."""
    deadline = time.monotonic() + timeout_s
    body: dict[str, Any] = {}
    while time.monotonic() < deadline:
        body = status(base_url, request_id, key)
        if condition(body):
            return body
        assert body["status"] not in TERMINAL, f"{request_id} ended first: {body}"
        time.sleep(interval_s)
    raise AssertionError(f"{request_id}: condition not met in {timeout_s} s; last {body}")
