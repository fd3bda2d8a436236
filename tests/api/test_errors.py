"""Every documented error status over real HTTP: 400, 401, 402, 403, 404, 429, with the
spec's bodies, and bad input that loses nothing."""

from __future__ import annotations

import base64
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.api.conftest import Api, write_config
from tests.support.client import poll
from tests.support.media import encode, noise_image
from tests.support.servers import FileServer, FluxServer, create_key, run_cli

FLUX_DEV = "/flux-dev/v1/dev/textToImage"
KONTEXT = "/flux-kontext-restore-image/v1/flux-kontext-restore-image/generate"
FILL = "/flux-fill-dev/v1/flux-fill/generate"


def post(api: Api, path: str, body: object, key: str | None = None) -> httpx.Response:
    return httpx.post(f"{api.url}{path}", headers=api.headers(key), json=body, timeout=60)


def png_data_url() -> str:
    return "data:image/png;base64," + base64.b64encode(encode(noise_image(32, 32), "PNG")).decode()


@pytest.fixture(scope="module")
def strict(tmp_path_factory: pytest.TempPathFactory, demo_cache_dir: Path) -> Iterator[Api]:
    """A server as an operator would run it: private URLs refused, a low rate limit, and
    flux-pro switched off."""
    data_dir = tmp_path_factory.mktemp("strict")
    config = write_config(
        data_dir / "config.toml", demo_cache_dir, disabled=("flux-pro",), rate_limit_per_minute=3
    )
    with config.open("a") as handle:  # weights an operator configured but that are not there
        handle.write('[models.flux1-kontext-dev]\nweights = "/nonexistent/FLUX.1-Kontext-dev"\n')
    key = create_key(data_dir)
    server = FluxServer(data_dir, config=config, allow_private=False).start()
    yield Api(server, key)
    server.stop()


def test_missing_and_unknown_key_get_401(api: Api) -> None:
    body = {"prompt": "a cat"}
    response = httpx.post(f"{api.url}{FLUX_DEV}", json=body, timeout=30)
    assert response.status_code == 401
    assert "error" in response.json()
    assert post(api, FLUX_DEV, body, key="fs_not-a-real-key").status_code == 401
    status = httpx.get(f"{api.url}/v2/requests/status/flux-dev_x", timeout=30)
    assert status.status_code == 401


def test_disabled_key_gets_403(api: Api) -> None:
    key = create_key(api.server.data_dir, credit="1", name="to-disable")
    assert (
        post(api, FLUX_DEV, {"prompt": "a cat", "num_inference_steps": 1}, key=key).status_code
        == 202
    )
    run_cli("keys", "disable", key, data_dir=api.server.data_dir)
    # Disabled by another process: the server's key cache trusts its entry for at most
    # `[database] key_cache_ttl_s` (5 s) more.
    deadline = time.monotonic() + 5.0 + 30.0
    status_url = f"{api.url}/v2/requests/status/flux-dev_none"
    while time.monotonic() < deadline:  # reads, so that no jobs pile up meanwhile
        read = httpx.get(status_url, headers=api.headers(key), timeout=30)
        if read.status_code != 404:
            break
        time.sleep(0.2)
    assert read.status_code == 403
    response = post(api, FLUX_DEV, {"prompt": "a cat"}, key=key)
    assert response.status_code == 403
    assert "error" in response.json()


def test_insufficient_balance_402_with_required_amount(api: Api) -> None:
    key = create_key(api.server.data_dir, credit="0.03", name="poor")
    response = post(
        api, FILL, {"prompt": "x", "image": png_data_url(), "mask": png_data_url()}, key=key
    )
    assert response.status_code == 402
    assert response.json() == {
        "error": "Insufficient Balance",
        "message": "Your wallet does not have enough balance. Required: $0.04",
    }
    # Nothing was held or charged by the refusal.
    shown = run_cli("wallet", "show", key, data_dir=api.server.data_dir)
    assert "balance $0.03" in shown and "held    $0.00" in shown


