"""The model catalog: which API model ids exist, what backs them, and what they cost.

Two levels: *API models* are the ids clients see (from the hosted API's documentation);
*engine models* are the open-weight pipelines that back them. Several API models may share
one engine model (flux-pro, flux-dev and flux-pro-1-1 all run FLUX.1-dev)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Mode = Literal["async", "sync", "batch"]


@dataclass(frozen=True)
class EngineModel:
    """One set of open weights and the diffusers pipeline class that runs it."""

    id: str
    pipeline: str
    hub_id: str
    license: str
    family: str  # models of one family share text encoders and VAE


ENGINE_MODELS: dict[str, EngineModel] = {
    m.id: m
    for m in (
        EngineModel(
            "flux1-schnell",
            "FluxPipeline",
            "black-forest-labs/FLUX.1-schnell",
            "Apache-2.0",
            "flux1",
        ),
        EngineModel(
            "flux1-dev",
            "FluxPipeline",
            "black-forest-labs/FLUX.1-dev",
            "FLUX.1 [dev] Non-Commercial License",
            "flux1",
        ),
        EngineModel(
            "flux1-fill-dev",
            "FluxFillPipeline",
            "black-forest-labs/FLUX.1-Fill-dev",
            "FLUX.1 [dev] Non-Commercial License",
            "flux1",
        ),
        EngineModel(
            "flux1-kontext-dev",
            "FluxKontextPipeline",
            "black-forest-labs/FLUX.1-Kontext-dev",
            "FLUX.1 [dev] Non-Commercial License",
            "flux1",
        ),
        EngineModel(
            "flux2-dev",
            "Flux2Pipeline",
            "black-forest-labs/FLUX.2-dev",
            "FLUX.2 [dev] Non-Commercial License",
            "flux2",
        ),
        EngineModel(
            "flux2-klein-4b",
            "Flux2KleinPipeline",
            "black-forest-labs/FLUX.2-klein-4B",
            "Apache-2.0",
            "flux2-klein",
        ),
        EngineModel(
            "flux2-klein-base-4b",
            "Flux2KleinPipeline",
            "black-forest-labs/FLUX.2-klein-base-4B",
            "Apache-2.0",
            "flux2-klein",
        ),
    )
}


@dataclass(frozen=True)
class SizePrice:
    """A price tier: requests up to `max_pixels` cost `micros`."""

    max_pixels: int
    micros: int


@dataclass(frozen=True)
class ApiModel:
    """A model id as clients see it."""

    id: str
    title: str
    engine_model: str
    price_micros: int  # per output image (per training for trainers)
    size_prices: tuple[SizePrice, ...] = ()
    price_documented: bool = True  # False: the hosted API lists no price; ours is a default

    def price_for(self, width: int, height: int, count: int, override_micros: int | None) -> int:
        """Price of one request: operator override, else size tier, else the flat price."""
        if override_micros is not None:
            return override_micros * count
        if self.size_prices:
            pixels = width * height
            for tier in self.size_prices:
                if pixels <= tier.max_pixels:
                    return tier.micros * count
            return self.size_prices[-1].micros * count
        return self.price_micros * count


API_MODELS: dict[str, ApiModel] = {
    m.id: m
    for m in (
        ApiModel("flux-2-pro-text-to-image-799", "FLUX.2 Pro text to image", "flux2-dev", 60_000),
        ApiModel(
            "flux-2-pro-image-to-image-866",
            "FLUX.2 Pro image editing",
            "flux2-dev",
            60_000,
            price_documented=False,
        ),
        ApiModel(
            "flux-2-pro-image-to-image-trainer-831",
            "FLUX.2 LoRA trainer (one reference image)",
            "flux2-klein-base-4b",
            8_000_000,
            price_documented=False,
        ),
        ApiModel(
            "flux-2-pro-text-to-image-trainer-712",
            "FLUX.2 LoRA trainer (dataset)",
            "flux2-klein-base-4b",
            8_000_000,
        ),
        ApiModel(
            "flux-kontext-restore-image",
            "FLUX Kontext image restoration",
            "flux1-kontext-dev",
            40_000,
        ),
        ApiModel(
            "flux-2-klein-4b",
            "FLUX.2 klein 4B text to image",
            "flux2-klein-4b",
            700,
            size_prices=(
                SizePrice(512 * 512, 300),
                SizePrice(1024 * 1024, 700),
                SizePrice(1448 * 1448, 1_400),
                SizePrice(2048 * 2048, 2_800),
            ),
        ),
        ApiModel(
            "flux-2-dev", "FLUX.2 dev text to image", "flux2-dev", 25_000, price_documented=False
        ),
        ApiModel("flux-pro-1-1", "FLUX 1.1 Pro Ultra", "flux1-dev", 80_000),
        ApiModel("flux-1-schnell", "FLUX.1 schnell", "flux1-schnell", 0),
        ApiModel("flux-pro", "FLUX Pro text to image", "flux1-dev", 30_000),
        ApiModel("flux-dev", "FLUX dev text to image / image to image", "flux1-dev", 25_000),
        ApiModel("flux-fill-dev", "FLUX Fill dev inpainting", "flux1-fill-dev", 40_000),
    )
}
