"""validate_webhook_url: the accept-time shape check behind the spec's "Invalid webhook URL"."""

from __future__ import annotations

import pytest

from fluxserve.errors import InvalidRequest
from fluxserve.webhooks.validate import MAX_WEBHOOK_URL_LENGTH, validate_webhook_url


@pytest.mark.parametrize(
    "url",
    [
        "https://your-server.com/webhook/callback",
        "http://127.0.0.1:9000/hook?token=abc",
        "https://user:pw@hooks.example.com:8443/x",
        "https://[2001:db8::1]/hook",
    ],
)
def test_accepts_http_urls_with_a_host(url: str) -> None:
    assert validate_webhook_url(url) == url


def test_strips_surrounding_whitespace() -> None:
    assert validate_webhook_url("  https://a.example/h \n") == "https://a.example/h"


@pytest.mark.parametrize(
    "url",
    [
        "",
        "   ",
        "ftp://files.example.com/hook",
        "file:///etc/passwd",
        "javascript:alert(1)",
        "your-server.com/webhook",
        "https://",
        "https:///path-only",
        "http://exa mple.com/hook",
        "http://example.com/a\r\nX-Injected: 1",
        "http://example.com:99999/hook",
    ],
)
def test_refuses_malformed_urls_with_the_spec_message(url: str) -> None:
    with pytest.raises(InvalidRequest) as caught:
        validate_webhook_url(url)
    assert caught.value.message == "Invalid webhook URL"
    assert caught.value.code == "invalid_request"


def test_length_limit_is_2048_characters() -> None:
    base = "https://hooks.example.com/"
    at_limit = base + "a" * (MAX_WEBHOOK_URL_LENGTH - len(base))
    assert MAX_WEBHOOK_URL_LENGTH == 2048
    assert validate_webhook_url(at_limit) == at_limit
    with pytest.raises(InvalidRequest, match=r"^Invalid webhook URL$"):
        validate_webhook_url(at_limit + "a")
