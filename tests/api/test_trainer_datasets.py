"""Bad training datasets over real HTTP: each gets its 400 before any GPU work, nothing is
kept on disk for it, and nothing is held or charged."""

from __future__ import annotations

import base64
import io
import zipfile
from pathlib import Path

import httpx
import pytest

from tests.api.conftest import Api
from tests.support.media import encode, noise_image
from tests.support.servers import create_key, run_cli

TRAINER = "/flux-2-pro-text-to-image-trainer-712/v1/flux-2-pro-text-to-image-trainer-request"
PNG = encode(noise_image(16, 16), "PNG")


def zipped(entries: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in entries.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def data_url(payload: bytes, mime: str = "application/zip") -> str:
    return f"data:{mime};base64," + base64.b64encode(payload).decode()


BAD_DATASETS = {
    "not an image nor a zip": (data_url(b"just some text", "text/plain"), "image"),
    "empty zip": (data_url(zipped({})), "image"),
    "zip of text only": (data_url(zipped({"a.txt": b"a caption"})), "image"),
    "path traversal": (data_url(zipped({"../evil.png": PNG})), "../evil.png"),
    "absolute path": (data_url(zipped({"/etc/evil.png": PNG})), "/etc/evil.png"),
    "too many files": (data_url(zipped({f"i{n}.png": PNG for n in range(201)})), "files"),
    "zip bomb": (data_url(zipped({"bomb.png": b"\0" * (30 * 1024 * 1024)})), "image_data_url"),
    "non-image file": (data_url(zipped({"a.png": PNG, "tool.exe": b"MZ\x90\x00"})), "tool.exe"),
    "image that does not decode": (data_url(zipped({"a.png": b"\x89PNG broken"})), "a.png"),
}


def _inputs(data_dir: Path) -> set[str]:
    folder = data_dir / "media" / "inputs"
    return {p.name for p in folder.iterdir()} if folder.exists() else set()


@pytest.mark.parametrize("case", sorted(BAD_DATASETS))
def test_bad_dataset_is_400_and_leaves_nothing(api: Api, case: str) -> None:
    url, needle = BAD_DATASETS[case]
    key = create_key(api.server.data_dir, credit="10", name=f"ds-{case[:10]}")
    before = _inputs(api.server.data_dir)
    response = httpx.post(
        f"{api.url}{TRAINER}",
        headers=api.headers(key),
        json={"image_data_url": url, "steps": 10},
        timeout=60,
    )
    assert response.status_code == 400, response.text
    message = response.json()["error"]
    assert "image_data_url" in message and needle in message, message
    assert _inputs(api.server.data_dir) == before
    shown = run_cli("wallet", "show", key, data_dir=api.server.data_dir)
    assert "balance $10.00" in shown and "held    $0.00" in shown


def test_training_parameters_out_of_bounds_are_400(api: Api) -> None:
    url = data_url(PNG, "image/png")
    for body, field in (
        ({"image_data_url": url, "steps": 0}, "steps"),
        ({"image_data_url": url, "steps": 20_000}, "steps"),
        ({"image_data_url": url, "learning_rate": 1.5}, "learning_rate"),
        ({"image_data_url": url, "learning_rate": "fast"}, "learning_rate"),
        ({"steps": 10}, "image_data_url"),
    ):
        response = httpx.post(f"{api.url}{TRAINER}", headers=api.headers(), json=body, timeout=60)
        assert response.status_code == 400, (body, response.text)
        assert field in response.json()["error"]
