"""Turn a stored job spec into the engine's typed task, and engine output into stored media."""

from __future__ import annotations

import contextlib
import hashlib
import os
from pathlib import Path

from PIL import Image as PILImage
from PIL.Image import Image

from fluxserve.engine.boundary.messages import GenerateTask, LoraRef
from fluxserve.errors import InvalidRequest
from fluxserve.inputs.sizes import snap_to_multiple
from fluxserve.jobs.records import JobRecord
from fluxserve.jobs.spec import GenerationSpec
from fluxserve.provenance.facts import OutputFacts
from fluxserve.provenance.signer import ContentSigner, Signing
from fluxserve.storage.base import MediaStorage
from fluxserve.storage.encode import EncodedImage, encode_image


def _input(storage: MediaStorage, key: str | None, what: str) -> bytes | None:
    if key is None:
        return None
    found = storage.get(key)
    if found is None:
        raise InvalidRequest(f"{what} input is missing from storage ({key})")
    return found[0]


def lora_cache_name(key: str) -> str:
    """The file name of the cached copy of the stored LoRA `key`."""
    return hashlib.sha256(key.encode()).hexdigest()[:24] + ".safetensors"


def lora_file(storage: MediaStorage, key: str, cache_dir: Path) -> Path:
    """A local copy of a stored LoRA, so any storage backend can feed the engine a path. Its
    modification time is when it was last used: the retention sweeper goes by it."""
    target = cache_dir / lora_cache_name(key)
    if target.exists():
        with contextlib.suppress(FileNotFoundError):  # swept just now: fetched again below
            os.utime(target)
    if not target.exists():
        data = _input(storage, key, "LoRA")
        assert data is not None
        cache_dir.mkdir(parents=True, exist_ok=True)
        tmp = target.with_suffix(".tmp")
        tmp.write_bytes(data)
        tmp.replace(target)
    return target


def build_task(spec: GenerationSpec, storage: MediaStorage, lora_cache: Path) -> GenerateTask:
    # The engine refuses sizes off the 16-pixel grid: render at the nearest grid size, and
    # `to_requested_size` resamples to the exact size asked for.
    width, height = snap_to_multiple(spec.width, spec.height)
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


def attempt_folder(job: JobRecord) -> str:
    """Where one attempt of a job puts its outputs: attempts never share files, so a stale
    attempt that cleans up after itself cannot delete what the winning attempt published."""
    return f"outputs/{job.request_id}/{job.attempt_id}"


def output_facts(
    job: JobRecord, spec: GenerationSpec, index: int, parent_png: bytes | None
) -> OutputFacts:
    return OutputFacts(
        request_id=job.request_id,
        model_id=job.model_id,
        engine_model=spec.engine_model,
        operation=spec.operation,
        lora_count=len(spec.loras),
        prompt=spec.prompt,
        index=index,
        parent_png=parent_png,
    )


def encode_images(
    job: JobRecord,
    images: list[Image],
    spec: GenerationSpec,
    storage: MediaStorage,
    signer: ContentSigner | None = None,
) -> list[EncodedImage]:
    """Every image at its requested size in its requested format, signed when there is a
    signer, in memory: nothing is stored yet."""
    parent = _input(storage, spec.image_key, "image") if signer is not None else None
    encoded = []
    for index, image in enumerate(images):
        signing = None
        if signer is not None:
            signing = Signing(signer, output_facts(job, spec, index, parent))
        sized = to_requested_size(image, spec)
        encoded.append(encode_image(sized, spec.output_format, spec.output_quality, signing))
    return encoded


def put_images(
    job: JobRecord, encoded: list[EncodedImage], storage: MediaStorage
) -> tuple[list[str], str]:
    """Store encoded images under this attempt's folder; returns (storage keys, media type)."""
    keys: list[str] = []
    content_type = "application/octet-stream"
    for index, image in enumerate(encoded):
        key = f"{attempt_folder(job)}/output-{index}.{image.extension}"
        storage.put(key, image.data, image.content_type)
        keys.append(key)
        content_type = image.content_type
    return keys, content_type


def store_images(
    job: JobRecord,
    images: list[Image],
    spec: GenerationSpec,
    storage: MediaStorage,
    signer: ContentSigner | None = None,
) -> tuple[list[str], str]:
    """Encode (signing each image when there is a signer) and store every image under this
    attempt's folder; returns (storage keys, media type)."""
    return put_images(job, encode_images(job, images, spec, storage, signer), storage)
