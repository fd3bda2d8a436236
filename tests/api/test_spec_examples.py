"""Every example request of the hosted API's documentation, sent as written (base URL swapped,
image URLs pointed at a loopback server), gets the documented response shape, ends COMPLETED
(or returns its sync output), and its media downloads as an image of the right format and size."""

from __future__ import annotations

import json
import re
import time
from typing import Any

import httpx
import pytest

from tests.api.conftest import Api
from tests.support.client import as_files, download_image, poll
from tests.support.servers import FileServer, WebhookReceiver

UUID7 = r"[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}"
ISO_MS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


def submit_async(api: Api, path: str, body: dict[str, Any], model_id: str) -> dict[str, Any]:
    response = httpx.post(f"{api.url}{path}", headers=api.headers(), json=body, timeout=60)
    assert response.status_code == 202, response.text
    accepted = response.json()
    assert set(accepted) == {"request_id", "status", "polling_url"}
    assert re.fullmatch(f"{re.escape(model_id)}_{UUID7}", accepted["request_id"])
    assert accepted["status"] == "QUEUED"
    assert accepted["polling_url"] == f"{api.url}/v2/requests/status/{accepted['request_id']}"
    done = poll(api.url, accepted["request_id"], api.key)
    assert done["status"] == "COMPLETED", done
    assert done["model_id"] == model_id and done["error"] is None
    for stamp in ("created_at", "updated_at", "completed_at"):
        assert ISO_MS.match(done[stamp]), done[stamp]
    return done


def check_images(done: dict[str, Any], count: int, fmt: str, size: tuple[int, int]) -> None:
    urls = done["output"]["media_url"]
    assert len(urls) == count
    content_types = {"JPEG": "image/jpeg", "PNG": "image/png", "WEBP": "image/webp"}
    assert done["output"]["media_type"] == content_types[fmt]
    for url in urls:
        image, content_type = download_image(url)
        assert image.format == fmt
        assert content_type == content_types[fmt]
        assert image.size == size


def test_flux2_pro_image_to_image(api: Api, files: FileServer) -> None:
    body = {
        "prompt": "Place realistic flames emerging from the top of the coffee cup, dancing above the rim",
        "image_size": "auto",
        "safety_tolerance": "2",
        "enable_safety_checker": True,
        "output_format": "jpeg",
        "image_urls": [files.url("coffee.jpg")],
    }
    path = "/flux-2-pro-image-to-image-866/v1/flux-2-pro-image-to-image-request"
    done = submit_async(api, path, body, "flux-2-pro-image-to-image-866")
    check_images(done, 1, "JPEG", (112, 80))  # "auto" keeps the input size


def test_flux2_pro_text_to_image(api: Api) -> None:
    body = {
        "prompt": "An intense close-up of knight's visor reflecting battle, sword raised, flames in background, chiaroscuro helmet shadows, hyper-detailed armor, square medieval, cinematic lighting",
        "image_size": "landscape_4_3",
        "safety_tolerance": 2,
        "enable_safety_checker": True,
        "output_format": "jpeg",
    }
    path = "/flux-2-pro-text-to-image-799/v1/flux-2-pro-text-to-image-request"
    done = submit_async(api, path, body, "flux-2-pro-text-to-image-799")
    check_images(done, 1, "JPEG", (1024, 768))


def test_kontext_restore(api: Api, files: FileServer, receiver: WebhookReceiver) -> None:
    body = {
        "input_image": files.url("input_model.png"),
        "seed": 42,
        "output_format": "png",
        "safety_tolerance": 2,
        "webhook": receiver.url("/webhooks/flux-kontext-restore-image"),
        "webhook_events_filter": ["completed", "failed"],
    }
    path = "/flux-kontext-restore-image/v1/flux-kontext-restore-image/generate"
    done = submit_async(api, path, body, "flux-kontext-restore-image")
    check_images(done, 1, "PNG", (128, 96))
    hook = receiver.wait_for("/webhooks/flux-kontext-restore-image")
    # The owner's status read adds `provenance` and `expires_at`; the webhook body is exactly
    # the spec's, naming the same files.
    assert set(hook.json()) == set(done) - {"provenance", "expires_at"}
    assert as_files(hook.json()) == as_files(done)


