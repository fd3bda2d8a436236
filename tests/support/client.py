"""Client-side helpers: what a user's script does against the API (poll, download)."""

from __future__ import annotations

import io
import time
from typing import Any

import httpx
from PIL import Image


def poll(base_url: str, request_id: str, key: str, timeout_s: float = 240.0) -> dict[str, Any]:
    """Poll the universal status endpoint until the request ends."""
    deadline = time.monotonic() + timeout_s
    body: dict[str, Any] = {}
    while time.monotonic() < deadline:
        response = httpx.get(
            f"{base_url}/v2/requests/status/{request_id}",
            headers={"Ocp-Apim-Subscription-Key": key},
            timeout=30,
        )
        assert response.status_code == 200, response.text
        body = response.json()
        if body["status"] in ("COMPLETED", "FAILED", "ERROR"):
            return body
        time.sleep(0.2)
    raise AssertionError(f"{request_id} still {body.get('status')} after {timeout_s} s")


def download_image(url: str) -> tuple[Image.Image, str]:
    """Fetch a media URL; returns the decoded image and the response's content type."""
    response = httpx.get(url, timeout=30)
    assert response.status_code == 200, response.text
    image = Image.open(io.BytesIO(response.content))
    image.load()
    return image, response.headers["content-type"]
