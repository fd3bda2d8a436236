"""Domain errors. Each carries a stable code; only the HTTP layer maps codes to statuses."""

from __future__ import annotations

from decimal import Decimal


class FluxServeError(Exception):
    """Base of every error that fluxserve raises on purpose."""

    code = "internal_error"

    def __init__(self, message: str, *, title: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        # `title` becomes the spec's short "error" field when a longer "message" goes beside it.
        self.title = title


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

    def __init__(self, retry_after_s: int) -> None:
        super().__init__(
            f"Too many requests; retry after {retry_after_s} s", title="Too Many Requests"
        )
        self.retry_after_s = retry_after_s


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
