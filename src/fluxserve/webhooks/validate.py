"""Accept-time check of a client's webhook URL (the spec's "Invalid webhook URL").

Only the URL's shape is checked here; whether its host is allowed (SSRF) is decided at
delivery time, when the name is resolved, because DNS answers change.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from fluxserve.errors import InvalidRequest

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
