"""S3Storage against a real S3-protocol server (moto in server mode, on loopback): where each
key lands, public and presigned URLs, multipart uploads, batched deletes, errors."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import pytest
from botocore.exceptions import ClientError

from fluxserve.settings import MIB, StorageConfig
from fluxserve.storage import s3 as s3_module
from fluxserve.storage.s3 import S3Storage
from tests.support.s3 import S3Server

OUTPUT = "outputs/req1/output-0.png"
INPUT = "inputs/req1/input_image.png"


def storage(server: S3Server, bucket: str, **options: object) -> S3Storage:
    """A storage on `bucket`, published with the recommended policy (outputs readable by
    anyone, nothing else)."""
    options.setdefault("prefix", "fluxserve/")
    media = S3Storage(
        bucket,
        f"{server.endpoint_url}/{bucket}/",
        client=server.client(),
        **options,  # type: ignore[arg-type]
    )
    if bucket != "no-such-bucket":
        server.publish_outputs(media)
    return media


def test_outputs_are_public_under_the_prefix(s3_server: S3Server) -> None:
    bucket = s3_server.new_bucket()
    media = storage(s3_server, bucket)
    url = media.put(OUTPUT, b"png", "image/png")
    assert url == f"{s3_server.endpoint_url}/{bucket}/fluxserve/{OUTPUT}"
    assert s3_server.object_names(bucket) == [f"fluxserve/{OUTPUT}"]
    head = s3_server.client().head_object(Bucket=bucket, Key=f"fluxserve/{OUTPUT}")
    assert head["ContentType"] == "image/png"
    assert httpx.get(url, timeout=10).content == b"png"


def test_private_keys_go_to_the_private_prefix_and_get_no_url(s3_server: S3Server) -> None:
    bucket = s3_server.new_bucket()
    media = storage(s3_server, bucket)
    assert media.put(INPUT, b"in", "image/png") == f"s3://{bucket}/private/{INPUT}"
    assert s3_server.object_names(bucket) == [f"private/{INPUT}"]
    assert media.get(INPUT) == (b"in", "image/png")
    # Even guessed, a private object's address reads nothing without credentials.
    guessed = f"{s3_server.endpoint_url}/{bucket}/private/{INPUT}"
    assert httpx.get(guessed, timeout=10).status_code == 403
    with pytest.raises(ValueError, match="private"):
        media.url_for(INPUT)
    with pytest.raises(ValueError, match="private"):
        media.presigned_url(INPUT, 60)


def test_private_keys_can_live_in_their_own_bucket(s3_server: S3Server) -> None:
    public, private = s3_server.new_bucket(), s3_server.new_bucket()
    media = storage(s3_server, public, private_bucket=private, private_prefix="")
    media.put(INPUT, b"in", "image/png")
    media.put("inputs/req1/lora-0.safetensors", b"lora", "application/octet-stream")
    media.put(OUTPUT, b"out", "image/png")
    assert s3_server.object_names(public) == [f"fluxserve/{OUTPUT}"]
    assert s3_server.object_names(private) == [INPUT, "inputs/req1/lora-0.safetensors"]
    media.delete_prefix("inputs/req1")
    assert s3_server.object_names(private) == []
    assert media.get(OUTPUT) == (b"out", "image/png")


def test_presigned_urls_read_outputs_of_a_private_bucket(s3_server: S3Server) -> None:
    bucket = s3_server.new_bucket()  # no public policy: only signed reads get in
    media = S3Storage(
        bucket, None, presign_expires_s=60, prefix="fluxserve", client=s3_server.client()
    )
    media.put(OUTPUT, b"png", "image/png")
    url = media.presigned_url(OUTPUT, 300)
    assert "X-Amz-Signature=" in url and f"/fluxserve/{OUTPUT}" in url
    assert httpx.get(url, timeout=10).content == b"png"
    assert httpx.get(url.split("?")[0], timeout=10).status_code == 403
    # moto does not enforce expiry, so only what we ask for is checked here.
    assert "X-Amz-Expires=300" in url
    with pytest.raises(ValueError):
        media.presigned_url(OUTPUT, 0)


def test_a_presigning_storage_gives_outputs_presigned_urls(s3_server: S3Server) -> None:
    bucket = s3_server.new_bucket()
    media = S3Storage(bucket, None, presign_expires_s=600, client=s3_server.client())
    before = datetime.now(UTC).replace(microsecond=0)
    expires_at = media.url_expires_at()  # taken first: never later than the URL's own expiry
    url = media.put(OUTPUT, b"png", "image/png")
    assert "X-Amz-Expires=600" in url
    assert expires_at is not None and before + timedelta(seconds=600) <= expires_at
    assert httpx.get(url, timeout=10).content == b"png"
    public = storage(s3_server, s3_server.new_bucket())
    assert public.url_expires_at() is None  # public URLs do not expire


def test_large_files_are_uploaded_in_parts(s3_server: S3Server) -> None:
    bucket = s3_server.new_bucket()
    media = storage(s3_server, bucket, multipart_threshold=5 * MIB, multipart_chunk=5 * MIB)
    key = "outputs/req1/lora.safetensors"
    data = bytes(range(256)) * (11 * MIB // 256) + b"tail"
    media.put(key, data, "application/octet-stream")
    head = s3_server.client().head_object(Bucket=bucket, Key=f"fluxserve/{key}")
    assert head["ETag"].strip('"').endswith("-3")  # a multipart ETag counts its parts
    assert head["ContentType"] == "application/octet-stream"
    assert media.get(key) == (data, "application/octet-stream")
    small = "outputs/req1/lora.json"
    media.put(small, b"{}", "application/json")
    assert (
        "-" not in s3_server.client().head_object(Bucket=bucket, Key=f"fluxserve/{small}")["ETag"]
    )


def test_delete_prefix_deletes_in_batches(
    s3_server: S3Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(s3_module, "_DELETE_BATCH", 2)
    bucket = s3_server.new_bucket()
    media = storage(s3_server, bucket)
    for index in range(5):
        media.put(f"outputs/req1/output-{index}.png", b"x", "image/png")
    media.put("outputs/req10/output-0.png", b"y", "image/png")
    media.delete_prefix("outputs/req1")
    assert s3_server.object_names(bucket) == ["fluxserve/outputs/req10/output-0.png"]


def test_other_errors_are_not_hidden(s3_server: S3Server) -> None:
    media = storage(s3_server, "no-such-bucket")
    with pytest.raises(ClientError, match="NoSuchBucket"):
        media.get(OUTPUT)


def test_bad_prefix_is_refused(s3_server: S3Server) -> None:
    with pytest.raises(ValueError):
        storage(s3_server, "b", prefix="../other")


def test_built_from_config(s3_server: S3Server) -> None:
    bucket = s3_server.new_bucket()
    config = StorageConfig(
        backend="s3",
        bucket=bucket,
        prefix="m",
        private_prefix="secret",
        endpoint_url=s3_server.endpoint_url,
        public_base_url=f"{s3_server.endpoint_url}/{bucket}",
    )
    media = S3Storage.from_config(config, client=s3_server.client())
    media.put(INPUT, b"in", "image/png")
    assert media.put(OUTPUT, b"o", "image/png").endswith(f"/{bucket}/m/{OUTPUT}")
    assert s3_server.object_names(bucket) == [f"m/{OUTPUT}", f"secret/{INPUT}"]


@pytest.mark.parametrize(
    "options",
    [
        {"public_base_url": None},
        {"private_prefix": ""},
        {"prefix": "m", "private_prefix": "m/outputs/hidden"},
    ],
)
def test_unsafe_configs_are_refused(options: dict[str, object]) -> None:
    values: dict[str, object] = {
        "backend": "s3",
        "bucket": "b",
        "public_base_url": "https://cdn.example.com",
        **options,
    }
    with pytest.raises(ValueError):
        StorageConfig.model_validate(values)
    # A private bucket of its own may hold private keys at its root.
    StorageConfig.model_validate({**values, "private_bucket": "other", "public_base_url": "x"})
