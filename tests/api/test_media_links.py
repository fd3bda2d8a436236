"""Output URLs that expire on purpose, over real HTTP: signed /media links, refused when
altered (403) or expired (410, in the API's error format), a fresh link on every status read,
and the retention sweeper of a running server deleting outputs so the status says they are
gone."""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from fluxserve.storage.url_signing import SECRET_FILE
from tests.api.conftest import Api, write_config
from tests.support.client import poll
from tests.support.jobs import status, submit
from tests.support.servers import FluxServer, create_key

FLUX_DEV = "/flux-dev/v1/dev/textToImage"
SMALL = {"prompt": "a lighthouse", "image_size": "64x64", "num_inference_steps": 1}


def _completed(api: Api) -> dict[str, Any]:
    request_id = submit(api.url, FLUX_DEV, api.key, SMALL)
    done = poll(api.url, request_id, api.key)
    assert done["status"] == "COMPLETED", done
    return done


def _parts(url: str) -> tuple[str, str, str, str]:
    """Base URL, expiry, signature and storage key of a signed media URL."""
    base, rest = url.split("/media/s/", 1)
    expires, sig, key = rest.split("/", 2)
    return base, expires, sig, key


def _signed(base: str, expires: str, sig: str, key: str) -> str:
    return f"{base}/media/s/{expires}/{sig}/{key}"


def test_status_gives_signed_urls_with_their_expiry(api: Api) -> None:
    before = datetime.now(UTC)
    done = _completed(api)
    [url] = done["output"]["media_url"]
    _, expires, _, key = _parts(url)
    assert url.endswith(".jpg") and key.startswith(f"outputs/{done['request_id']}/")
    expires_at = datetime.fromisoformat(done["expires_at"].replace("Z", "+00:00"))
    # The default lifetime is 7 days; the URL itself is good at least until `expires_at`.
    assert before + timedelta(days=7) - timedelta(seconds=1) <= expires_at
    assert expires_at <= datetime.now(UTC) + timedelta(days=7)
    assert int(expires) >= expires_at.timestamp()
    fetched = httpx.get(url, timeout=30)
    assert fetched.status_code == 200 and fetched.headers["content-type"] == "image/jpeg"


def test_altered_or_unsigned_links_are_refused(api: Api) -> None:
    [url] = _completed(api)["output"]["media_url"]
    [other_url] = _completed(api)["output"]["media_url"]
    base, expires, sig, key = _parts(url)
    other_key = _parts(other_url)[3]
    later = str(int(expires) + 3600)
    for bad in (
        f"{base}/media/{key}",  # unsigned
        _signed(base, later, sig, key),  # a longer life
        _signed(base, expires, "0" * 64, key),  # a made-up signature
        _signed(base, expires, sig, other_key),  # another request's file
    ):
        response = httpx.get(bad, timeout=30)
        assert response.status_code == 403, response.text
        assert response.json()["error"] == "Forbidden"


def test_an_expired_link_is_refused_and_the_status_gives_a_fresh_one(api: Api) -> None:
    done = _completed(api)
    [url] = done["output"]["media_url"]
    base, _, _, key = _parts(url)
    # A link this server signed (its own secret) an hour ago that has run out.
    secret = (api.server.data_dir / SECRET_FILE).read_text().strip().encode()
    expired = str(int(time.time()) - 3600)
    folder = key.rsplit("/", 1)[0]
    sig = hmac.new(secret, f"{folder}\n{expired}".encode(), hashlib.sha256).hexdigest()
    response = httpx.get(_signed(base, expired, sig, key), timeout=30)
    assert response.status_code == 410, response.text
    body = response.json()
    assert body["error"] == "Gone" and "/v2/requests/status/" in body["message"]

    [fresh] = status(api.url, done["request_id"], api.key)["output"]["media_url"]
    assert httpx.get(fresh, timeout=30).status_code == 200


def test_expires_at_comes_with_the_output(api: Api) -> None:
    request_id = submit(api.url, FLUX_DEV, api.key, SMALL)
    first = status(api.url, request_id, api.key)
    assert ("expires_at" in first) == (first["output"] is not None)
    assert "expires_at" in poll(api.url, request_id, api.key)


@pytest.fixture(scope="module")
def short_retention(
    tmp_path_factory: pytest.TempPathFactory, demo_cache_dir: Path
) -> Iterator[Api]:
    """A server whose sweeper deletes outputs five seconds after their job ended."""
    data_dir = tmp_path_factory.mktemp("short-retention")
    config = write_config(data_dir / "config.toml", demo_cache_dir)
    with config.open("a") as handle:
        handle.write("[media.retention]\noutputs_s = 5\nsweep_interval_s = 0.2\n")
    key = create_key(data_dir, credit="10")
    server = FluxServer(data_dir, config=config).start()
    yield Api(server, key)
    server.stop()


def test_the_sweeper_deletes_outputs_and_the_status_says_so(short_retention: Api) -> None:
    api = short_retention
    request_id = submit(api.url, FLUX_DEV, api.key, SMALL)
    done = poll(api.url, request_id, api.key)
    assert done["status"] == "COMPLETED", done
    deadline = time.monotonic() + 120
    body = done
    while "media_deleted_at" not in body:
        assert time.monotonic() < deadline, f"outputs never swept: {body}"
        time.sleep(0.2)
        body = status(api.url, request_id, api.key)
    assert body["status"] == "COMPLETED"
    assert body["output"] is None and "expires_at" not in body
    # Whatever link the client still holds now finds nothing.
    response = httpx.get(done["output"]["media_url"][0], timeout=30)
    assert response.status_code == 404
    assert not list((api.server.data_dir / "media" / "outputs").glob(f"{request_id}/**/*.jpg"))
