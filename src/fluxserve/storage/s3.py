"""Media in an S3-compatible bucket (AWS S3, MinIO, R2, ...): the scale-out backend.

With several API nodes and GPU workers, no node's disk is shared, so media goes to a bucket
that every node can reach. LocalStorage stays the embedded default.

Outputs are public: `url_for` gives `{public_base_url}/{prefix}/{key}`, or a presigned URL when
the bucket allows no anonymous reads. Every other key is private: it lives under
`private_prefix` of `private_bucket` (default: the same bucket) and gets no URL of any kind, so
an operator can grant public reads on `{prefix}/outputs/*` alone.
"""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
from boto3.s3.transfer import TransferConfig
from botocore.config import Config
from botocore.exceptions import ClientError

from fluxserve.settings import MIB, StorageConfig
from fluxserve.storage.base import (
    PUBLIC_PREFIX,
    check_content_type,
    content_type_for,
    is_public_key,
    public_key,
    validate_key,
    validate_prefix,
)

_MISSING_CODES = frozenset({"NoSuchKey", "404", "NotFound"})
_DELETE_BATCH = 1000  # the most keys one DeleteObjects call takes
# "standard" retries throttling and 5xx answers with backoff ("legacy" does less); SigV4, since
# some regions and most S3-compatible stores refuse SigV2, which botocore may presign with.
_CLIENT_CONFIG = Config(retries={"mode": "standard", "max_attempts": 5}, signature_version="s3v4")


def _clean_prefix(prefix: str) -> str:
    stripped = prefix.strip("/")
    return validate_prefix(stripped) if stripped else ""


class S3Storage:
    """The scale-out MediaStorage. Credentials and region come from boto3's usual sources
    (environment, ~/.aws, instance roles) when no client is given.

    Objects of `multipart_threshold` bytes or more are uploaded in parts of `multipart_chunk`
    bytes (boto3's managed transfer), so a large LoRA file or checkpoint is not one request."""

    def __init__(
        self,
        bucket: str,
        public_base_url: str | None,
        *,
        prefix: str = "",
        private_bucket: str | None = None,
        private_prefix: str = "private",
        presign_expires_s: int | None = None,
        multipart_threshold: int = 16 * MIB,
        multipart_chunk: int = 16 * MIB,
        endpoint_url: str | None = None,
        region_name: str | None = None,
        client: Any = None,
    ) -> None:
        if public_base_url is None and presign_expires_s is None:
            raise ValueError("S3Storage needs public_base_url or presign_expires_s")
        self._bucket = bucket
        self._base_url = (public_base_url or "").rstrip("/")
        self._prefix = _clean_prefix(prefix)
        self._private_bucket = private_bucket or bucket
        self._private_prefix = _clean_prefix(private_prefix)
        self._presign_expires_s = presign_expires_s
        self._transfer = TransferConfig(
            multipart_threshold=multipart_threshold, multipart_chunksize=multipart_chunk
        )
        self._client = (
            client
            if client is not None
            else boto3.client(
                "s3", endpoint_url=endpoint_url, region_name=region_name, config=_CLIENT_CONFIG
            )
        )

    @classmethod
    def from_config(cls, config: StorageConfig, client: Any = None) -> S3Storage:
        """The bucket storage that `[storage]` describes (backend = "s3")."""
        if config.bucket is None:
            raise ValueError("storage.bucket is not set")
        return cls(
            config.bucket,
            config.public_base_url,
            prefix=config.prefix,
            private_bucket=config.private_bucket,
            private_prefix=config.private_prefix,
            presign_expires_s=config.presign_expires_s,
            multipart_threshold=config.multipart_threshold_bytes,
            multipart_chunk=config.multipart_chunk_bytes,
            endpoint_url=config.endpoint_url,
            region_name=config.region,
            client=client,
        )

    @property
    def public_bucket(self) -> str:
        return self._bucket

    def bucket_for(self, key: str) -> str:
        """The bucket that holds `key`: the media bucket for outputs, the private one else."""
        return self._location(validate_key(key))[0]

    def object_key(self, key: str) -> str:
        """The bucket's name for `key`: its location's prefix, a slash, then the key."""
        return self._location(validate_key(key))[1]

    def _location(self, path: str) -> tuple[str, str]:
        """Bucket and object name of a checked key, or of a folder ending in a slash."""
        public = is_public_key(path)
        folder = self._prefix if public else self._private_prefix
        return (self._bucket if public else self._private_bucket), (
            f"{folder}/{path}" if folder else path
        )

    def public_read_policy(self) -> dict[str, Any]:
        """The bucket policy that lets anyone read the outputs, and nothing else, for a
        bucket served at `public_base_url` (put it with `aws s3api put-bucket-policy`)."""
        outputs = self._location(PUBLIC_PREFIX)[1]
        return {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "PublicReadOfFluxserveOutputs",
                    "Effect": "Allow",
                    "Principal": "*",
                    "Action": "s3:GetObject",
                    "Resource": f"arn:aws:s3:::{self._bucket}/{outputs}*",
                }
            ],
        }

    def put(self, key: str, data: bytes, content_type: str) -> str:
        check_content_type(key, content_type)
        bucket, name = self._location(validate_key(key))
        self._client.upload_fileobj(
            io.BytesIO(data),
            bucket,
            name,
            ExtraArgs={"ContentType": content_type_for(key)},
            Config=self._transfer,
        )
        return self.url_for(key) if is_public_key(key) else f"s3://{bucket}/{name}"

    def get(self, key: str) -> tuple[bytes, str] | None:
        try:
            bucket, name = self._location(validate_key(key))
        except ValueError:
            return None
        try:
            answer = self._client.get_object(Bucket=bucket, Key=name)
        except ClientError as exc:
            if str(exc.response.get("Error", {}).get("Code")) in _MISSING_CODES:
                return None
            raise
        body: bytes = answer["Body"].read()
        return body, content_type_for(key)

    def url_for(self, key: str) -> str:
        if self._presign_expires_s is not None:
            return self.presigned_url(key, self._presign_expires_s)
        return f"{self._base_url}/{self.object_key(public_key(key))}"

    def url_expires_at(self) -> datetime | None:
        """The time before which a URL presigned now stays good (None: public URLs)."""
        if self._presign_expires_s is None:
            return None
        now = datetime.now(UTC).replace(microsecond=0)
        return now + timedelta(seconds=self._presign_expires_s)

    def presigned_url(self, key: str, expires_s: int) -> str:
        """A URL that reads the output `key` for `expires_s` seconds without credentials, for a
        bucket that allows no anonymous reads. Private keys get none (ValueError)."""
        if expires_s < 1:
            raise ValueError("expires_s must be at least 1")
        url: str = self._client.generate_presigned_url(
            "get_object",
            Params={"Bucket": self._bucket, "Key": self.object_key(public_key(key))},
            ExpiresIn=expires_s,
        )
        return url

    def delete_prefix(self, prefix: str) -> None:
        bucket, folder = self._location(validate_prefix(prefix) + "/")
        pages = self._client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=folder)
        keys = [item["Key"] for page in pages for item in page.get("Contents", [])]
        for start in range(0, len(keys), _DELETE_BATCH):
            batch = keys[start : start + _DELETE_BATCH]
            self._client.delete_objects(
                Bucket=bucket,
                Delete={"Objects": [{"Key": name} for name in batch], "Quiet": True},
            )
