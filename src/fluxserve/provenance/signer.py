"""Signing encoded outputs with c2pa-python, under the operator's failure policy."""

from __future__ import annotations

import io
import logging
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import c2pa
from PIL import Image

from fluxserve.errors import SigningFailure
from fluxserve.provenance.credentials import SigningCredentials
from fluxserve.provenance.facts import OutputFacts
from fluxserve.provenance.manifest import PARENT_INGREDIENT, manifest_definition

log = logging.getLogger("fluxserve.provenance")

EXTENSIONS = {"image/png": "png", "image/jpeg": "jpg", "image/webp": "webp"}
# The claim thumbnail would add ~150 KB to a 64² PNG and repeat what the image already shows.
BUILDER_SETTINGS = {"builder": {"thumbnail": {"enabled": False}}}
SELF_MADE_NOTE = (
    "self-made signing credentials: outputs carry valid C2PA manifests, but validators report "
    "them untrusted (signingCredential.untrusted). Configure provenance.cert_chain and "
    "provenance.private_key from a CA on the C2PA trust list for trusted credentials."
)


@dataclass(frozen=True)
class SignerPolicy:
    version: str
    weights: Mapping[str, str]  # engine model -> weights label (never a local path)
    include_prompt: bool = False
    required: bool = False
    timestamp_url: str | None = None


class ContentSigner:
    """Puts a signed C2PA manifest into encoded images. One per process, shared by workers."""

    def __init__(self, credentials: SigningCredentials, policy: SignerPolicy) -> None:
        self.credentials = credentials
        self.policy = policy
        self._signer = _c2pa_signer(credentials, policy.timestamp_url)
        self._context = c2pa.Context(settings=c2pa.Settings.from_dict(BUILDER_SETTINGS))
        # c2pa's handles are not documented as thread-safe; a signature takes milliseconds.
        self._lock = threading.Lock()
        self.signed = 0
        self.failed = 0

    def sign(self, data: bytes, content_type: str, facts: OutputFacts) -> bytes:
        """`data` with its manifest embedded; raises on any failure."""
        return self._sign_with(self._signer, data, content_type, facts)

    def _sign_with(self, signer: Any, data: bytes, content_type: str, facts: OutputFacts) -> bytes:
        definition = manifest_definition(
            facts,
            weights=self.policy.weights.get(facts.engine_model, "unknown"),
            version=self.policy.version,
            include_prompt=self.policy.include_prompt,
            title=f"output-{facts.index}.{EXTENSIONS.get(content_type, 'bin')}",
        )
        out = io.BytesIO()
        with self._lock, c2pa.Builder.from_json(definition, context=self._context) as builder:
            if facts.parent_png is not None:
                builder.set_intent(c2pa.C2paBuilderIntent.EDIT)
                builder.add_ingredient(PARENT_INGREDIENT, "image/png", io.BytesIO(facts.parent_png))
            builder.sign(signer, content_type, io.BytesIO(data), out)
        return out.getvalue()

    def sign_or_keep(self, data: bytes, content_type: str, facts: OutputFacts) -> bytes:
        """Signed `data`; on failure the unsigned bytes (logged, counted), or SigningFailure
        when the operator made signing mandatory."""
        try:
            signed = self.sign(data, content_type, facts)
        except Exception as exc:
            with self._lock:
                self.failed += 1
            log.error("%s: content credentials not added: %s", facts.request_id, exc)
            if self.policy.required:
                raise SigningFailure(
                    f"Content credentials could not be added: {exc}",
                    title="Signing failed",
                ) from exc
            return data
        with self._lock:
            self.signed += 1
        return signed

    def self_test(self) -> None:
        """Sign a tiny image once, without the timestamp authority, so broken credentials
        stop the start instead of every job."""
        probe = io.BytesIO()
        Image.new("RGB", (8, 8)).save(probe, format="PNG")
        facts = OutputFacts("self-test", "self-test", "self-test", "text_to_image", 0, "")
        try:
            offline = _c2pa_signer(self.credentials, None)
            self._sign_with(offline, probe.getvalue(), "image/png", facts)
        except Exception as exc:
            raise SigningFailure(f"the signing credentials do not sign: {exc}") from None

    def health(self) -> dict[str, Any]:
        c = self.credentials
        return {
            "enabled": True,
            "signer": c.subject,
            "issuer": c.issuer,
            "algorithm": c.algorithm,
            "self_made": c.self_made,
            "expires": c.not_after,
            "timestamp_url": self.policy.timestamp_url,
            "required": self.policy.required,
            "include_prompt": self.policy.include_prompt,
            "signed": self.signed,
            "failed": self.failed,
            "note": SELF_MADE_NOTE if c.self_made else None,
        }


def _c2pa_signer(credentials: SigningCredentials, timestamp_url: str | None) -> Any:
    info = c2pa.C2paSignerInfo(
        credentials.algorithm.encode(),
        credentials.chain_pem,
        credentials.key_pem,
        timestamp_url.encode() if timestamp_url else None,
    )
    try:
        return c2pa.Signer.from_info(info)
    except c2pa.C2paError as exc:
        raise SigningFailure(f"c2pa refused the signing credentials: {exc}") from None


@dataclass(frozen=True)
class Signing:
    """What `encode_image` needs to sign one output."""

    signer: ContentSigner
    facts: OutputFacts

    def apply(self, data: bytes, content_type: str) -> bytes:
        return self.signer.sign_or_keep(data, content_type, self.facts)
