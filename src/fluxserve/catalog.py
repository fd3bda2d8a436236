"""The model registry: every API model id, its routes, its defaults and price, and the engine
model behind it. Routes, the engine, the CLI tables, `/v1/models` and `docs/models.md` all read
this one table; adding a model or an endpoint starts here (see docs/architecture.md).

Two levels: *API models* are the ids clients see (from the hosted API's documentation);
*engine models* are the open-weight pipelines that back them. Several API models may share
one engine model (flux-pro, flux-dev and flux-pro-1-1 all run FLUX.1-dev)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

Mode = Literal["async", "sync", "batch"]

MAX_STEPS = 100
MAX_OUTPUT_PIXELS = 4_300_000  # FLUX1.1 ultra's ~4 MP sizes are the largest we render
AUTO_MAX_PIXELS = 2 * 1024 * 1024  # "auto" sizes keep the input's size up to 2 MP


@dataclass(frozen=True)
class EngineModel:
    """One set of open weights and the diffusers pipeline class that runs it."""

    id: str
    pipeline: str
    hub_id: str
    license: str
    family: str  # models of one family share text encoders and VAE
    # Prompt tokens, where the pipeline's default (512) is too many: diffusers documents 256
    # as FLUX.1-schnell's maximum.
    max_sequence_length: int | None = None


@dataclass(frozen=True)
class SizePrice:
    """A price tier: requests up to `max_pixels` cost `micros`."""

    max_pixels: int
    micros: int


@dataclass(frozen=True)
class Endpoint:
    """One HTTP route of an API model. `name` is its OpenAPI operation id."""

    name: str
    path: str
    mode: Mode
    summary: str
    # Input files the JSON body may carry inline as data URLs (sizes its body cap).
    inline_files: int = 0


@dataclass(frozen=True)
class Defaults:
    """What a request gets for what it leaves out, and the bounds of what it may ask."""

    steps: int | None = 28  # None: the endpoint takes no step count (trainers)
    max_steps: int = MAX_STEPS
    guidance: float | None = None  # None: the pipeline runs without guidance
    raw_guidance: float | None = None  # FLUX1.1 ultra's `raw: true`
    max_pixels: int = MAX_OUTPUT_PIXELS
    auto_max_pixels: int = AUTO_MAX_PIXELS
    sides: tuple[int, ...] = ()  # the only widths/heights accepted, when the API fixes them


@dataclass(frozen=True)
class ApiModel:
    """A model id as clients see it."""

    id: str
    title: str
    engine_model: str
    price_micros: int  # per output image (per training for trainers)
    endpoints: tuple[Endpoint, ...]
    defaults: Defaults = field(default_factory=Defaults)
    size_prices: tuple[SizePrice, ...] = ()
    price_documented: bool = True  # False: the hosted API lists no price; ours is a default
    trainer: bool = False

    def price_for(self, width: int, height: int, count: int, override_micros: int | None) -> int:
        """Price of one request: operator override, else size tier, else the flat price."""
        if override_micros is not None:
            return override_micros * count
        if self.size_prices:
            pixels = width * height
            tier = next((t for t in self.size_prices if pixels <= t.max_pixels), None)
            return (tier or self.size_prices[-1]).micros * count
        return self.price_micros * count


def _engine(
    id: str, pipeline: str, hub: str, license: str, family: str, max_seq: int | None = None
) -> EngineModel:
    return EngineModel(id, pipeline, f"black-forest-labs/{hub}", license, family, max_seq)


_DEV_LICENSE = "FLUX.1 [dev] Non-Commercial License"

ENGINE_MODELS: dict[str, EngineModel] = {
    m.id: m
    for m in (
        _engine("flux1-schnell", "FluxPipeline", "FLUX.1-schnell", "Apache-2.0", "flux1", 256),
        _engine("flux1-dev", "FluxPipeline", "FLUX.1-dev", _DEV_LICENSE, "flux1"),
        _engine("flux1-fill-dev", "FluxFillPipeline", "FLUX.1-Fill-dev", _DEV_LICENSE, "flux1"),
        _engine(
            "flux1-kontext-dev", "FluxKontextPipeline", "FLUX.1-Kontext-dev", _DEV_LICENSE, "flux1"
        ),
        _engine(
            "flux2-dev",
            "Flux2Pipeline",
            "FLUX.2-dev",
            "FLUX.2 [dev] Non-Commercial License",
            "flux2",
        ),
        _engine(
            "flux2-klein-4b", "Flux2KleinPipeline", "FLUX.2-klein-4B", "Apache-2.0", "flux2-klein"
        ),
        _engine(
            "flux2-klein-base-4b",
            "Flux2KleinPipeline",
            "FLUX.2-klein-base-4B",
            "Apache-2.0",
            "flux2-klein",
        ),
    )
}

_TRAINER_DEFAULTS = Defaults(steps=None)

API_MODELS: dict[str, ApiModel] = {
    m.id: m
    for m in (
        ApiModel(
            "flux-2-pro-text-to-image-799",
            "FLUX.2 Pro text to image",
            "flux2-dev",
            60_000,
            (
                Endpoint(
                    "flux2_pro_text_to_image",
                    "/flux-2-pro-text-to-image-799/v1/flux-2-pro-text-to-image-request",
                    "async",
                    "FLUX.2 [pro] text to image",
                ),
            ),
            Defaults(guidance=4.0),
        ),
        ApiModel(
            "flux-2-pro-image-to-image-866",
            "FLUX.2 Pro image editing",
            "flux2-dev",
            60_000,
            (
                Endpoint(
                    "flux2_pro_image_to_image",
                    "/flux-2-pro-image-to-image-866/v1/flux-2-pro-image-to-image-request",
                    "async",
                    "FLUX.2 [pro] image editing with a reference image",
                    inline_files=1,
                ),
            ),
            Defaults(guidance=4.0),
            price_documented=False,
        ),
        ApiModel(
            "flux-2-pro-image-to-image-trainer-831",
            "FLUX.2 LoRA trainer (one reference image)",
            "flux2-klein-base-4b",
            8_000_000,
            (
                Endpoint(
                    "flux2_image_trainer",
                    "/flux-2-pro-image-to-image-trainer-831/v1/"
                    "flux-2-pro-image-to-image-trainer-request",
                    "async",
                    "Train a FLUX.2 LoRA from one image or a zip",
                    inline_files=1,
                ),
            ),
            _TRAINER_DEFAULTS,
            price_documented=False,
            trainer=True,
        ),
        ApiModel(
            "flux-2-pro-text-to-image-trainer-712",
            "FLUX.2 LoRA trainer (dataset)",
            "flux2-klein-base-4b",
            8_000_000,
            (
                Endpoint(
                    "flux2_dataset_trainer",
                    "/flux-2-pro-text-to-image-trainer-712/v1/"
                    "flux-2-pro-text-to-image-trainer-request",
                    "async",
                    "Train a FLUX.2 LoRA from a zip of captioned images",
                    inline_files=1,
                ),
            ),
            _TRAINER_DEFAULTS,
            trainer=True,
        ),
        ApiModel(
            "flux-kontext-restore-image",
            "FLUX Kontext image restoration",
            "flux1-kontext-dev",
            40_000,
            (
                Endpoint(
                    "kontext_restore",
                    "/flux-kontext-restore-image/v1/flux-kontext-restore-image/generate",
                    "async",
                    "Restore an old or damaged photograph",
                    inline_files=1,
                ),
            ),
            # Kontext works at about one megapixel.
            Defaults(guidance=2.5, auto_max_pixels=1024 * 1024),
        ),
        ApiModel(
            "flux-2-klein-4b",
            "FLUX.2 klein 4B text to image",
            "flux2-klein-4b",
            700,
            (
                Endpoint(
                    "klein_generate",
                    "/flux-2-klein-4b/v1/generateImage",
                    "sync",
                    "FLUX.2 [klein] 4B text to image, answered with the image URL",
                ),
            ),
            # klein 4B is step-distilled: it runs without classifier-free guidance.
            Defaults(steps=25, guidance=1.0, sides=(512, 1024, 1448, 2048)),
            size_prices=(
                SizePrice(512 * 512, 300),
                SizePrice(1024 * 1024, 700),
                SizePrice(1448 * 1448, 1_400),
                SizePrice(2048 * 2048, 2_800),
            ),
        ),
        ApiModel(
            "flux-2-dev",
            "FLUX.2 dev text to image",
            "flux2-dev",
            25_000,
            (
                Endpoint(
                    "flux2_dev_generate",
                    "/generateT2I",
                    "sync",
                    "FLUX.2 [dev] text to image, answered with the image URL",
                ),
            ),
            Defaults(guidance=4.0),
            price_documented=False,
        ),
        ApiModel(
            "flux-pro-1-1",
            "FLUX 1.1 Pro Ultra",
            "flux1-dev",
            80_000,
            (
                Endpoint(
                    "ultra_generate",
                    "/pro1.1/v1/pro1.1ultra/generateRequest",
                    "async",
                    "FLUX1.1 [pro] ultra: about 4 megapixels by aspect ratio",
                ),
            ),
            # "raw": lower guidance gives the less processed, natural look.
            Defaults(guidance=3.5, raw_guidance=2.5),
        ),
        ApiModel(
            "flux-1-schnell",
            "FLUX.1 schnell",
            "flux1-schnell",
            0,
            (
                Endpoint(
                    "schnell_generate",
                    "/flux-1-schnell/v1/getData",
                    "sync",
                    "FLUX.1 [schnell] text to image, answered with the image URL",
                ),
                Endpoint(
                    "schnell_batch",
                    "/flux-1-schnell/v1/getDataBatch",
                    "batch",
                    "FLUX.1 [schnell] queued: a webhook, or up to 60 s of waiting",
                ),
                Endpoint(
                    "schnell_check_status",
                    "/flux-1-schnell/v1/checkStatus",
                    "batch",
                    "The status of a getDataBatch request",
                ),
            ),
            # schnell is a few-step model: more than 8 steps only costs time.
            Defaults(steps=4, max_steps=8),
        ),
        ApiModel(
            "flux-pro",
            "FLUX Pro text to image",
            "flux1-dev",
            30_000,
            (
                Endpoint(
                    "flux_pro_text_to_image",
                    "/flux-pro/v1/pro/textToImage",
                    "async",
                    "FLUX Pro text to image",
                ),
            ),
            Defaults(guidance=3.5),
        ),
        ApiModel(
            "flux-dev",
            "FLUX dev text to image / image to image",
            "flux1-dev",
            25_000,
            (
                Endpoint(
                    "flux_dev_text_to_image",
                    "/flux-dev/v1/dev/textToImage",
                    "async",
                    "FLUX.1 [dev] text to image",
                ),
                Endpoint(
                    "flux_dev_image_to_image",
                    "/flux-dev/v1/dev/imageToImage",
                    "async",
                    "FLUX.1 [dev] image to image",
                    inline_files=1,
                ),
            ),
            Defaults(guidance=3.5),
        ),
        ApiModel(
            "flux-fill-dev",
            "FLUX Fill dev inpainting",
            "flux1-fill-dev",
            40_000,
            (
                Endpoint(
                    "fill_generate",
                    "/flux-fill-dev/v1/flux-fill/generate",
                    "async",
                    "FLUX.1 Fill [dev] inpainting: white in the mask is repainted",
                    inline_files=2,
                ),
            ),
            Defaults(guidance=30.0),
        ),
    )
}


def endpoint(name: str) -> Endpoint:
    """The registered endpoint called `name` (a route module names its own)."""
    for model in API_MODELS.values():
        for candidate in model.endpoints:
            if candidate.name == name:
                return candidate
    raise KeyError(name)
