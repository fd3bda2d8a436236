"""The OpenAI Images API routes, driven by the official `openai` package against a real server:
sync and async clients, url and b64_json answers, a masked edit, and errors raised as the
client's own exception types."""

from __future__ import annotations

import asyncio
import base64
import io
from pathlib import Path

import httpx
import openai
import pytest
from PIL import Image

from tests.api.conftest import Api
from tests.support.client import download_image
from tests.support.media import encode, noise_image
from tests.support.servers import create_key


def _client(api: Api, key: str | None = None) -> openai.OpenAI:
    return openai.OpenAI(api_key=key or api.key, base_url=f"{api.url}/v1", max_retries=0)


def _decoded(b64: str | None) -> Image.Image:
    assert b64 is not None
    image = Image.open(io.BytesIO(base64.b64decode(b64)))
    image.load()
    return image


def test_generate_with_urls_and_seeds(api: Api) -> None:
    result = _client(api).images.generate(
        model="flux-1-schnell",
        prompt="a red bicycle",
        size="256x256",
        n=2,
        response_format="url",
        extra_body={"seed": 7},
    )
    assert result.data is not None and len(result.data) == 2
    assert [item.model_extra["seed"] for item in result.data if item.model_extra] == [7, 8]
    for item in result.data:
        assert item.url is not None and item.b64_json is None
        image, content_type = download_image(item.url)
        assert (image.format, image.size, content_type) == ("PNG", (256, 256), "image/png")


def test_async_client_gets_b64_json(api: Api) -> None:
    async def generate() -> openai.types.ImagesResponse:
        async with openai.AsyncOpenAI(
            api_key=api.key, base_url=f"{api.url}/v1", max_retries=0
        ) as client:
            return await client.images.generate(
                model="flux-dev",
                prompt="a lighthouse at dusk",
                size="256x192",
                response_format="b64_json",
                output_format="jpeg",
                quality="low",
            )

    result = asyncio.run(generate())
    assert result.data is not None and len(result.data) == 1
    image = _decoded(result.data[0].b64_json)
    assert (image.format, image.size) == ("JPEG", (256, 192))
    assert result.size == "256x192" and result.output_format == "jpeg"


def test_edit_with_an_openai_mask(api: Api, tmp_path: Path) -> None:
    photo = tmp_path / "photo.png"
    photo.write_bytes(encode(noise_image(128, 96, 3), "PNG"))
    mask = Image.new("RGBA", (128, 96), (0, 0, 0, 255))
    mask.paste((0, 0, 0, 0), (32, 24, 96, 72))  # transparent: repaint here (OpenAI's rule)
    mask_path = tmp_path / "mask.png"
    mask.save(mask_path)
    with photo.open("rb") as image_file, mask_path.open("rb") as mask_file:
        result = _client(api).images.edit(
            model="flux-fill-dev",
            image=image_file,
            mask=mask_file,
            prompt="a small boat",
            response_format="b64_json",
        )
    assert result.data is not None
    assert _decoded(result.data[0].b64_json).size == (128, 96)


def test_edit_without_a_mask(api: Api) -> None:
    result = _client(api).images.edit(
        model="flux-dev",
        image=("photo.png", encode(noise_image(96, 64, 1), "PNG"), "image/png"),
        prompt="make it autumn",
        size="128x128",
    )
    assert result.data is not None and result.data[0].url is not None
    image, _ = download_image(result.data[0].url)
    assert image.size == (128, 128)


def test_a_mask_needs_a_fill_model(api: Api) -> None:
    png = encode(noise_image(64, 64, 1), "PNG")
    with pytest.raises(openai.BadRequestError) as caught:
        _client(api).images.edit(
            model="flux-dev", image=("a.png", png), mask=("m.png", png), prompt="x"
        )
    error = caught.value.body
    assert isinstance(error, dict)
    assert error["type"] == "invalid_request_error"
    assert "flux-fill-dev" in error["message"]


def test_bad_key_is_an_authentication_error(api: Api) -> None:
    with pytest.raises(openai.AuthenticationError) as caught:
        _client(api, "fs_not-a-key").images.generate(model="flux-1-schnell", prompt="x")
    assert caught.value.status_code == 401
    assert isinstance(caught.value.body, dict)
    assert caught.value.body["code"] == "invalid_api_key"
    assert set(caught.value.body) == {"message", "type", "param", "code"}


def test_empty_wallet_is_a_402_status_error(api: Api) -> None:
    broke = create_key(api.server.data_dir, credit="0", name="broke")
    with pytest.raises(openai.APIStatusError) as caught:
        _client(api, broke).images.generate(model="flux-dev", prompt="x", size="256x256")
    assert caught.value.status_code == 402
    assert isinstance(caught.value.body, dict)
    assert caught.value.body["type"] == "insufficient_quota"
    assert "Your wallet does not have enough balance" in caught.value.body["message"]


def test_validation_errors_name_the_param(api: Api) -> None:
    response = httpx.post(
        f"{api.url}/v1/images/generations",
        headers={"Authorization": f"Bearer {api.key}"},
        json={"prompt": "x", "n": 9},
        timeout=30,
    )
    assert response.status_code == 400
    assert response.json()["error"]["param"] == "n"
    assert response.json()["error"]["type"] == "invalid_request_error"


def test_moderation_is_a_content_policy_violation(api: Api) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        _client(api).images.generate(
            model="flux-1-schnell", prompt="a photo of porn on a studio set", size="256x256"
        )
    assert isinstance(caught.value.body, dict)
    assert caught.value.body["code"] == "content_policy_violation"
