"""The fluxserve Python SDK: `Client` and `AsyncClient` on httpx.

    from fluxserve.client import Client

    with Client("fs_...", "http://127.0.0.1:8000") as client:
        result = client.run("flux-dev", prompt="a red bicycle", image_size="1024x768", seed=7)
        result.images[0].save("bicycle.jpg")

Works against the hosted API too (same wire format): pass its base URL and key. Importing it
loads no torch and no server code."""

from fluxserve.client.aio import AsyncClient
from fluxserve.client.core import RetryPolicy
from fluxserve.client.errors import (
    APIError,
    AuthenticationError,
    BadRequestError,
    ConflictError,
    FluxServeClientError,
    InsufficientBalanceError,
    ModerationError,
    NotFoundError,
    RateLimitError,
    RequestCancelled,
    RequestFailed,
    ServerError,
    WaitTimeout,
)
from fluxserve.client.sync import Client
from fluxserve.client.types import Image, Progress, Result, Status, Submission
from fluxserve.client.webhooks import verify_webhook

__all__ = [
    "APIError",
    "AsyncClient",
    "AuthenticationError",
    "BadRequestError",
    "Client",
    "ConflictError",
    "FluxServeClientError",
    "Image",
    "InsufficientBalanceError",
    "ModerationError",
    "NotFoundError",
    "Progress",
    "RateLimitError",
    "RequestCancelled",
    "RequestFailed",
    "Result",
    "RetryPolicy",
    "ServerError",
    "Status",
    "Submission",
    "WaitTimeout",
    "verify_webhook",
]
