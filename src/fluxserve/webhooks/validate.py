"""Accept-time check of a client's webhook URL (the spec's "Invalid webhook URL").

The URL's shape is checked here, and a host that is a non-public address by its very spelling
(an IP literal, `localhost`) is refused, since it could never be delivered to. Names that need
DNS are judged again at delivery time, when they are resolved, because DNS answers change.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from fluxserve.errors import InputFetchError, InvalidRequest
from fluxserve.netguard import refuse_private_literal

MAX_WEBHOOK_URL_LENGTH = 2048
INVALID_WEBHOOK_URL = "Invalid webhook URL"


def validate_webhook_url(url: str) -> str:
    """Return `url` without surrounding whitespace if it is an absolute http(s) URL with a host,
    at most 2048 characters long; raise InvalidRequest("Invalid webhook URL") otherwise."""
    url = url.strip()
    if not url or len(url) > MAX_WEBHOOK_URL_LENGTH:
        raise InvalidRequest(INVALID_WEBHOOK_URL)
    # Whitespace or control characters inside a URL are an injection risk, never a real URL.
    if any(ch.isspace() or ord(ch) < 0x20 or ord(ch) == 0x7F for ch in url):
        raise InvalidRequest(INVALID_WEBHOOK_URL)
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a port out of range
    except ValueError as exc:
        raise InvalidRequest(INVALID_WEBHOOK_URL) from exc
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise InvalidRequest(INVALID_WEBHOOK_URL)
    return url


def check_webhook_target(url: str, *, allow_private: bool) -> str:
    """`validate_webhook_url`, then refuse (InvalidRequest) a host that is loopback, private,
    link-local or otherwise non-public by its spelling, unless `allow_private`."""
    url = validate_webhook_url(url)
    try:
        refuse_private_literal(url, allow_private=allow_private, what="webhook URL")
    except InputFetchError as exc:
        raise InvalidRequest(exc.message) from None
    return url
