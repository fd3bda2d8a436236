"""Which loaded modules pipelines of one family may share, and when two models' copies are the
same weights. Torch-free.

Sharing is decided by a *share key*: two models of a family share their text encoders, tokenizers
and VAE when their keys are equal (and not None).
- Demo weights of one family are built with identical encoders and VAE, so they always match.
- Random weights (`random:full`, `random:tiny`) are built per model and never shared.
- The stock hub repositories of a family (the catalog's `hub_id`s) ship the same encoders and VAE
  (FLUX.1 dev/schnell/Fill/Kontext: CLIP-L, T5-XXL, the FLUX.1 autoencoder; FLUX.2 klein 4B and
  klein base 4B: Qwen3-4B and the FLUX.2 autoencoder), so they match at equal revision-independent
  ids. Any other hub id shares nothing: we cannot inspect it before downloading.
- Local folders match when the shared components' config and tokenizer files are byte-identical:
  a fine-tuned transformer beside stock encoders still shares. (Encoders re-trained without any
  change to their config would wrongly share; such folders are rare for FLUX and not detected.)
Models on different devices or dtypes never share."""

from __future__ import annotations

import hashlib
from collections.abc import Hashable
from pathlib import Path

from fluxserve.catalog import ENGINE_MODELS
from fluxserve.engine.loading.weights import WeightsSource

SHARED_COMPONENTS: dict[str, tuple[str, ...]] = {
    "flux1": ("text_encoder", "text_encoder_2", "tokenizer", "tokenizer_2", "vae"),
    "flux2-klein": ("text_encoder", "tokenizer", "vae"),
    "flux2": (),
}

_CONFIG_FILES = (
    "config.json",
    "tokenizer_config.json",
    "tokenizer.json",
    "special_tokens_map.json",
)


def shared_components(engine_model: str) -> tuple[str, ...]:
    """Names of the pipeline components `engine_model` may take from a family member."""
    return SHARED_COMPONENTS.get(ENGINE_MODELS[engine_model].family, ())


def share_key(source: WeightsSource, device: str, dtype: str) -> Hashable | None:
    """Equal keys (never None) mean the two models' shared components are the same weights."""
    family = ENGINE_MODELS[source.engine_model].family
    components = SHARED_COMPONENTS.get(family, ())
    if not components:
        return None
    if source.kind == "demo":
        return ("demo", family, device, dtype)
    if source.kind == "random":
        return None  # every random build has weights of its own
    if source.kind == "hub":
        stock = {m.hub_id for m in ENGINE_MODELS.values() if m.family == family}
        return ("stock", family, device, dtype) if source.location in stock else None
    digest = _config_digest(Path(source.location), components)
    return ("local", family, device, dtype, digest)


def _config_digest(folder: Path, components: tuple[str, ...]) -> str:
    digest = hashlib.sha256()
    for component in components:
        for name in _CONFIG_FILES:
            path = folder / component / name
            if path.is_file():
                digest.update(f"{component}/{name}\0".encode())
                digest.update(path.read_bytes())
    return digest.hexdigest()
