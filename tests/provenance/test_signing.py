"""Outputs signed where they are encoded, read back with c2pa.Reader as any validator would."""

from __future__ import annotations

import io
from typing import Any

import c2pa
import pytest

from fluxserve.errors import SigningFailure
from fluxserve.provenance.manifest import COMPOSITE_WITH_TRAINED, TRAINED_ALGORITHMIC_MEDIA
from fluxserve.provenance.reader import read_credentials, summary
from fluxserve.provenance.signer import ContentSigner, SignerPolicy, Signing
from fluxserve.storage.encode import encode_image
from tests.provenance.conftest import WEIGHTS, facts, picture, png_bytes

FORMATS = [("png", "image/png"), ("jpeg", "image/jpeg"), ("webp", "image/webp")]
UNTRUSTED = "signingCredential.untrusted"


def read(data: bytes, content_type: str) -> tuple[str, dict[str, Any], list[str]]:
    with c2pa.Reader(content_type, io.BytesIO(data)) as reader:
        state = reader.get_validation_state()
        active = reader.get_active_manifest()
        results = reader.get_validation_results()
    failures = [item["code"] for item in results["activeManifest"].get("failure", [])]
    return state, active, failures


def actions_of(active: dict[str, Any]) -> list[dict[str, Any]]:
    [assertion] = [a for a in active["assertions"] if a["label"] == "c2pa.actions.v2"]
    return list(assertion["data"]["actions"])


@pytest.mark.parametrize(("fmt", "content_type"), FORMATS)
def test_every_format_carries_a_valid_created_manifest(
    signer: ContentSigner, fmt: str, content_type: str
) -> None:
    encoded = encode_image(picture(), fmt, signing=Signing(signer, facts()))
    state, active, failures = read(encoded.data, content_type)
    # Valid: signature and hashes hold; the self-made signer is only not on a trust list.
    assert (state, failures) == ("Valid", [UNTRUSTED])
    [action] = actions_of(active)
    assert action["action"] == "c2pa.created"
    assert action["digitalSourceType"] == TRAINED_ALGORITHMIC_MEDIA
    assert action["softwareAgent"]["name"] == "fluxserve"
    generation = action["parameters"]["fluxserve"]
    assert generation["request_id"] == facts().request_id
    assert generation["model_id"] == "flux-dev"
    assert generation["weights"] == WEIGHTS["flux1-dev"]
    assert generation["loras_applied"] is False
    assert "prompt" not in generation
    assert "ingredients" not in active or active["ingredients"] == []
    assert active["signature_info"]["common_name"] == "fluxserve signer"


@pytest.mark.parametrize(("fmt", "content_type"), FORMATS)
def test_a_tampered_byte_fails_validation(
    signer: ContentSigner, fmt: str, content_type: str
) -> None:
    data = bytearray(encode_image(picture(), fmt, signing=Signing(signer, facts())).data)
    # A byte of the compressed pixels, past the container headers, outside the manifest.
    pixels_at = {"png": data.rfind(b"IDAT"), "jpeg": data.rfind(b"\xff\xda"), "webp": -1}[fmt]
    if fmt == "webp":
        pixels_at = max(data.find(b"VP8 "), data.find(b"VP8L"))
    assert pixels_at > 0
    data[pixels_at + 16] ^= 0x5A
    state, _, failures = read(bytes(data), content_type)
    assert state == "Invalid"
    assert "assertion.dataHash.mismatch" in failures


def test_an_edit_lists_its_input_as_parent_ingredient(signer: ContentSigner) -> None:
    parent = png_bytes(picture().rotate(90))
    edit = facts(operation="fill", parent_png=parent, lora_count=2)
    encoded = encode_image(picture(), "jpeg", signing=Signing(signer, edit))
    state, active, _ = read(encoded.data, "image/jpeg")
    assert state == "Valid"
    [ingredient] = active["ingredients"]
    assert ingredient["relationship"] == "parentOf"
    assert ingredient["format"] == "image/png"
    opened, edited = actions_of(active)
    assert opened["action"] == "c2pa.opened"
    assert edited["action"] == "c2pa.edited"
    assert edited["digitalSourceType"] == COMPOSITE_WITH_TRAINED
    assert edited["parameters"]["fluxserve"]["loras_applied"] is True


def test_the_prompt_is_signed_only_when_the_operator_says_so(signer: ContentSigner) -> None:
    policy = SignerPolicy(version="test", weights=WEIGHTS, include_prompt=True)
    with_prompt = ContentSigner(signer.credentials, policy)
    encoded = encode_image(picture(), "png", signing=Signing(with_prompt, facts()))
    assert read_credentials(encoded.data).generation["prompt"] == "a private prompt"


def test_a_failed_signature_keeps_the_image_unless_signing_is_required(
    signer: ContentSigner,
) -> None:
    lenient = ContentSigner(signer.credentials, SignerPolicy(version="test", weights=WEIGHTS))
    not_an_image = b"not an image at all"
    assert lenient.sign_or_keep(not_an_image, "image/png", facts()) == not_an_image
    assert (lenient.signed, lenient.failed) == (0, 1)
    strict_policy = SignerPolicy(version="test", weights=WEIGHTS, required=True)
    strict = ContentSigner(signer.credentials, strict_policy)
    with pytest.raises(SigningFailure, match="Content credentials could not be added"):
        strict.sign_or_keep(not_an_image, "image/png", facts())
    assert strict.failed == 1


def test_reports_summarise_outputs_by_the_worst(signer: ContentSigner) -> None:
    signed = encode_image(picture(), "png", signing=Signing(signer, facts())).data
    unsigned = encode_image(picture(), "png").data
    good = read_credentials(signed)
    assert summary([good]) == {
        "present": True,
        "signer": "fluxserve signer",
        "validation_state": "Valid",
        "failures": [UNTRUSTED],
    }
    assert summary([good, read_credentials(unsigned)])["validation_state"] == "Missing"
    assert summary([good, read_credentials(unsigned)])["present"] is False