def test_flux_pro_1_1_ultra(api: Api) -> None:
    body = {
        "prompt": "A futuristic cityscape at sunset",
        "seed": 43,
        "output_format": "jpeg",
        "aspect_ratio": "16:9",
    }
    done = submit_async(api, "/pro1.1/v1/pro1.1ultra/generateRequest", body, "flux-pro-1-1")
    check_images(done, 1, "JPEG", (2752, 1536))


@pytest.mark.parametrize(
    ("path", "model_id"),
    [("/flux-pro/v1/pro/textToImage", "flux-pro"), ("/flux-dev/v1/dev/textToImage", "flux-dev")],
)
def test_flux1_text_to_image(api: Api, path: str, model_id: str) -> None:
    body = {
        "prompt": "A futuristic cityscape at sunset with flying cars",
        "image_size": "landscape_4_3",
    }
    done = submit_async(api, path, body, model_id)
    check_images(done, 1, "JPEG", (1024, 768))


def test_flux_dev_image_to_image(api: Api, files: FileServer) -> None:
    body = {
        "image_url": files.url("model.png"),
        "prompt": "Editorial rooftop shot, woman in peach tee and denim, modern urban backdrop, bold blue tones, polished aesthetic.",
    }
    done = submit_async(api, "/flux-dev/v1/dev/imageToImage", body, "flux-dev")
    check_images(done, 1, "JPEG", (80, 112))


def test_flux_fill_dev(api: Api, files: FileServer) -> None:
    body = {
        "prompt": "a futuristic spaceship with neon lights",
        "image": files.url("photo.png"),
        "mask": files.url("mask.png"),
        "seed": 42,
        "guidance": 35,
        "num_outputs": 2,
        "num_inference_steps": 35,
        "output_format": "png",
        "output_quality": 95,
    }
    done = submit_async(api, "/flux-fill-dev/v1/flux-fill/generate", body, "flux-fill-dev")
    check_images(done, 2, "PNG", (1248, 832))  # megapixels "1" at the input's 3:2 aspect


def test_flux2_klein_generate_image(api: Api) -> None:
    body = {
        "prompt": "A sunset with a dog playing on the beach, golden light reflecting on the water, photorealistic, highly detailed",
        "steps": 25,
        "width": 1024,
        "height": 1024,
    }
    response = httpx.post(
        f"{api.url}/flux-2-klein-4b/v1/generateImage", headers=api.headers(), json=body, timeout=300
    )
    assert response.status_code == 200, response.text
    assert set(response.json()) == {"output"}
    image, content_type = download_image(response.json()["output"])
    assert (image.format, content_type, image.size) == ("PNG", "image/png", (1024, 1024))


def test_flux2_dev_generate_t2i(api: Api) -> None:
    body = {"prompt": "a sunset at the alps", "steps": 25, "width": 1024, "height": 1024}
    headers = {"Content-Type": "application/json", "X-Secret-Key": api.key}
    response = httpx.post(f"{api.url}/generateT2I", headers=headers, json=body, timeout=300)
    assert response.status_code == 200, response.text
    image, _ = download_image(response.json()["output"])
    assert (image.format, image.size) == ("PNG", (1024, 1024))


def test_flux1_schnell_get_data(api: Api) -> None:
    body = {
        "prompt": "Picture a sleek, futuristic car racing through a neon-lit cityscape, its engine humming efficiently as it blurs past digital billboards. The driver skillfully navigates the glowing streets, aiming for victory in this high-tech, adrenaline-fueled race of tomorrow.",
        "num_steps": 4,
        "seed": 15,
        "height": 512,
        "width": 512,
    }
    response = httpx.post(
        f"{api.url}/flux-1-schnell/v1/getData", headers=api.headers(), json=body, timeout=300
    )
    assert response.status_code == 200, response.text
    image, _ = download_image(response.json()["output"])
    assert (image.format, image.size) == ("PNG", (512, 512))


