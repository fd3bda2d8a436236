"""A server whose media lives in S3 (moto's server on loopback): outputs come back as bucket
URLs that anyone can read, inputs are kept in the private prefix that no one can."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from fluxserve.storage.s3 import S3Storage
from tests.api.conftest import write_config
from tests.support.client import download_image, poll
from tests.support.jobs import submit
from tests.support.s3 import CREDENTIALS, S3Server, moto_s3
from tests.support.servers import FileServer, FluxServer, create_key


@pytest.fixture
def s3_api(
    tmp_path: Path, demo_cache_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[FluxServer, str, S3Server, str]]:
    for name, value in CREDENTIALS.items():  # the server process inherits them
        monkeypatch.setenv(name, value)
    with moto_s3() as s3:
        bucket = s3.new_bucket()
        base_url = f"{s3.endpoint_url}/{bucket}"
        s3.publish_outputs(S3Storage(bucket, base_url, prefix="media", client=s3.client()))
        config = write_config(tmp_path / "config.toml", demo_cache_dir)
        with config.open("a") as handle:
            handle.write(
                f'[storage]\nbackend = "s3"\nbucket = "{bucket}"\nprefix = "media"\n'
                f'endpoint_url = "{s3.endpoint_url}"\npublic_base_url = "{base_url}"\n'
            )
        key = create_key(tmp_path)
        server = FluxServer(tmp_path, config=config).start()
        try:
            yield server, key, s3, bucket
        finally:
            server.stop()


def test_outputs_are_public_and_inputs_private(
    s3_api: tuple[FluxServer, str, S3Server, str], files: FileServer
) -> None:
    server, key, s3, bucket = s3_api
    body = {"image_url": files.url("model.png"), "prompt": "a rooftop", "output_format": "png"}
    request_id = submit(server.url, "/flux-dev/v1/dev/imageToImage", key, body)
    done = poll(server.url, request_id, key)
    assert done["status"] == "COMPLETED", done
    (url,) = done["output"]["media_url"]
    assert url.startswith(f"{s3.endpoint_url}/{bucket}/media/outputs/{request_id}/")
    image, _ = download_image(url)  # anonymous, like any client
    assert image.size == (80, 112)

    names = s3.object_names(bucket)
    inputs = [name for name in names if "/inputs/" in name or name.startswith("inputs/")]
    assert inputs and all(name.startswith(f"private/inputs/{request_id}/") for name in inputs)
    for name in inputs:
        assert httpx.get(f"{s3.endpoint_url}/{bucket}/{name}", timeout=10).status_code == 403
