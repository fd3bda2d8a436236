"""HMAC-SHA256 signatures for webhook bodies (`X-Fluxserve-Signature: t=<unix>,v1=<hex>`).

The signed message is the ASCII timestamp, a dot, then the exact body bytes that are POSTed:
``f"{t}.".encode() + body``. Binding the timestamp into the MAC lets receivers refuse replays
older than a tolerance of their choosing. See `fluxserve.webhooks.deliverer` for the receiver's
side, step by step.
"""

from __future__ import annotations

import hashlib
import hmac

SIGNATURE_HEADER = "X-Fluxserve-Signature"
DEFAULT_TOLERANCE_S = 300


def compute_signature(secret: str, timestamp: int, body: bytes) -> str:
    """Hex HMAC-SHA256 of ``f"{timestamp}.".encode() + body`` keyed with `secret` (UTF-8)."""
    message = f"{timestamp}.".encode("ascii") + body
    return hmac.new(secret.encode("utf-8"), message, hashlib.sha256).hexdigest()


def signature_header(secret: str, timestamp: int, body: bytes) -> str:
    """The value of the signature header for `body` sent at `timestamp` (unix seconds)."""
    return f"t={timestamp},v1={compute_signature(secret, timestamp, body)}"


def verify_signature(
    secret: str,
    header: str,
    body: bytes,
    *,
    now: int,
    tolerance_s: int = DEFAULT_TOLERANCE_S,
) -> bool:
    """True when `header` is a valid signature of `body` made within `tolerance_s` of `now`.

    Meant for receivers written in Python; accepts any of several `v1=` entries so that a
    secret can be rotated by sending two signatures for a while."""
    fields = [part.split("=", 1) for part in header.split(",") if "=" in part]
    stamps = [value for key, value in fields if key.strip() == "t"]
    if len(stamps) != 1 or not stamps[0].strip().isdigit():
        return False
    timestamp = int(stamps[0])
    if abs(now - timestamp) > tolerance_s:
        return False
    expected = compute_signature(secret, timestamp, body)
    return any(
        hmac.compare_digest(expected, value.strip()) for key, value in fields if key.strip() == "v1"
    )
