"""Media in an S3-compatible bucket (AWS S3, MinIO, R2, ...): the scale-out backend.

With several API nodes and GPU workers, no node's disk is shared, so outputs go to a bucket
that every node can reach. LocalStorage stays the embedded default.
"""

from __future__ import annotations

from typing import Any

import boto3
from botocore.exceptions import ClientError

from fluxserve.storage.base import (
    check_content_type,
    content_type_for,
    validate_key,
    validate_prefix,
)

_MISSING_CODES = frozenset({"NoSuchKey", "404", "NotFound"})
_DELETE_BATCH = 1000  # the most keys one DeleteObjects call takes


class S3Storage:
    """The scale-out MediaStorage: objects in `bucket`, each key stored under `prefix`.

    URLs are `{public_base_url}/{prefix}/{key}`: `public_base_url` is where clients reach the
    bucket's objects (a public bucket URL or a CDN in front of it). Credentials and region come
    from boto3's usual sources (environment, ~/.aws, instance roles) when the client is made.
    """

    def __init__(
        self,
        bucket: str,
        public_base_url: str,
        *,
        prefix: str = "",
        endpoint_url: str | None = None,
        region_name: str | None = None,
        client: Any = None,
    ) -> None:
        self._bucket = bucket
        self._base_url = public_base_url.rstrip("/")
        self._prefix = validate_prefix(prefix.strip("/")) if prefix.strip("/") else ""
        self._client = (
            client
            if client is not None
            else boto3.client("s3", endpoint_url=endpoint_url, region_name=region_name)
        )

    def object_key(self, key: str) -> str:
        """The bucket's name for `key`: the prefix, a slash, then the key."""
        validate_key(key)
        return f"{self._prefix}/{key}" if self._prefix else key

    def put(self, key: str, data: bytes, content_type: str) -> str:
        check_content_type(key, content_type)
        self._client.put_object(
            Bucket=self._bucket,
            Key=self.object_key(key),
            Body=data,
            ContentType=content_type_for(key),
        )
        return self.url_for(key)

    def get(self, key: str) -> tuple[bytes, str] | None:
        try:
            object_key = self.object_key(key)
        except ValueError:
            return None
        try:
            answer = self._client.get_object(Bucket=self._bucket, Key=object_key)
        except ClientError as exc:
            if str(exc.response.get("Error", {}).get("Code")) in _MISSING_CODES:
                return None
            raise
        body: bytes = answer["Body"].read()
        return body, content_type_for(key)

    def url_for(self, key: str) -> str:
        return f"{self._base_url}/{self.object_key(key)}"

    def delete_prefix(self, prefix: str) -> None:
        folder = self.object_key(validate_prefix(prefix)) + "/"
        pages = self._client.get_paginator("list_objects_v2").paginate(
            Bucket=self._bucket, Prefix=folder
        )
        keys = [item["Key"] for page in pages for item in page.get("Contents", [])]
        for start in range(0, len(keys), _DELETE_BATCH):
            batch = keys[start : start + _DELETE_BATCH]
            self._client.delete_objects(
                Bucket=self._bucket,
                Delete={"Objects": [{"Key": name} for name in batch], "Quiet": True},
            )
