"""Reading an image's content credentials back and judging them, as any validator would."""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from typing import Any

import c2pa

from fluxserve.provenance.manifest import GENERATION_KEY

# Worst first: a set of outputs is as good as its worst one.
_STATE_RANK = {"Missing": 0, "Invalid": 1, "Valid": 2, "Trusted": 3}
_MAGIC = ((b"\x89PNG", "image/png"), (b"\xff\xd8\xff", "image/jpeg"))


@dataclass(frozen=True)
class CredentialsReport:
    """What an image's manifest says and whether it holds. `validation_state` is c2pa's
    (`Valid`, `Trusted`, `Invalid`), or `Missing` when the image carries no manifest."""

    present: bool
    validation_state: str
    failures: tuple[str, ...] = ()
    signer: str | None = None
    issuer: str | None = None
    signed_at: str | None = None
    claim_generator: str | None = None
    actions: tuple[dict[str, Any], ...] = ()
    ingredients: tuple[dict[str, Any], ...] = ()
    manifest: dict[str, Any] = field(default_factory=dict)

    @property
    def generation(self) -> dict[str, Any]:
        """fluxserve's model facts (model, weights, LoRAs, request id), when fluxserve signed."""
        for action in self.actions:
            found = (action.get("parameters") or {}).get(GENERATION_KEY)
            if isinstance(found, dict):
                return found
        return {}

    @property
    def sound(self) -> bool:
        return self.validation_state in ("Valid", "Trusted")


def sniff_content_type(data: bytes) -> str | None:
    for magic, content_type in _MAGIC:
        if data.startswith(magic):
            return content_type
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return None


def _reader_context(trust_anchors_pem: str | None) -> Any:
    if trust_anchors_pem is None:
        return None
    return c2pa.Context(
        settings=c2pa.Settings.from_dict({"trust": {"trust_anchors": trust_anchors_pem}})
    )


def read_credentials(
    data: bytes, content_type: str | None = None, trust_anchors_pem: str | None = None
) -> CredentialsReport:
    """The credentials `data` carries; trust anchors (PEM) turn `Valid` into `Trusted`."""
    fmt = sniff_content_type(data) or content_type
    try:
        context = _reader_context(trust_anchors_pem)
        reader = c2pa.Reader.try_create(fmt, io.BytesIO(data), context=context)
    except c2pa.C2paError as exc:
        return CredentialsReport(present=True, validation_state="Invalid", failures=(str(exc),))
    if reader is None:
        return CredentialsReport(present=False, validation_state="Missing")
    with reader:
        state = reader.get_validation_state() or "Invalid"
        results = reader.get_validation_results() or {}
        active = reader.get_active_manifest() or {}
    failures = tuple(item["code"] for item in results.get("activeManifest", {}).get("failure", []))
    return _report(active, state, failures)


def _report(active: dict[str, Any], state: str, failures: tuple[str, ...]) -> CredentialsReport:
    signature = active.get("signature_info") or {}
    generator = (active.get("claim_generator_info") or [{}])[0]
    actions: list[dict[str, Any]] = []
    for assertion in active.get("assertions", []):
        if str(assertion.get("label", "")).startswith("c2pa.actions"):
            actions.extend(assertion.get("data", {}).get("actions", []))
    return CredentialsReport(
        present=True,
        validation_state=state,
        failures=failures,
        signer=signature.get("common_name"),
        issuer=signature.get("issuer"),
        signed_at=signature.get("time"),
        claim_generator=" ".join(str(generator.get(k, "")) for k in ("name", "version")).strip()
        or None,
        actions=tuple(actions),
        ingredients=tuple(active.get("ingredients", [])),
        manifest=active,
    )


def summary(reports: list[CredentialsReport]) -> dict[str, Any]:
    """One status-body object for a request's outputs: the worst output decides."""
    if not reports:
        return {"present": False, "signer": None, "validation_state": "Missing", "failures": []}
    worst = min(reports, key=lambda r: _STATE_RANK.get(r.validation_state, 1))
    return {
        "present": all(r.present for r in reports),
        "signer": worst.signer or reports[0].signer,
        "validation_state": worst.validation_state,
        "failures": sorted({code for r in reports for code in r.failures}),
    }
