"""One self-made signer per test session (as a fresh data folder makes it), and tiny images."""

from __future__ import annotations

import io
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from fluxserve.provenance.facts import OutputFacts
from fluxserve.provenance.setup import open_signer
from fluxserve.provenance.signer import ContentSigner
from fluxserve.settings import ProvenanceConfig
from tests.support.media import noise_image

WEIGHTS = {"flux1-dev": "black-forest-labs/FLUX.1-dev"}


@pytest.fixture(scope="session")
def signer_data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("signer-data")


@pytest.fixture(scope="session")
def signer(signer_data_dir: Path) -> ContentSigner:
    made = open_signer(ProvenanceConfig(), signer_data_dir, WEIGHTS)
    assert made is not None
    return made


def picture() -> Image.Image:
    return noise_image(48, 32, seed=3)


def png_bytes(image: Image.Image) -> bytes:
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


def facts(**changes: Any) -> OutputFacts:
    base = OutputFacts(
        request_id="flux-dev_0190b8a0-0000-7000-8000-000000000001",
        model_id="flux-dev",
        engine_model="flux1-dev",
        operation="text_to_image",
        lora_count=0,
        prompt="a private prompt",
    )
    return replace(base, **changes)
