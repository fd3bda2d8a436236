"""The LoRA loop over real HTTP, on demo weights: train a LoRA with the trainer endpoint, use it
by request id (and by URL) on FLUX.2 klein, and check that it changes the image while it is
asked for and leaves no trace once it is not."""

from __future__ import annotations

import io
import json
from dataclasses import dataclass
from typing import Any

import httpx
import numpy as np
import pytest
from PIL import Image

from tests.api.conftest import Api
from tests.support.client import poll
from tests.support.jobs import submit
from tests.support.servers import FileServer, create_key

KLEIN = "/flux-2-klein-4b/v1/generateImage"
TRAINER = "/flux-2-pro-text-to-image-trainer-712/v1/flux-2-pro-text-to-image-trainer-request"
STEPS = 30
TRIGGER = "zqx texture"


@dataclass
class Trained:
    request_id: str
    lora_url: str
    sidecar: dict[str, Any]
    before: bytes  # klein's image for the fixed request, made before the LoRA existed


def klein(
    api: Api, loras: list[dict[str, Any]] | None = None, key: str | None = None
) -> httpx.Response:
    body: dict[str, Any] = {"prompt": "a stone wall", "width": 512, "height": 512, "steps": 2}
    body["seed"] = 1234
    if loras is not None:
        body["loras"] = loras
    return httpx.post(f"{api.url}{KLEIN}", headers=api.headers(key), json=body, timeout=300)


def changed_fraction(first: bytes, second: bytes) -> float:
    """The fraction of pixel values that differ between two PNGs of one size."""
    a, b = (np.asarray(Image.open(io.BytesIO(data)).convert("RGB")) for data in (first, second))
    assert a.shape == b.shape
    return float((a != b).mean())


def klein_png(api: Api, loras: list[dict[str, Any]] | None = None) -> bytes:
    response = klein(api, loras)
    assert response.status_code == 200, response.text
    image = httpx.get(response.json()["output"], timeout=30)
    assert image.status_code == 200 and image.headers["content-type"] == "image/png"
    return image.content


@pytest.fixture(scope="module")
def trained(api: Api, files: FileServer) -> Trained:
    before = klein_png(api)
    body = {
        "image_data_url": files.url("dataset.zip"),
        "steps": STEPS,
        "learning_rate": 0.005,
        "trigger_phrase": TRIGGER,
    }
    request_id = submit(api.url, TRAINER, api.key, body)
    done = poll(api.url, request_id, api.key)
    assert done["status"] == "COMPLETED", done
    lora_url, sidecar_url = done["output"]["media_url"]
    assert lora_url.endswith("/lora.safetensors") and sidecar_url.endswith("/lora.json")
    sidecar = httpx.get(sidecar_url, timeout=30)
    assert sidecar.status_code == 200
    return Trained(request_id, lora_url, json.loads(sidecar.content), before)


def test_lora_changes_the_image_only_while_it_is_asked_for(api: Api, trained: Trained) -> None:
    with_lora = klein_png(api, [{"path": trained.request_id, "scale": 1.0}])
    after = klein_png(api)
    assert changed_fraction(with_lora, trained.before) > 0.01
    # Pixel-identical (each file's signed manifest differs): the LoRA left the pipeline as it was.
    assert changed_fraction(after, trained.before) == 0.0


def test_sidecar_describes_the_training(trained: Trained) -> None:
    sidecar = trained.sidecar
    assert sidecar["base_model"] == "flux2-klein-base-4b"
    assert sidecar["steps"] == STEPS
    assert sidecar["rank"] == 16
    assert sidecar["trigger"] == TRIGGER
    assert sidecar["request_id"] == trained.request_id
    curve = sidecar["loss_curve"]
    assert isinstance(curve, list) and len(curve) == STEPS
    assert all(isinstance(loss, float) and loss > 0 for loss in curve)


def test_another_key_cannot_use_the_lora(api: Api, trained: Trained) -> None:
    other = create_key(api.server.data_dir, credit="1", name="lora-thief")
    response = klein(api, [{"path": trained.request_id}], key=other)
    assert response.status_code == 400
    assert (
        response.json()["error"] == f"loras: no training '{trained.request_id}' of yours was found"
    )


def test_lora_on_an_incompatible_model_is_400(api: Api, trained: Trained) -> None:
    body = {"prompt": "a cat", "image_size": "square", "loras": [{"path": trained.request_id}]}
    response = httpx.post(
        f"{api.url}/flux-dev/v1/dev/textToImage", headers=api.headers(), json=body, timeout=60
    )
    assert response.status_code == 400
    message = response.json()["error"]
    assert "flux2-klein-base-4b" in message and "cannot be applied to flux1-dev" in message


def test_lora_by_url_works_like_the_lora_by_id(
    api: Api, files: FileServer, trained: Trained
) -> None:
    lora = httpx.get(trained.lora_url, timeout=30)
    assert lora.status_code == 200
    (files.root / "trained-lora.safetensors").write_bytes(lora.content)
    by_url = klein_png(api, [{"path": files.url("trained-lora.safetensors"), "scale": 1.0}])
    by_id = klein_png(api, [{"path": trained.request_id, "scale": 1.0}])
    assert changed_fraction(by_url, by_id) == 0.0  # pixels: each file's manifest differs
    assert by_url != trained.before


def test_lora_url_that_is_not_safetensors_is_400(api: Api, files: FileServer) -> None:
    response = klein(api, [{"path": files.url("photo.png")}])
    assert response.status_code == 400
    assert response.json() == {"error": "loras[0].path is not a .safetensors LoRA file"}
