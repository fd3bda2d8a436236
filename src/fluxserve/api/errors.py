"""The one place where domain errors become HTTP statuses and the spec's error bodies."""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from fluxserve import errors
from fluxserve.api.schemas.base import RequestBody

log = logging.getLogger("fluxserve.api")

STATUS_BY_CODE: dict[str, int] = {
    errors.InvalidRequest.code: 400,
    errors.InputFetchError.code: 400,
    errors.ModelNotFound.code: 400,
    errors.Unauthorized.code: 401,
    errors.InsufficientBalance.code: 402,
    errors.Forbidden.code: 403,
    errors.NotFound.code: 404,
    errors.Conflict.code: 409,
    errors.IdempotencyMismatch.code: 422,
    errors.MediaLinkExpired.code: 410,
    errors.RateLimited.code: 429,
    errors.PayloadTooLarge.code: 413,
    errors.RequestTimeout.code: 408,
    errors.TooManyActiveJobs.code: 429,
    errors.ModerationBlocked.code: 400,
    errors.EngineFailure.code: 500,
    errors.Timeout.code: 504,
}


def error_body(exc: errors.FluxServeError) -> dict[str, Any]:
    """`{"error": title, "message": text}` where the spec pairs them, else `{"error": text}`."""
    body: dict[str, Any] = {"error": exc.message}
    if exc.title:
        body = {"error": exc.title, "message": exc.message}
    extra = {name: value for name, value in exc.details.items() if name not in body}
    return {**body, **extra}


def error_response(exc: errors.FluxServeError) -> JSONResponse:
    status = STATUS_BY_CODE.get(exc.code, 500)
    headers: dict[str, str] = {}
    if isinstance(exc, errors.RateLimited):
        headers["Retry-After"] = str(exc.retry_after_s)
    if isinstance(exc, errors.PayloadTooLarge | errors.RequestTimeout):
        # The rest of the body may still be on its way: close rather than read it all.
        headers["Connection"] = "close"
    return JSONResponse(error_body(exc), status_code=status, headers=headers)


def _body_model(request: Request) -> type[RequestBody] | None:
    """The request-body model of the route that refused the request, if it has one."""
    route = request.scope.get("route")
    field = getattr(route, "body_field", None)
    model = getattr(getattr(field, "field_info", None), "annotation", None)
    return model if isinstance(model, type) and issubclass(model, RequestBody) else None


def validation_message(errors: Sequence[Any], model: type[RequestBody] | None) -> str:
    """The spec's sentence for the first validation error of a request."""
    first: dict[str, Any] = dict(errors[0]) if errors else {}
    if first.get("type") == "json_invalid":
        return "Request body must be valid JSON"
    loc = tuple(first.get("loc", ()))
    in_body = bool(loc) and loc[0] == "body"
    first["loc"] = loc[1:] if in_body else loc
    if in_body and not first["loc"]:
        missing = first.get("type") == "missing"
        return (
            "Request body is required (JSON)" if missing else "Request body must be a JSON object"
        )
    if in_body and model is not None:
        return model.message_for(first)
    return RequestBody.message_for(first)


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(errors.FluxServeError)
    async def _domain(_: Request, exc: errors.FluxServeError) -> JSONResponse:
        return error_response(exc)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        message = validation_message(exc.errors(), _body_model(request))
        return JSONResponse({"error": message}, status_code=400)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        if isinstance(exc.__cause__, errors.FluxServeError):  # raised while FastAPI read the body
            return error_response(exc.__cause__)
        text = exc.detail if isinstance(exc.detail, str) else json.dumps(exc.detail)
        if exc.status_code == 404 and text == "Not Found":
            text = "Not Found: no such endpoint"
        return JSONResponse({"error": text}, status_code=exc.status_code)

    @app.exception_handler(Exception)
    async def _unexpected(_: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error", exc_info=exc)
        return JSONResponse({"error": "Internal Server Error"}, status_code=500)
