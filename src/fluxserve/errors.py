"""Domain errors. Each carries a stable code; only the HTTP layer maps codes to statuses."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any


class FluxServeError(Exception):
    """Base of every error that fluxserve raises on purpose."""

    code = "internal_error"

    def __init__(
        self, message: str, *, title: str | None = None, details: dict[str, Any] | None = None
    ) -> None:
        super().__init__(message)
        self.message = message
        # `title` becomes the spec's short "error" field when a longer "message" goes beside it.
        self.title = title
        # Extra fields of the error body, beside the spec's (never in place of them).
        self.details = details or {}


class InvalidRequest(FluxServeError):
    """The request itself is wrong (validation, bad input image, bad dataset)."""

    code = "invalid_request"


class ModelNotFound(FluxServeError):
    code = "model_not_found"

    def __init__(self, model_id: str, reason: str | None = None) -> None:
        message = f"Model '{model_id}' not found or is disabled"
        if reason:
            message = f"{message}: {reason}"
        super().__init__(message, title="Model not found")
        self.model_id = model_id
        self.reason = reason


class Unauthorized(FluxServeError):
    code = "unauthorized"


class KeyDisabled(FluxServeError):
    code = "forbidden"


class Forbidden(FluxServeError):
    code = "forbidden"


class NotFound(FluxServeError):
    code = "not_found"


class Conflict(FluxServeError):
    """The request cannot be done in the target's present state."""

    code = "conflict"


class Cancelled(FluxServeError):
    """The job was cancelled while the engine ran it: the engine stopped at its next step.
    Never an HTTP answer: the job is CANCELLED already when the engine hears of it."""

    code = "cancelled"


class IdempotencyMismatch(FluxServeError):
    """An Idempotency-Key already used with a different request."""

    code = "idempotency_mismatch"

    def __init__(self, key: str) -> None:
        super().__init__(
            f"Idempotency-Key '{key}' was already used with a different request; use a new "
            "key for a new request",
            title="Idempotency key reused",
        )


class MediaLinkExpired(FluxServeError):
    """A signed media URL whose time is over: the owner gets a fresh one from the status."""

    code = "media_link_expired"

    def __init__(self, expired_at: datetime) -> None:
        when = expired_at.isoformat().replace("+00:00", "Z")
        super().__init__(
            f"This media URL expired at {when}; GET /v2/requests/status/{{request_id}} "
            "for a fresh one",
            title="Gone",
        )


class InsufficientBalance(FluxServeError):
    code = "insufficient_balance"

    def __init__(self, required_usd: Decimal) -> None:
        super().__init__(
            f"Your wallet does not have enough balance. Required: ${required_usd}",
            title="Insufficient Balance",
        )
        self.required_usd = required_usd


class RateLimited(FluxServeError):
    code = "rate_limited"

    def __init__(self, retry_after_s: int, message: str | None = None) -> None:
        super().__init__(
            message or f"Too many requests; retry after {retry_after_s} s",
            title="Too Many Requests",
        )
        self.retry_after_s = retry_after_s


class TooManyActiveJobs(RateLimited):
    """The key already has its cap of jobs queued or running."""

    code = "too_many_active_jobs"

    def __init__(self, limit: int, retry_after_s: int) -> None:
        super().__init__(
            retry_after_s,
            f"Too many active requests: at most {limit} per key may be queued or running; "
            f"retry after {retry_after_s} s",
        )
        self.limit = limit


class InputFetchError(InvalidRequest):
    """An input URL could not be fetched, was refused, or did not hold what it should."""

    code = "invalid_input"


class ModerationBlocked(FluxServeError):
    """The safety checker refused a prompt or an image: the job ends FAILED, uncharged."""

    code = "moderation_blocked"


class EngineFailure(FluxServeError):
    """The engine broke (crash, out of memory): a system error, never the caller's fault."""

    code = "engine_failure"


class Timeout(FluxServeError):
    code = "timeout"


class PayloadTooLarge(FluxServeError):
    """A request body over the cap of its route."""

    code = "payload_too_large"


class RequestTimeout(FluxServeError):
    """The client sent its request body too slowly."""

    code = "request_timeout"


class SigningFailure(FluxServeError):
    """Content credentials could not be made or applied: a system error, never the caller's."""

    code = "signing_failure"
