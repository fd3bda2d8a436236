"""Every model route of the hosted API, for the catalog listing and the docs."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Route:
    model_id: str
    method: str
    path: str
    mode: str


ROUTES: tuple[Route, ...] = (
    Route(
        "flux-2-pro-text-to-image-799",
        "POST",
        "/flux-2-pro-text-to-image-799/v1/flux-2-pro-text-to-image-request",
        "async",
    ),
    Route(
        "flux-2-pro-image-to-image-866",
        "POST",
        "/flux-2-pro-image-to-image-866/v1/flux-2-pro-image-to-image-request",
        "async",
    ),
    Route(
        "flux-2-pro-image-to-image-trainer-831",
        "POST",
        "/flux-2-pro-image-to-image-trainer-831/v1/flux-2-pro-image-to-image-trainer-request",
        "async",
    ),
    Route(
        "flux-2-pro-text-to-image-trainer-712",
        "POST",
        "/flux-2-pro-text-to-image-trainer-712/v1/flux-2-pro-text-to-image-trainer-request",
        "async",
    ),
    Route(
        "flux-kontext-restore-image",
        "POST",
        "/flux-kontext-restore-image/v1/flux-kontext-restore-image/generate",
        "async",
    ),
    Route("flux-2-klein-4b", "POST", "/flux-2-klein-4b/v1/generateImage", "sync"),
    Route("flux-2-dev", "POST", "/generateT2I", "sync"),
    Route("flux-pro-1-1", "POST", "/pro1.1/v1/pro1.1ultra/generateRequest", "async"),
    Route("flux-1-schnell", "POST", "/flux-1-schnell/v1/getData", "sync"),
    Route("flux-1-schnell", "POST", "/flux-1-schnell/v1/getDataBatch", "batch"),
    Route("flux-pro", "POST", "/flux-pro/v1/pro/textToImage", "async"),
    Route("flux-dev", "POST", "/flux-dev/v1/dev/textToImage", "async"),
    Route("flux-dev", "POST", "/flux-dev/v1/dev/imageToImage", "async"),
    Route("flux-fill-dev", "POST", "/flux-fill-dev/v1/flux-fill/generate", "async"),
)
