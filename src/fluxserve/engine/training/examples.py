"""Training examples for a FLUX.2 LoRA: images as normalised latents, captions as embeddings.

Both are computed once, before the first step, with the pipeline's own helpers (its image
processor, `_encode_vae_image`, `_prepare_latent_ids`, `encode_prompt`), so training sees
exactly the latent and text spaces that generation uses."""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from diffusers.utils.torch_utils import get_module_execution_device
from PIL import Image

from fluxserve.engine.boundary.messages import TrainTask
from fluxserve.engine.decode import decode_image
from fluxserve.engine.pipelines import Pipeline, latent_multiple

# Extreme panoramas are centre-cropped to this aspect ratio first, so that resizing to the
# training area never yields a thousands-of-tokens sliver.
MAX_ASPECT_RATIO = 4.0


@dataclass(frozen=True)
class Example:
    """One image-caption pair, ready for the transformer."""

    latents: torch.Tensor  # (1, C, h, w): patchified and batch-norm normalised, as generation
    latent_ids: torch.Tensor  # (1, h*w, 4)
    prompt_embeds: torch.Tensor  # (1, seq, dim)
    text_ids: torch.Tensor  # (1, seq, 4)


def prompt_for(trigger: str, caption: str | None) -> str:
    """The training prompt: the trigger phrase, followed by the caption when there is one."""
    return " ".join(part for part in (trigger.strip(), (caption or "").strip()) if part)


@torch.no_grad()
def prepare_examples(pipe: Pipeline, task: TrainTask) -> list[Example]:
    """Encode every image and caption of `task`; equal prompts are encoded once."""
    device = pipe._execution_device
    texts: dict[str, tuple[torch.Tensor, torch.Tensor]] = {}
    examples = []
    for index, (image, caption) in enumerate(zip(task.images, task.captions, strict=True)):
        prompt = prompt_for(task.trigger, caption)
        if prompt not in texts:
            texts[prompt] = pipe.encode_prompt(prompt=prompt, device=device)
        prompt_embeds, text_ids = texts[prompt]
        decoded = decode_image(image, "RGB", what=f"training image {index + 1}")
        latents = _encode_image(pipe, decoded, task.resolution).to(device)
        latent_ids = pipe._prepare_latent_ids(latents).to(device)
        examples.append(Example(latents, latent_ids, prompt_embeds, text_ids))
    return examples


def _encode_image(pipe: Pipeline, image: Image.Image, resolution: int) -> torch.Tensor:
    """VAE latents of `image` resized to about resolution² pixels, as the pipeline encodes
    its reference images (resize to the area, crop to the VAE's multiple, encode)."""
    processor = pipe.image_processor
    image = processor._resize_to_target_area(_crop_aspect(image), resolution * resolution)
    multiple = latent_multiple(pipe)
    width = max(multiple, image.width // multiple * multiple)
    height = max(multiple, image.height // multiple * multiple)
    pixels = processor.preprocess(image, height=height, width=width, resize_mode="crop")
    pixels = pixels.to(device=get_module_execution_device(pipe.vae), dtype=pipe.vae.dtype)
    latents: torch.Tensor = pipe._encode_vae_image(pixels, generator=None)
    return latents


def _crop_aspect(image: Image.Image) -> Image.Image:
    width, height = image.size
    if max(width / height, height / width) <= MAX_ASPECT_RATIO:
        return image
    if width > height:
        keep = math.floor(height * MAX_ASPECT_RATIO)
        left = (width - keep) // 2
        return image.crop((left, 0, left + keep, height))
    keep = math.floor(width * MAX_ASPECT_RATIO)
    top = (height - keep) // 2
    return image.crop((0, top, width, top + keep))
