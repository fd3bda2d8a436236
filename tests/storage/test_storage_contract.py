"""The MediaStorage contract, held by every backend: local disk, and S3 on a real
S3-protocol server (moto in server mode)."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from fluxserve.storage.base import MediaStorage
from fluxserve.storage.local import LocalStorage
from fluxserve.storage.s3 import S3Storage
from tests.support.s3 import S3Server

OUTPUT = "outputs/flux-dev_0190a1b2/output-0.png"
INPUT = "inputs/flux-dev_0190a1b2/input_image.png"


@pytest.fixture(params=["local", "s3"])
def storage(request: pytest.FixtureRequest, tmp_path: Path) -> MediaStorage:
    if request.param == "local":
        return LocalStorage(tmp_path / "media", "http://127.0.0.1:8000/")
    server: S3Server = request.getfixturevalue("s3_server")
    bucket = server.new_bucket()
    media = S3Storage(
        bucket, f"{server.endpoint_url}/{bucket}", prefix="media", client=server.client()
    )
    server.publish_outputs(media)
    return media


def test_put_then_get(storage: MediaStorage) -> None:
    url = storage.put(OUTPUT, b"png bytes", "image/png")
    assert url == storage.url_for(OUTPUT)
    assert url.endswith(OUTPUT)
    assert storage.get(OUTPUT) == (b"png bytes", "image/png")


def test_output_urls_resolve(storage: MediaStorage) -> None:
    url = storage.put(OUTPUT, b"png bytes", "image/png")
    if isinstance(storage, LocalStorage):
        pytest.skip("local media is served by fluxserve itself (tests/api)")
    answer = httpx.get(url, timeout=10)
    assert answer.status_code == 200
    assert answer.content == b"png bytes"
    assert answer.headers["content-type"] == "image/png"


def test_private_keys_are_kept_but_get_no_url(storage: MediaStorage) -> None:
    where = storage.put(INPUT, b"input", "image/png")
    assert storage.get(INPUT) == (b"input", "image/png")
    assert not where.startswith("http")
    for key in (INPUT, "loras/x/lora.safetensors", "datasets/x/dataset.json", "outputs"):
        with pytest.raises(ValueError, match="private"):
            storage.url_for(key)


def test_overwrite_replaces(storage: MediaStorage) -> None:
    storage.put(OUTPUT, b"old", "image/png")
    storage.put(OUTPUT, b"new", "image/png")
    assert storage.get(OUTPUT) == (b"new", "image/png")


def test_missing_keys_are_none(storage: MediaStorage) -> None:
    assert storage.get("outputs/none/output-0.png") is None
    assert storage.get("inputs/none/input.png") is None


@pytest.mark.parametrize("key", ["../x.png", "/abs.png", "a\\b.png", "a//b.png", ""])
def test_bad_keys_are_refused(storage: MediaStorage, key: str) -> None:
    with pytest.raises(ValueError):
        storage.put(key, b"x", "image/png")
    with pytest.raises(ValueError):
        storage.url_for(key)
    assert storage.get(key) is None


def test_content_type_must_match_the_key(storage: MediaStorage) -> None:
    with pytest.raises(ValueError, match="does not match"):
        storage.put(OUTPUT, b"x", "image/jpeg")
    assert storage.get(OUTPUT) is None


@pytest.mark.parametrize("folder", ["outputs", "inputs"])
def test_delete_prefix_removes_one_folder_only(storage: MediaStorage, folder: str) -> None:
    for name, data in [("req1/output-0", b"a"), ("req1/output-1", b"b"), ("req10/output-0", b"c")]:
        storage.put(f"{folder}/{name}.png", data, "image/png")
    storage.delete_prefix(f"{folder}/req1/")
    assert storage.get(f"{folder}/req1/output-0.png") is None
    assert storage.get(f"{folder}/req1/output-1.png") is None
    assert storage.get(f"{folder}/req10/output-0.png") == (b"c", "image/png")
    storage.delete_prefix(f"{folder}/never-there")  # nothing to delete is fine


@pytest.mark.parametrize("prefix", ["", "/", "..", "../media"])
def test_delete_prefix_refuses_unsafe_prefixes(storage: MediaStorage, prefix: str) -> None:
    storage.put(OUTPUT, b"a", "image/png")
    with pytest.raises(ValueError):
        storage.delete_prefix(prefix)
    assert storage.get(OUTPUT) is not None
