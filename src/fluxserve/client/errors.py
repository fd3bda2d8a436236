"""What the SDK raises: one class per answer a caller handles differently."""

from __future__ import annotations

from typing import Any


class FluxServeClientError(Exception):
    """Base of every SDK error."""


class APIError(FluxServeClientError):
    """The server answered with an error status; `message` is its own text."""

    def __init__(self, status_code: int, message: str, body: Any = None) -> None:
        super().__init__(f"{status_code}: {message}")
        self.status_code = status_code
        self.message = message
        self.body = body


class BadRequestError(APIError):
    """400: the request is wrong (a field, an input image, an unknown model)."""


class AuthenticationError(APIError):
    """401 or 403: the key is missing, unknown or disabled."""


class InsufficientBalanceError(APIError):
    """402: the wallet cannot cover the request's price."""


class NotFoundError(APIError):
    """404: no such request of yours, or a route this server does not have."""


class ConflictError(APIError):
    """409: the request cannot do that now (cancel of a request that has ended)."""


class RateLimitError(APIError):
    """429 after every retry; `retry_after_s` is the server's last hint."""

    def __init__(self, status_code: int, message: str, body: Any, retry_after_s: float | None):
        super().__init__(status_code, message, body)
        self.retry_after_s = retry_after_s


class ServerError(APIError):
    """5xx after every retry."""


class RequestFailed(FluxServeClientError):
    """The request ended FAILED (its own fault, uncharged), ERROR (the server's, uncharged) or
    CANCELLED (uncharged)."""

    def __init__(self, request_id: str, status: str, error: str | None) -> None:
        super().__init__(f"{request_id} ended {status}: {error or 'no reason given'}")
        self.request_id = request_id
        self.status = status
        self.error = error


class RequestCancelled(RequestFailed):
    """The request was cancelled (by `cancel`, or by a sync call that gave up before it
    started)."""


class ModerationError(RequestFailed):
    """The request was refused by the content safety checks."""


class WaitTimeout(FluxServeClientError):
    """`wait` gave up before the request ended; the request itself goes on."""


_BY_STATUS: dict[int, type[APIError]] = {
    400: BadRequestError,
    401: AuthenticationError,
    403: AuthenticationError,
    402: InsufficientBalanceError,
    404: NotFoundError,
    409: ConflictError,
}
# The safety checks' own wording in a FAILED request's `error` (and in a sync route's 400).
_MODERATION_PHRASES = ("content safety filter", "image safety checker")


def is_moderation(message: str | None) -> bool:
    return bool(message) and any(p in str(message) for p in _MODERATION_PHRASES)


def error_message(body: Any, fallback: str) -> str:
    """The text of the spec's `{"error", "message"}` body, or of OpenAI's `{"error": {...}}`."""
    if not isinstance(body, dict):
        return fallback
    error = body.get("error")
    if isinstance(error, dict):
        return str(error.get("message") or fallback)
    parts = [str(p) for p in (error, body.get("message")) if isinstance(p, str) and p]
    return ": ".join(parts) if parts else fallback


def api_error(status_code: int, body: Any, retry_after_s: float | None = None) -> APIError:
    message = error_message(body, f"HTTP {status_code}")
    if status_code == 429:
        return RateLimitError(status_code, message, body, retry_after_s)
    if status_code >= 500:
        return ServerError(status_code, message, body)
    return _BY_STATUS.get(status_code, APIError)(status_code, message, body)