def test_flux1_schnell_batch_with_webhook_and_check_status(
    api: Api, receiver: WebhookReceiver
) -> None:
    body = {
        "prompt": "Picture a handsome man dancing",
        "num_steps": 4,
        "seed": 15,
        "height": 512,
        "width": 512,
        "webhook_url": receiver.url("/webhook"),
    }
    headers = {
        "Content-Type": "application/json",
        "X-Secret-Key": api.key,
        "Cache-Control": "no-cache",
    }
    response = httpx.post(
        f"{api.url}/flux-1-schnell/v1/getDataBatch", headers=headers, json=body, timeout=60
    )
    assert response.status_code == 202, response.text
    queued = response.json()
    assert queued["status"] == "queued"
    assert queued["pollingEndpoint"] == "/checkStatus"
    assert queued["message"] == "Request queued. Result will be sent to the provided webhook URL."
    assert json.loads(queued["pollingInstructions"].removeprefix("POST to /checkStatus with ")) == {
        "requestId": queued["requestId"]
    }
    hook = receiver.wait_for("/webhook").json()
    assert hook["requestId"] == queued["requestId"] and hook["status"] == "completed"
    status = httpx.post(
        f"{api.url}/flux-1-schnell/v1/checkStatus",
        headers=headers,
        json={"requestId": queued["requestId"]},
        timeout=30,
    ).json()
    assert status["status"] == "completed"
    assert isinstance(status["completedAt"], int)
    image, _ = download_image(status["output"])
    assert (image.format, image.size) == ("PNG", (512, 512))


def test_flux1_schnell_batch_without_webhook_waits(api: Api) -> None:
    body = {"prompt": "Picture a handsome man dancing", "num_steps": 2, "height": 256, "width": 256}
    headers = {"Content-Type": "application/json", "X-Secret-Key": api.key}
    response = httpx.post(
        f"{api.url}/flux-1-schnell/v1/getDataBatch", headers=headers, json=body, timeout=90
    )
    assert response.status_code == 200, response.text
    result = response.json()
    assert result["status"] == "completed"
    image, _ = download_image(result["output"])
    assert image.size == (256, 256)


def start_training_example(
    api: Api, path: str, body: dict[str, Any], model_id: str
) -> dict[str, Any]:
    """Submit a trainer example as the spec writes it, see it train with the example's step
    count, then cancel it: its LoRA output is proven by the training tests at a few steps
    (tests/api/test_training_resume.py), where 1,200 steps would only cost CI minutes."""
    response = httpx.post(f"{api.url}{path}", headers=api.headers(), json=body, timeout=60)
    assert response.status_code == 202, response.text
    accepted = response.json()
    assert set(accepted) == {"request_id", "status", "polling_url"}
    assert re.fullmatch(f"{re.escape(model_id)}_{UUID7}", accepted["request_id"])
    running: dict[str, Any] = {}
    while not (running.get("progress") or {}).get("step"):
        running = httpx.get(accepted["polling_url"], headers=api.headers(), timeout=30).json()
        assert running["status"] in ("QUEUED", "PROCESSING"), running
        time.sleep(0.2)
    cancel = f"{api.url}/v2/requests/{accepted['request_id']}/cancel"
    assert httpx.post(cancel, headers=api.headers(), timeout=30).status_code == 200
    return running


def test_image_trainer(api: Api, files: FileServer) -> None:
    body = {
        "image_data_url": files.url("reference_style.jpg"),
        "steps": 1200,
        "learning_rate": 0.00007,
    }
    path = "/flux-2-pro-image-to-image-trainer-831/v1/flux-2-pro-image-to-image-trainer-request"
    running = start_training_example(api, path, body, "flux-2-pro-image-to-image-trainer-831")
    assert running["progress"]["total"] == 1200


def test_dataset_trainer(api: Api, files: FileServer) -> None:
    body = {"image_data_url": files.url("dataset.zip"), "steps": 1500, "learning_rate": 0.00003}
    path = "/flux-2-pro-text-to-image-trainer-712/v1/flux-2-pro-text-to-image-trainer-request"
    running = start_training_example(api, path, body, "flux-2-pro-text-to-image-trainer-712")
    assert running["progress"]["total"] == 1500
