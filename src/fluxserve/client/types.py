"""Typed views of the API's answers."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

TERMINAL = frozenset({"COMPLETED", "FAILED", "ERROR", "CANCELLED"})


@dataclass(frozen=True)
class Progress:
    step: int
    total: int


@dataclass(frozen=True)
class Status:
    """The universal status body (`GET /v2/requests/status/{id}`)."""

    request_id: str
    status: str
    model_id: str | None
    error: str | None
    media_urls: list[str]
    media_type: str | None
    progress: Progress | None
    # While QUEUED: jobs ahead (0: next). fluxserve sends it; other servers may not.
    queue_position: int | None
    raw: dict[str, Any] = field(repr=False)
    # Estimated seconds until it ends, while QUEUED or PROCESSING (None: unknown).
    eta_s: float | None = None

    @property
    def done(self) -> bool:
        return self.status in TERMINAL

    @classmethod
    def parse(cls, body: dict[str, Any]) -> Status:
        output = body.get("output") or {}
        progress = body.get("progress") or None
        return cls(
            request_id=str(body.get("request_id", "")),
            status=str(body.get("status", "")).upper(),
            model_id=body.get("model_id"),
            error=body.get("error"),
            media_urls=list(output.get("media_url") or []),
            media_type=output.get("media_type"),
            progress=Progress(int(progress["step"]), int(progress["total"]))
            if isinstance(progress, dict) and "step" in progress and "total" in progress
            else None,
            queue_position=body.get("queue_position"),
            raw=body,
            eta_s=body.get("eta_s"),
        )


@dataclass(frozen=True)
class Submission:
    """What a submit answered: a queued request (async routes), or the image URL itself
    (the sync routes, which answer `{"output": url}`)."""

    request_id: str | None
    status: str
    polling_url: str | None = None
    output_url: str | None = None


@dataclass(frozen=True)
class Image:
    """One output file; `download` fetches it (media URLs need no key)."""

    url: str
    media_type: str | None = None

    def download(self, *, timeout_s: float = 60.0) -> bytes:
        response = httpx.get(self.url, timeout=timeout_s, follow_redirects=True)
        response.raise_for_status()
        return response.content

    async def adownload(self, *, timeout_s: float = 60.0) -> bytes:
        async with httpx.AsyncClient(timeout=timeout_s, follow_redirects=True) as http:
            response = await http.get(self.url)
        response.raise_for_status()
        return response.content

    def save(self, path: str | Path) -> Path:
        target = Path(path)
        target.write_bytes(self.download())
        return target


@dataclass(frozen=True)
class Result:
    """A finished request and its images."""

    request_id: str | None
    model_id: str
    images: list[Image]

    def download(self) -> list[bytes]:
        return [image.download() for image in self.images]
