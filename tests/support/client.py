"""Client-side helpers: what a user's script does against the API (poll, download)."""

from __future__ import annotations

import io
import time
from typing import Any

import httpx
from PIL import Image


def poll(base_url: str, request_id: str, key: str, stall_s: float = 240.0) -> dict[str, Any]:
    """Poll the universal status endpoint until the request ends. Fails only when the request
    shows no change (state or progress) for `stall_s`: a busy machine is slow, not stuck."""
    deadline = time.monotonic() + stall_s
    body: dict[str, Any] = {}
    seen: tuple[object, ...] = ()
    while time.monotonic() < deadline:
        response = httpx.get(
            f"{base_url}/v2/requests/status/{request_id}",
            headers={"Ocp-Apim-Subscription-Key": key},
            timeout=30,
        )
        assert response.status_code == 200, response.text
        body = response.json()
        if body["status"] in ("COMPLETED", "FAILED", "ERROR", "CANCELLED"):
            return body
        now = (body["status"], str(body.get("progress")))
        if now != seen:
            seen, deadline = now, time.monotonic() + stall_s
        time.sleep(0.2)
    raise AssertionError(f"{request_id} stuck {body.get('status')} for {stall_s} s: {body}")


def download_image(url: str) -> tuple[Image.Image, str]:
    """Fetch a media URL; returns the decoded image and the response's content type."""
    response = httpx.get(url, timeout=30)
    assert response.status_code == 200, response.text
    image = Image.open(io.BytesIO(response.content))
    image.load()
    return image, response.headers["content-type"]


def as_files(status_body: dict[str, Any]) -> dict[str, Any]:
    """`status_body` without the status route's own fields (`provenance`, `expires_at`), each
    URL as the file it names: links are signed afresh on every read, so a webhook body and a
    later status read name the same files by different URLs."""
    body = {k: v for k, v in status_body.items() if k not in ("provenance", "expires_at")}
    if body.get("output") is not None:
        urls = ["outputs/" + url.split("/outputs/", 1)[1] for url in body["output"]["media_url"]]
        body["output"] = {**body["output"], "media_url": urls}
    return body
