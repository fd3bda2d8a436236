"""OpenAI's error shape, `{"error": {"message", "type", "param", "code"}}`, for the `/v1/images/*`
routes only: their route class answers every failure inside the route (auth, validation, domain
errors) in it, so the official `openai` client raises its own exception types. Statuses come
from the same table as every other route (`api/errors.py`)."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Coroutine, Sequence
from typing import Any

from fastapi import Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from starlette.exceptions import HTTPException as StarletteHTTPException

from fluxserve import errors
from fluxserve.api.errors import STATUS_BY_CODE
from fluxserve.api.routing import Responses
from fluxserve.api.schemas.base import RequestBody
from fluxserve.api.schemas.openai import OpenAIError

log = logging.getLogger("fluxserve.api.openai")

TYPE_BY_STATUS: dict[int, str] = {
    400: "invalid_request_error",
    401: "authentication_error",
    402: "insufficient_quota",
    403: "permission_error",
    404: "not_found_error",
    409: "invalid_request_error",
    413: "invalid_request_error",
    429: "rate_limit_error",
}
# Where OpenAI has its own code for the same thing, clients may test for it.
OPENAI_CODES: dict[str, str] = {
    errors.Unauthorized.code: "invalid_api_key",
    errors.ModerationBlocked.code: "content_policy_violation",
}

OPENAI_ERROR_RESPONSES: Responses = {
    status: {"model": OpenAIError, "description": description}
    for status, description in (
        (400, "Invalid request, unknown model, or refused by moderation"),
        (401, "Missing or unknown API key (`Authorization: Bearer <fluxserve key>`)"),
        (402, "Insufficient Balance"),
        (403, "The API key is disabled"),
        (429, "Too many requests (see Retry-After)"),
        (500, "The request could not be processed; you were not charged"),
        (504, "Not ready in time; the message names the request to poll"),
    )
}


def openai_error(
    status: int,
    message: str,
    *,
    code: str | None,
    param: str | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    kind = TYPE_BY_STATUS.get(status, "server_error")
    body = {"error": {"message": message, "type": kind, "param": param, "code": code}}
    return JSONResponse(body, status_code=status, headers=headers)


def domain_error(exc: errors.FluxServeError) -> JSONResponse:
    status = STATUS_BY_CODE.get(exc.code, 500)
    headers = {}
    if isinstance(exc, errors.RateLimited):
        headers["Retry-After"] = str(exc.retry_after_s)
    return openai_error(
        status, exc.message, code=OPENAI_CODES.get(exc.code, exc.code), headers=headers
    )


def validation_error(problems: Sequence[Any]) -> JSONResponse:
    first: dict[str, Any] = dict(problems[0]) if problems else {}
    if first.get("type") == "json_invalid":
        return openai_error(400, "Request body must be valid JSON", code="invalid_json")
    loc = [str(part) for part in first.get("loc", ()) if part != "body"]
    first["loc"] = tuple(loc)
    param = loc[0] if loc else None
    return openai_error(400, RequestBody.message_for(first), code="invalid_value", param=param)


def to_openai(exc: Exception) -> JSONResponse:
    """The response for any exception raised inside an OpenAI route."""
    if isinstance(exc, errors.FluxServeError):
        return domain_error(exc)
    if isinstance(exc, RequestValidationError):
        return validation_error(exc.errors())
    if isinstance(exc, StarletteHTTPException):
        if isinstance(exc.__cause__, errors.FluxServeError):
            return domain_error(exc.__cause__)
        text = exc.detail if isinstance(exc.detail, str) else json.dumps(exc.detail)
        return openai_error(exc.status_code, text, code=None)
    log.exception("unhandled error", exc_info=exc)
    return openai_error(500, "Internal Server Error", code="internal_error")


class OpenAIRoute(APIRoute):
    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def handle(request: Request) -> Response:
            try:
                return await handler(request)
            except Exception as exc:
                return to_openai(exc)

        return handle