def test_validation_errors_are_400_with_error_body(api: Api) -> None:
    cases = [
        (FLUX_DEV, {}, "prompt is required"),
        (FLUX_DEV, {"prompt": "   "}, "prompt must not be empty"),
        (FLUX_DEV, {"prompt": "x", "image_size": "huge"}, "image_size"),
        (FLUX_DEV, {"prompt": "x", "num_images": 9}, "num_images"),
        (FLUX_DEV, {"prompt": "x", "output_format": "bmp"}, "output_format"),
        (FLUX_DEV, {"prompt": "x", "acceleration": "warp"}, "acceleration"),
        ("/flux-1-schnell/v1/getData", {"prompt": "x", "num_steps": 9}, "num_steps"),
        ("/flux-2-klein-4b/v1/generateImage", {"prompt": "x", "width": 700}, "width"),
        (
            "/pro1.1/v1/pro1.1ultra/generateRequest",
            {"prompt": "x", "aspect_ratio": "5:4"},
            "aspect_ratio",
        ),
        (
            "/pro1.1/v1/pro1.1ultra/generateRequest",
            {"prompt": "x", "safety_tolerance": "7"},
            "safety_tolerance",
        ),
    ]
    for path, body, needle in cases:
        response = post(api, path, body)
        assert response.status_code == 400, (path, body, response.text)
        assert needle in response.json()["error"], (path, body, response.json())


def test_kontext_validation_messages_are_the_specs_word_for_word(api: Api) -> None:
    url = png_data_url()
    cases = [
        ({}, "input_image is required and must be a string URL"),
        ({"input_image": 5}, "input_image is required and must be a string URL"),
        ({"input_image": "not a url"}, "input_image must be a valid URL"),
        ({"input_image": url, "output_format": "webp"}, "output_format must be one of: jpg, png"),
        (
            {"input_image": url, "safety_tolerance": 3},
            "safety_tolerance must be an integer in [0, 2]",
        ),
        ({"input_image": url, "seed": -1}, "seed must be a non-negative integer"),
        ({"input_image": url, "webhook": "ftp://x"}, "Invalid webhook URL"),
    ]
    for body, message in cases:
        response = post(api, KONTEXT, body)
        assert response.status_code == 400
        assert response.json() == {"error": message}


def test_bad_json_and_bad_images_are_400(api: Api, files: FileServer) -> None:
    raw = httpx.post(
        f"{api.url}{FLUX_DEV}", headers=api.headers(), content=b"{not json", timeout=30
    )
    assert raw.status_code == 400
    assert raw.json() == {"error": "Request body must be valid JSON"}
    bad_image = post(
        api,
        "/flux-dev/v1/dev/imageToImage",
        {"prompt": "x", "image_url": files.url("not-an-image.png")},
    )
    assert bad_image.status_code == 400
    assert "image_url" in bad_image.json()["error"]
    missing = post(
        api, "/flux-dev/v1/dev/imageToImage", {"prompt": "x", "image_url": files.url("nope.png")}
    )
    assert missing.status_code == 400
    assert "404" in missing.json()["error"]


def test_gif_and_webp_inputs_are_accepted(api: Api, files: FileServer) -> None:
    for name in ("anim.gif", "pic.webp"):
        response = post(
            api, "/flux-dev/v1/dev/imageToImage", {"prompt": "x", "image_url": files.url(name)}
        )
        assert response.status_code == 202, response.text
        assert poll(api.url, response.json()["request_id"], api.key)["status"] == "COMPLETED"


def test_unknown_request_and_someone_elses_request_are_404(api: Api) -> None:
    mine = post(api, FLUX_DEV, {"prompt": "a cat", "num_inference_steps": 1})
    other = create_key(api.server.data_dir, credit="1", name="other")
    rid = mine.json()["request_id"]
    foreign = httpx.get(
        f"{api.url}/v2/requests/status/{rid}",
        headers={"Ocp-Apim-Subscription-Key": other},
        timeout=30,
    )
    assert foreign.status_code == 404
    unknown = httpx.get(
        f"{api.url}/v2/requests/status/flux-dev_0190",
        headers={"Ocp-Apim-Subscription-Key": api.key},
        timeout=30,
    )
    assert unknown.status_code == 404 and "error" in unknown.json()


