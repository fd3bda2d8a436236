"""Small helpers several route modules share."""

from __future__ import annotations

from fluxserve.api.intake import Webhook
from fluxserve.webhooks.validate import validate_webhook_url


def header_webhook(value: str | None) -> Webhook | None:
    """The `X-Webhook-URL` header, validated, as a webhook for the status body."""
    if value is None or not value.strip():
        return None
    return Webhook(url=validate_webhook_url(value.strip()))
