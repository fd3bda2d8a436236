"""The Python SDK (`fluxserve.client`) against a real server: sync and async clients, sync
and async routes, progress, typed errors, retries that honour Retry-After, and the webhook
signature helper."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import io
import itertools
import subprocess
import sys
import time

import pytest
from PIL import Image

from fluxserve.client import (
    AsyncClient,
    AuthenticationError,
    Client,
    ConflictError,
    InsufficientBalanceError,
    ModerationError,
    NotFoundError,
    RateLimitError,
    RetryPolicy,
    Status,
    verify_webhook,
)
from tests.api.conftest import Api
from tests.support.media import encode, noise_image
from tests.support.servers import create_key
from tests.support.throttled import ThrottledServer


def _open(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


def test_importing_the_sdk_loads_no_server_code() -> None:
    code = (
        "import sys, fluxserve.client; "
        "bad = [m for m in sys.modules if m.split('.')[0] == 'torch' "
        "or m.startswith(('fluxserve.api', 'fluxserve.jobs', 'fluxserve.engine'))]; "
        "print(bad); sys.exit(1 if bad else 0)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr


def test_run_on_a_sync_route(api: Api) -> None:
    with Client(api.key, api.url) as client:
        result = client.run("flux-1-schnell", prompt="a cat", width=256, height=256, seed=3)
    assert result.request_id is None and len(result.images) == 1
    assert _open(result.images[0].download()).size == (256, 256)


def test_submit_status_wait_with_progress(api: Api) -> None:
    seen: list[Status] = []
    with Client(api.key, api.url) as client:
        submitted = client.submit("flux-dev", prompt="a dog", image_size="256x256", seed=5)
        assert submitted.request_id and submitted.status == "QUEUED"
        result = client.wait(submitted.request_id, timeout_s=240, on_progress=seen.append)
        assert client.status(submitted.request_id).status == "COMPLETED"
        balance = client.account()["balance_usd"]
    assert seen[-1].status == "COMPLETED" and seen[-1].done
    assert result.model_id == "flux-dev" and result.images[0].media_type == "image/jpeg"
    image = _open(result.images[0].download())
    assert (image.format, image.size) == ("JPEG", (256, 256))
    assert balance != "1000.00"  # the request was charged


def test_async_client_runs_an_image_to_image(api: Api) -> None:
    async def run() -> bytes:
        async with AsyncClient(api.key, api.url) as client:
            result = await client.run(
                "flux-dev",
                prompt="autumn",
                image_url=_data_url(),
                image_size="128x128",
                timeout_s=240,
            )
            return await result.images[0].adownload()

    assert _open(asyncio.run(run())).size == (128, 128)


def _data_url() -> str:
    return "data:image/png;base64," + base64.b64encode(encode(noise_image(64, 64), "PNG")).decode()


def test_errors_are_typed(api: Api) -> None:
    broke = create_key(api.server.data_dir, credit="0", name="sdk-broke")
    with Client("fs_wrong", api.url) as client, pytest.raises(AuthenticationError):
        client.submit("flux-dev", prompt="x")
    with Client(broke, api.url) as client, pytest.raises(InsufficientBalanceError) as caught:
        client.submit("flux-dev", prompt="x", image_size="256x256")
    assert "Required: $0.025" in caught.value.message
    with Client(api.key, api.url) as client:
        with pytest.raises(ModerationError) as moderated:
            client.run("flux-dev", prompt="a photo of porn on a studio set", image_size="256x256")
        assert moderated.value.status == "FAILED"
        # An ended request cannot be cancelled: 409, naming its state.
        with pytest.raises(ConflictError) as conflict:
            client.cancel(moderated.value.request_id)
        assert conflict.value.status_code == 409 and "FAILED" in conflict.value.message
        with pytest.raises(NotFoundError):
            client.cancel("no-such-request")


def test_retries_honour_retry_after_with_one_idempotency_key() -> None:
    server = ThrottledServer(refusals=2, retry_after="1").start()
    try:
        with Client("fs_any", server.url) as client:
            submitted = client.submit("flux-dev", prompt="x")
    finally:
        server.stop()
    assert submitted.request_id == "flux-dev_1"
    times = [at for at, _ in server.seen]
    keys = {headers["Idempotency-Key"] for _, headers in server.seen}
    assert len(times) == 3 and len(keys) == 1
    assert all(later - earlier >= 0.95 for earlier, later in itertools.pairwise(times))


def test_rate_limit_surfaces_after_the_last_retry() -> None:
    server = ThrottledServer(refusals=99, retry_after="0").start()
    policy = RetryPolicy(max_retries=2)
    try:
        with (
            Client("fs_any", server.url, retry=policy) as client,
            pytest.raises(RateLimitError) as caught,
        ):
            client.submit("flux-dev", prompt="x")
    finally:
        server.stop()
    assert len(server.seen) == 3 and caught.value.retry_after_s == 0


def test_verify_webhook() -> None:
    body = b'{"request_id": "flux-dev_1", "status": "COMPLETED"}'
    now = int(time.time())
    mac = hmac.new(b"s3cret", f"{now}.".encode() + body, hashlib.sha256).hexdigest()
    header = f"t={now},v1={mac}"
    assert verify_webhook("s3cret", header, body)
    assert not verify_webhook("s3cret", header, body + b" ")
    assert not verify_webhook("other", header, body)
    assert not verify_webhook("s3cret", header, body, now=now + 3600)
    assert not verify_webhook("s3cret", None, body)
