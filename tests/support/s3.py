"""A real S3-protocol server for tests: moto in server mode on loopback, reached over HTTP by
boto3 in this process and by fluxserve processes alike (credentials are moto's dummies)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import boto3
from botocore.config import Config
from moto.server import ThreadedMotoServer

from fluxserve.storage.s3 import S3Storage
from tests.support.servers import free_port

CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
}


@dataclass(frozen=True)
class S3Server:
    endpoint_url: str

    def client(self) -> Any:
        return boto3.client(
            "s3",
            endpoint_url=self.endpoint_url,
            region_name=CREDENTIALS["AWS_DEFAULT_REGION"],
            aws_access_key_id=CREDENTIALS["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
            config=Config(signature_version="s3v4"),
        )

    def new_bucket(self) -> str:
        name = f"fs-{uuid.uuid4().hex[:16]}"
        self.client().create_bucket(Bucket=name)
        return name

    def publish_outputs(self, storage: S3Storage) -> None:
        """Put the bucket policy fluxserve recommends: anyone reads outputs, nothing else."""
        policy = json.dumps(storage.public_read_policy())
        self.client().put_bucket_policy(Bucket=storage.public_bucket, Policy=policy)

    def object_names(self, bucket: str) -> list[str]:
        answer = self.client().list_objects_v2(Bucket=bucket)
        return sorted(item["Key"] for item in answer.get("Contents", []))


@contextmanager
def moto_s3() -> Iterator[S3Server]:
    """moto's server on 127.0.0.1, for as long as the context lasts."""
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield S3Server(f"http://127.0.0.1:{port}")
    finally:
        server.stop()
