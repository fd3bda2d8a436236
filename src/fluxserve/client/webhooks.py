"""Checking a webhook's `X-Fluxserve-Signature: t=<unix>,v1=<hex>` (HMAC-SHA256 of
"{t}.{body}") on the receiving side."""

from __future__ import annotations

import time

from fluxserve.webhooks.signing import DEFAULT_TOLERANCE_S, SIGNATURE_HEADER, verify_signature

__all__ = ["SIGNATURE_HEADER", "verify_webhook"]


def verify_webhook(
    secret: str,
    header: str | None,
    body: bytes,
    *,
    tolerance_s: int = DEFAULT_TOLERANCE_S,
    now: int | None = None,
) -> bool:
    """True when `header` signs exactly `body` with `secret`, made within `tolerance_s` of now.
    Pass the raw body bytes as received, before any JSON parsing."""
    if not header:
        return False
    moment = int(time.time()) if now is None else now
    return verify_signature(secret, header, body, now=moment, tolerance_s=tolerance_s)
