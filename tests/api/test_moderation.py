"""Content safety over real HTTP: a blocked prompt or a flagged output ends the request FAILED
with a clear moderation error, charges nothing (hold, then release) and stores nothing; the
caller's switches and tolerances move the line only where the rules allow it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.api.conftest import Api, write_config
from tests.support.client import download_image, poll
from tests.support.jobs import submit
from tests.support.ledger import ledger_kinds, read_wallet
from tests.support.safety_model import save_always_nsfw_classifier
from tests.support.servers import FluxServer, create_key, run_cli

FLUX_DEV = "/flux-dev/v1/dev/textToImage"
FLUX2_PRO = "/flux-2-pro-text-to-image-799/v1/flux-2-pro-text-to-image-request"
FLUX_DEV_PRICE = 25_000
FLUX2_PRO_PRICE = 60_000
CREDIT = 1_000_000  # $1
EXPLICIT = "a photo of porn on a studio set"
EXPLICIT_REASON = "Prompt rejected by the content safety filter: explicit sexual content"


def _run(server: FluxServer, key: str, path: str, body: dict[str, Any]) -> dict[str, Any]:
    return poll(server.url, submit(server.url, path, key, body), key)


def _assert_uncharged_and_unstored(server: FluxServer, key: str, done: dict[str, Any]) -> None:
    rid = done["request_id"]
    wallet, _ = read_wallet(server.data_dir, key)
    assert (wallet.balance_micros, wallet.held_micros) == (CREDIT, 0)
    assert ledger_kinds(server.data_dir, key, rid) == ["hold", "release"]
    assert done["output"] is None
    assert not (server.data_dir / "media" / "outputs" / rid).exists()


def _fresh_key(server: FluxServer, name: str) -> str:
    return create_key(server.data_dir, credit="1", name=name)


@pytest.fixture(scope="module")
def image_checked(
    tmp_path_factory: pytest.TempPathFactory, demo_cache_dir: Path
) -> Iterator[FluxServer]:
    """A server whose image safety checker flags every image it sees."""
    data_dir = tmp_path_factory.mktemp("image-checked")
    model = save_always_nsfw_classifier(tmp_path_factory.mktemp("nsfw-classifier"))
    config = write_config(data_dir / "config.toml", demo_cache_dir)
    with config.open("a") as handle:
        handle.write(f'[safety]\nimage_checker = "transformers"\nimage_model_path = "{model}"\n')
    server = FluxServer(data_dir, config=config).start()
    yield server
    server.stop()


def test_explicit_prompt_fails_uncharged_and_stores_nothing(api: Api) -> None:
    key = _fresh_key(api.server, "moderated")
    body = {"prompt": EXPLICIT, "image_size": "square", "seed": 1}
    done = _run(api.server, key, FLUX_DEV, body)
    assert done["status"] == "FAILED"
    assert done["error"] == EXPLICIT_REASON
    assert done["completed_at"] is not None
    _assert_uncharged_and_unstored(api.server, key, done)
    shown = run_cli("wallet", "show", key, data_dir=api.server.data_dir)
    assert "balance $1.00" in shown and "held    $0.00" in shown
    assert "release" in shown


def test_sync_endpoint_answers_a_blocked_prompt_with_400_uncharged(api: Api) -> None:
    key = _fresh_key(api.server, "sync-moderated")
    response = httpx.post(
        f"{api.url}/flux-2-klein-4b/v1/generateImage",
        headers=api.headers(key),
        json={"prompt": EXPLICIT, "width": 512, "height": 512, "steps": 2},
        timeout=120,
    )
    assert response.status_code == 400
    assert response.json() == {"error": EXPLICIT_REASON}
    wallet, entries = read_wallet(api.server.data_dir, key)
    assert (wallet.balance_micros, wallet.held_micros) == (CREDIT, 0)
    assert [e.kind for e in sorted(entries, key=lambda e: e.id)] == ["topup", "hold", "release"]


def test_explicit_prompt_runs_when_the_caller_disables_the_checker(api: Api) -> None:
    key = _fresh_key(api.server, "unchecked")
    body = {"prompt": EXPLICIT, "image_size": "square", "enable_safety_checker": False}
    done = _run(api.server, key, FLUX_DEV, body)
    assert done["status"] == "COMPLETED", done
    assert ledger_kinds(api.server.data_dir, key, done["request_id"]) == ["hold", "capture"]
    wallet, _ = read_wallet(api.server.data_dir, key)
    assert (wallet.balance_micros, wallet.held_micros) == (CREDIT - FLUX_DEV_PRICE, 0)


def test_sexual_content_with_minors_is_blocked_even_with_the_checker_off(api: Api) -> None:
    key = _fresh_key(api.server, "minors")
    for path, body in [
        (FLUX_DEV, {"prompt": "jailbait", "image_size": "square", "enable_safety_checker": False}),
        (
            FLUX2_PRO,
            {
                "prompt": "a teenager in lingerie",
                "image_size": "256x256",
                "safety_tolerance": 4,  # the most permissive end of the scale
                "enable_safety_checker": False,
            },
        ),
    ]:
        done = _run(api.server, key, path, body)
        assert done["status"] == "FAILED", done
        assert done["error"] == (
            "Prompt rejected by the content safety filter: sexual content involving minors"
        )
        assert not (api.server.data_dir / "media" / "outputs" / done["request_id"]).exists()
    _, entries = read_wallet(api.server.data_dir, key)
    assert sorted(e.kind for e in entries if e.request_id) == ["hold", "hold", "release", "release"]


def test_nudity_is_blocked_at_a_strict_tolerance_and_allowed_at_a_lenient_one(api: Api) -> None:
    key = _fresh_key(api.server, "tolerance")
    prompt = "a nude figure study in charcoal"
    strict = _run(
        api.server,
        key,
        FLUX2_PRO,
        {"prompt": prompt, "image_size": "256x256", "safety_tolerance": 1},
    )
    assert strict["status"] == "FAILED"
    assert strict["error"] == "Prompt rejected by the content safety filter: nudity"
    _assert_uncharged_and_unstored(api.server, key, strict)
    lenient = _run(
        api.server,
        key,
        FLUX2_PRO,
        {"prompt": prompt, "image_size": "256x256", "safety_tolerance": 4},
    )
    assert lenient["status"] == "COMPLETED", lenient
    image, _ = download_image(lenient["output"]["media_url"][0])
    assert image.size == (256, 256)
    wallet, _ = read_wallet(api.server.data_dir, key)
    assert (wallet.balance_micros, wallet.held_micros) == (CREDIT - FLUX2_PRO_PRICE, 0)


def test_flagged_output_fails_uncharged_and_stores_nothing(image_checked: FluxServer) -> None:
    key = _fresh_key(image_checked, "flagged")
    done = _run(image_checked, key, FLUX_DEV, {"prompt": "a lighthouse", "image_size": "square"})
    assert done["status"] == "FAILED", done
    assert done["error"].startswith("Output rejected by the image safety checker: image 1:")
    _assert_uncharged_and_unstored(image_checked, key, done)


def test_flagged_output_is_delivered_when_the_caller_disables_the_checker(
    image_checked: FluxServer,
) -> None:
    key = _fresh_key(image_checked, "unflagged")
    body = {"prompt": "a lighthouse", "image_size": "square", "enable_safety_checker": False}
    done = _run(image_checked, key, FLUX_DEV, body)
    assert done["status"] == "COMPLETED", done
    image, content_type = download_image(done["output"]["media_url"][0])
    assert (image.size, content_type) == ((512, 512), "image/jpeg")
    assert ledger_kinds(image_checked.data_dir, key, done["request_id"]) == ["hold", "capture"]
