"""S3Storage offline: boto3's own Stubber stands in for the bucket and checks each call."""

from __future__ import annotations

import io
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from botocore.response import StreamingBody
from botocore.stub import Stubber

from fluxserve.storage.base import MediaStorage
from fluxserve.storage.s3 import S3Storage

KEY = "outputs/req1/output-0.png"


@pytest.fixture
def client() -> Any:
    return boto3.client(
        "s3",
        region_name="us-east-1",
        endpoint_url="http://127.0.0.1:9",
        aws_access_key_id="test",
        aws_secret_access_key="test",
    )


@pytest.fixture
def stub(client: Any) -> Iterator[Stubber]:
    with Stubber(client) as stubber:
        yield stubber
        stubber.assert_no_pending_responses()


def storage(client: Any, prefix: str = "fluxserve/") -> S3Storage:
    return S3Storage("media-bucket", "https://cdn.example.com/", prefix=prefix, client=client)


def test_keys_and_urls_carry_the_prefix(client: Any) -> None:
    backend: MediaStorage = storage(client)
    assert backend.url_for(KEY) == f"https://cdn.example.com/fluxserve/{KEY}"
    assert storage(client).object_key(KEY) == f"fluxserve/{KEY}"
    assert storage(client, prefix="").object_key(KEY) == KEY


@pytest.mark.parametrize("key", ["../x.png", "/abs.png", "a\\b.png", "a//b.png", ""])
def test_bad_keys_are_refused(client: Any, key: str) -> None:
    with pytest.raises(ValueError):
        storage(client).put(key, b"x", "image/png")
    with pytest.raises(ValueError):
        storage(client).url_for(key)
    assert storage(client).get(key) is None


def test_bad_prefix_is_refused(client: Any) -> None:
    with pytest.raises(ValueError):
        storage(client, prefix="../other")


def test_put_sends_the_object_with_its_content_type(client: Any, stub: Stubber) -> None:
    stub.add_response(
        "put_object",
        {},
        {
            "Bucket": "media-bucket",
            "Key": f"fluxserve/{KEY}",
            "Body": b"png",
            "ContentType": "image/png",
        },
    )
    assert (
        storage(client).put(KEY, b"png", "image/png") == f"https://cdn.example.com/fluxserve/{KEY}"
    )


def test_put_refuses_a_mismatched_content_type(client: Any) -> None:
    with pytest.raises(ValueError, match="does not match"):
        storage(client).put(KEY, b"png", "image/webp")


def test_get_reads_the_object(client: Any, stub: Stubber) -> None:
    stub.add_response(
        "get_object",
        {"Body": StreamingBody(io.BytesIO(b"png"), 3), "ContentType": "image/png"},
        {"Bucket": "media-bucket", "Key": f"fluxserve/{KEY}"},
    )
    assert storage(client).get(KEY) == (b"png", "image/png")


def test_get_of_a_missing_object_is_none(client: Any, stub: Stubber) -> None:
    stub.add_client_error("get_object", service_error_code="NoSuchKey", http_status_code=404)
    assert storage(client).get(KEY) is None


def test_other_errors_are_not_hidden(client: Any, stub: Stubber) -> None:
    stub.add_client_error("get_object", service_error_code="AccessDenied", http_status_code=403)
    with pytest.raises(ClientError, match="AccessDenied"):
        storage(client).get(KEY)


def test_delete_prefix_deletes_the_folder(client: Any, stub: Stubber) -> None:
    names = [f"fluxserve/outputs/req1/output-{i}.png" for i in range(2)]
    stub.add_response(
        "list_objects_v2",
        {"Contents": [{"Key": name} for name in names], "IsTruncated": False},
        {"Bucket": "media-bucket", "Prefix": "fluxserve/outputs/req1/"},
    )
    stub.add_response(
        "delete_objects",
        {},
        {
            "Bucket": "media-bucket",
            "Delete": {"Objects": [{"Key": name} for name in names], "Quiet": True},
        },
    )
    storage(client).delete_prefix("outputs/req1")
