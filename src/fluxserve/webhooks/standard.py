"""Standard Webhooks signatures (https://www.standardwebhooks.com): each delivery carries
`webhook-id`, `webhook-timestamp` and `webhook-signature: v1,<base64 HMAC-SHA256>`, made with
the API key's own `whsec_` secret, so any Standard Webhooks library verifies it.

The signed message is ``f"{webhook_id}.{timestamp}.".encode() + body``, keyed with the
base64-decoded part of the secret after `whsec_`."""

from __future__ import annotations

import base64
import hashlib
import hmac

SECRET_PREFIX = "whsec_"  # secrets are made with their key (`billing.keys.new_webhook_secret`)


def _key_bytes(secret: str) -> bytes:
    encoded = secret.removeprefix(SECRET_PREFIX)
    return base64.b64decode(encoded + "=" * (-len(encoded) % 4))


def sign(secret: str, webhook_id: str, timestamp: int, body: bytes) -> str:
    """The `webhook-signature` value for `body` sent as `webhook_id` at `timestamp`."""
    message = f"{webhook_id}.{timestamp}.".encode() + body
    digest = hmac.new(_key_bytes(secret), message, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode("ascii")


def standard_headers(secret: str, webhook_id: str, timestamp: int, body: bytes) -> dict[str, str]:
    """The three Standard Webhooks headers of one delivery."""
    return {
        "webhook-id": webhook_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": sign(secret, webhook_id, timestamp, body),
    }


def delivery_id(outbox_id: int) -> str:
    """The `webhook-id` of an outbox row: the same on every retry of that delivery."""
    return f"msg_{outbox_id}"