def test_disabled_model_answers_model_not_found(strict: Api) -> None:
    # An invalid body too: the model is refused before its body is looked at. (One request:
    # this server's rate limit is 3 a minute.)
    response = post(strict, "/flux-pro/v1/pro/textToImage", {"num_images": 99})
    assert response.status_code == 400
    assert response.json() == {
        "error": "Model not found",
        "message": "Model 'flux-pro' not found or is disabled",
    }


def test_missing_configured_weights_disable_the_model_with_its_reason(strict: Api) -> None:
    health = httpx.get(f"{strict.url}/health", timeout=30).json()
    reason = health["disabled_models"]["flux1-kontext-dev"]
    assert "/nonexistent/FLUX.1-Kontext-dev" in reason and "does not exist" in reason
    response = post(strict, KONTEXT, {"input_image": png_data_url()})
    assert response.status_code == 400
    body = response.json()
    assert body["error"] == "Model not found"
    assert body["message"].startswith("Model 'flux-kontext-restore-image' not found or is disabled")
    assert "does not exist" in body["message"]
    catalog = httpx.get(f"{strict.url}/v1/models", timeout=30).json()["models"]
    row = next(m for m in catalog if m["model_id"] == "flux-kontext-restore-image")
    assert row["enabled"] is False and "does not exist" in row["disabled_reason"]


def test_private_urls_refused_by_default(strict: Api, files: FileServer) -> None:
    response = post(
        strict,
        "/flux-dev/v1/dev/imageToImage",
        {"prompt": "x", "image_url": files.url("model.png")},
    )
    assert response.status_code == 400
    message = response.json()["error"]
    assert "private address" in message and "--allow-private-urls" in message


def test_rate_limit_429_with_retry_after(strict: Api) -> None:
    statuses = [post(strict, FLUX_DEV, {"prompt": ""}).status_code for _ in range(6)]
    assert 429 in statuses
    limited = post(strict, FLUX_DEV, {"prompt": "x"})
    assert limited.status_code == 429
    assert int(limited.headers["Retry-After"]) >= 1
    assert "error" in limited.json()


def test_body_is_json_whatever_its_content_type_and_must_be_an_object(api: Api) -> None:
    """Typed bodies keep the old leniency: hosted-API clients that send JSON as text/plain (or
    with no Content-Type) are served; a JSON value that is not an object is a clear 400."""
    key = {"Ocp-Apim-Subscription-Key": api.key}
    body = b'{"prompt": "a lighthouse", "image_size": "square"}'
    for content_type in ("text/plain", "application/x-www-form-urlencoded", None):
        headers = key if content_type is None else {**key, "Content-Type": content_type}
        response = httpx.post(f"{api.url}{FLUX_DEV}", headers=headers, content=body, timeout=30)
        assert response.status_code == 202, (content_type, response.text)
    for raw in (b"[1, 2]", b'"a string"', b"3"):
        response = httpx.post(f"{api.url}{FLUX_DEV}", headers=api.headers(), content=raw)
        assert response.status_code == 400, raw
        assert response.json() == {"error": "Request body must be a JSON object"}
    empty = httpx.post(f"{api.url}{FLUX_DEV}", headers=api.headers(), content=b"")
    assert empty.json() == {"error": "Request body is required (JSON)"}


def test_admin_api_is_off_without_an_operator_token(strict: Api) -> None:
    response = httpx.get(
        f"{strict.url}/admin/v1/jobs", headers={"Authorization": "Bearer guess"}, timeout=30
    )
    assert response.status_code == 404
    assert "admin API is off" in response.json()["error"]
