"""Content credentials end to end: a real server signs every output, the status body reports
them to the owner, and `fluxserve verify` checks a served image as any user would."""

from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path
from typing import Any

import c2pa
import httpx
import pytest

from fluxserve.provenance.manifest import TRAINED_ALGORITHMIC_MEDIA
from tests.api.conftest import Api
from tests.support.client import poll
from tests.support.jobs import submit
from tests.support.servers import FileServer

TEXT_TO_IMAGE = "/flux-2-pro-text-to-image-799/v1/flux-2-pro-text-to-image-request"
IMAGE_TO_IMAGE = "/flux-2-pro-image-to-image-866/v1/flux-2-pro-image-to-image-request"
SPEC_FIELDS = {
    "request_id", "status", "model_id", "error", "output",
    "created_at", "updated_at", "completed_at",
}  # fmt: skip
SELF_MADE_VERDICT = {
    "present": True,
    "signer": "fluxserve signer",
    "validation_state": "Valid",
    "failures": ["signingCredential.untrusted"],
}


def generate(api: Api, path: str, body: dict[str, Any]) -> tuple[dict[str, Any], bytes]:
    request_id = submit(api.url, path, api.key, body)
    done = poll(api.url, request_id, api.key)
    assert done["status"] == "COMPLETED", done
    response = httpx.get(done["output"]["media_url"][0], timeout=30)
    assert response.status_code == 200
    return done, response.content


def active_manifest(data: bytes, content_type: str) -> dict[str, Any]:
    with c2pa.Reader(content_type, io.BytesIO(data)) as reader:
        assert reader.get_validation_state() == "Valid"
        manifest: dict[str, Any] = reader.get_active_manifest()
    return manifest


@pytest.mark.parametrize(
    ("fmt", "content_type"),
    [("png", "image/png"), ("jpeg", "image/jpeg"), ("webp", "image/webp")],
)
def test_every_output_is_signed_and_the_owner_sees_it(
    api: Api, fmt: str, content_type: str
) -> None:
    body = {"prompt": "a lighthouse", "image_size": "64x64", "output_format": fmt}
    done, data = generate(api, TEXT_TO_IMAGE, body)
    # The spec's fields all there; fluxserve's extensions beside them.
    assert SPEC_FIELDS < set(done) <= SPEC_FIELDS | {"progress", "provenance", "expires_at"}
    assert done["provenance"] == SELF_MADE_VERDICT
    [action] = active_manifest(data, content_type)["assertions"][0]["data"]["actions"]
    assert action["action"] == "c2pa.created"
    assert action["digitalSourceType"] == TRAINED_ALGORITHMIC_MEDIA
    generation = action["parameters"]["fluxserve"]
    assert generation["model_id"] == "flux-2-pro-text-to-image-799"
    assert generation["request_id"] == done["request_id"]
    assert generation["weights"].startswith("demo")
    assert "prompt" not in generation


def test_an_edit_names_its_input_as_parent(api: Api, files: FileServer) -> None:
    body = {
        "prompt": "make it blue",
        "image_urls": [files.url("coffee.jpg")],
        "image_size": "64x64",
        "output_format": "png",
    }
    _, data = generate(api, IMAGE_TO_IMAGE, body)
    manifest = active_manifest(data, "image/png")
    [ingredient] = manifest["ingredients"]
    assert ingredient["relationship"] == "parentOf"
    actions = manifest["assertions"][0]["data"]["actions"]
    assert [a["action"] for a in actions] == ["c2pa.opened", "c2pa.edited"]


def test_health_says_the_signer_is_self_made(api: Api) -> None:
    provenance = httpx.get(f"{api.url}/health", timeout=30).json()["provenance"]
    assert provenance["enabled"] and provenance["self_made"]
    assert provenance["algorithm"] == "es256" and provenance["failed"] == 0
    assert "untrusted" in provenance["note"]


def verify(target: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "fluxserve", "verify", target],
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_fluxserve_verify_checks_a_served_image(api: Api, tmp_path: Path) -> None:
    body = {"prompt": "a harbour", "image_size": "64x64", "output_format": "jpeg"}
    done, data = generate(api, TEXT_TO_IMAGE, body)
    result = verify(done["output"]["media_url"][0])
    assert result.returncode == 0, result.stderr
    assert "validation: Valid" in result.stdout
    assert "failures: signingCredential.untrusted" in result.stdout
    assert "action: c2pa.created trainedAlgorithmicMedia fluxserve" in result.stdout
    assert f"request_id: {done['request_id']}" in result.stdout
    tampered = bytearray(data)
    tampered[tampered.rfind(b"\xff\xda") + 16] ^= 0x5A
    (tmp_path / "tampered.jpg").write_bytes(bytes(tampered))
    result = verify(str(tmp_path / "tampered.jpg"))
    assert result.returncode == 1
    assert "validation: Invalid" in result.stdout
    assert "assertion.dataHash.mismatch" in result.stdout
