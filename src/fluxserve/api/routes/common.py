"""Small helpers several route modules share."""

from __future__ import annotations

from fluxserve.api.context import ApiContext
from fluxserve.api.intake import Webhook
from fluxserve.billing.keys import ApiKeyRecord
from fluxserve.errors import NotFound
from fluxserve.jobs.records import JobRecord
from fluxserve.webhooks.validate import validate_webhook_url


def header_webhook(value: str | None) -> Webhook | None:
    """The `X-Webhook-URL` header, validated, as a webhook for the status body."""
    if value is None or not value.strip():
        return None
    return Webhook(url=validate_webhook_url(value.strip()))


def owner_of(key: ApiKeyRecord) -> str | None:
    """The key whose jobs `key` may see and act on (None: an operator, every key's)."""
    return None if key.is_operator else key.id


def owned_job(ctx: ApiContext, request_id: str, key: ApiKeyRecord) -> JobRecord:
    """The caller's job. Someone else's answers exactly like a missing one: ids are not a
    lookup oracle."""
    return check_owned(ctx.jobs.get(request_id), request_id, key)


def check_owned(job: JobRecord | None, request_id: str, key: ApiKeyRecord) -> JobRecord:
    """`job` when it exists and `key` may see it, else NotFound (see `owned_job`)."""
    owner = owner_of(key)
    if job is None or (owner is not None and job.key_id != owner):
        raise NotFound(f"Request '{request_id}' not found")
    return job
