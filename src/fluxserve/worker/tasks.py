"""Turn a stored job spec into the engine's typed task, and engine output into stored media."""

from __future__ import annotations

import hashlib
from pathlib import Path

from PIL import Image as PILImage
from PIL.Image import Image

from fluxserve.engine.messages import GenerateTask, LoraRef
from fluxserve.errors import InvalidRequest
from fluxserve.jobs.spec import GenerationSpec
from fluxserve.storage.base import MediaStorage
from fluxserve.storage.encode import encode_image

# FLUX works in 16-pixel units (8x VAE, 2x2 patches); other sizes are rendered at the nearest
# unit size and resampled to the exact size asked for.
PIXEL_UNIT = 16


def engine_size(width: int, height: int) -> tuple[int, int]:
    def snap(side: int) -> int:
        return max(PIXEL_UNIT, round(side / PIXEL_UNIT) * PIXEL_UNIT)

    return snap(width), snap(height)


def _input(storage: MediaStorage, key: str | None, what: str) -> bytes | None:
    if key is None:
        return None
    found = storage.get(key)
    if found is None:
        raise InvalidRequest(f"{what} input is missing from storage ({key})")
    return found[0]


def lora_file(storage: MediaStorage, key: str, cache_dir: Path) -> Path:
    """A local copy of a stored LoRA, so any storage backend can feed the engine a path."""
    target = cache_dir / (hashlib.sha256(key.encode()).hexdigest()[:24] + ".safetensors")
    if not target.exists():
        data = _input(storage, key, "LoRA")
        assert data is not None
        cache_dir.mkdir(parents=True, exist_ok=True)
        tmp = target.with_suffix(".tmp")
        tmp.write_bytes(data)
        tmp.replace(target)
    return target


def build_task(spec: GenerationSpec, storage: MediaStorage, lora_cache: Path) -> GenerateTask:
    width, height = engine_size(spec.width, spec.height)
    loras = tuple(
        LoraRef(
            name="lora_" + hashlib.sha256(lora.storage_key.encode()).hexdigest()[:16],
            path=str(lora_file(storage, lora.storage_key, lora_cache)),
            scale=lora.scale,
        )
        for lora in spec.loras
    )
    return GenerateTask(
        engine_model=spec.engine_model,
        operation=spec.operation,
        prompt=spec.prompt,
        width=width,
        height=height,
        steps=spec.steps,
        seeds=tuple(spec.seeds),
        guidance=spec.guidance,
        strength=spec.strength,
        image=_input(storage, spec.image_key, "image"),
        mask=_input(storage, spec.mask_key, "mask"),
        acceleration=spec.acceleration,
        loras=loras,
    )


def to_requested_size(image: Image, spec: GenerationSpec) -> Image:
    if image.size == (spec.width, spec.height):
        return image
    return image.resize((spec.width, spec.height), PILImage.Resampling.LANCZOS)


def store_images(
    request_id: str, images: list[Image], spec: GenerationSpec, storage: MediaStorage
) -> tuple[list[str], str]:
    """Encode and store every image; returns (urls, media type)."""
    urls: list[str] = []
    content_type = "application/octet-stream"
    for index, image in enumerate(images):
        encoded = encode_image(
            to_requested_size(image, spec), spec.output_format, spec.output_quality
        )
        key = f"outputs/{request_id}/output-{index}.{encoded.extension}"
        urls.append(storage.put(key, encoded.data, encoded.content_type))
        content_type = encoded.content_type
    return urls, content_type
