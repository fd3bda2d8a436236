"""The one place where domain errors become HTTP statuses and the spec's error bodies."""

from __future__ import annotations

import json
import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from fluxserve import errors

log = logging.getLogger("fluxserve.api")

STATUS_BY_CODE: dict[str, int] = {
    errors.InvalidRequest.code: 400,
    errors.InputFetchError.code: 400,
    errors.ModelNotFound.code: 400,
    errors.Unauthorized.code: 401,
    errors.InsufficientBalance.code: 402,
    errors.Forbidden.code: 403,
    errors.NotFound.code: 404,
    errors.RateLimited.code: 429,
    errors.ModerationBlocked.code: 400,
    errors.EngineFailure.code: 500,
    errors.Timeout.code: 504,
}


def error_body(exc: errors.FluxServeError) -> dict[str, Any]:
    """`{"error": title, "message": text}` where the spec pairs them, else `{"error": text}`."""
    if exc.title:
        return {"error": exc.title, "message": exc.message}
    return {"error": exc.message}


def error_response(exc: errors.FluxServeError) -> JSONResponse:
    status = STATUS_BY_CODE.get(exc.code, 500)
    headers: dict[str, str] = {}
    if isinstance(exc, errors.RateLimited):
        headers["Retry-After"] = str(exc.retry_after_s)
    return JSONResponse(error_body(exc), status_code=status, headers=headers)


def _validation_message(exc: RequestValidationError) -> str:
    first = exc.errors()[0] if exc.errors() else {}
    if first.get("type") == "json_invalid":
        return "Request body must be valid JSON"
    loc = [str(p) for p in first.get("loc", ()) if p != "body"]
    field = ".".join(loc)
    msg = str(first.get("msg", "invalid value"))
    if first.get("type") == "missing":
        return f"{field} is required" if field else "Request body is required"
    return f"{field}: {msg}" if field else msg


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(errors.FluxServeError)
    async def _domain(_: Request, exc: errors.FluxServeError) -> JSONResponse:
        return error_response(exc)

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        return JSONResponse({"error": _validation_message(exc)}, status_code=400)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        text = exc.detail if isinstance(exc.detail, str) else json.dumps(exc.detail)
        if exc.status_code == 404 and text == "Not Found":
            text = "Not Found: no such endpoint"
        return JSONResponse({"error": text}, status_code=exc.status_code)

    @app.exception_handler(Exception)
    async def _unexpected(_: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error", exc_info=exc)
        return JSONResponse({"error": "Internal Server Error"}, status_code=500)
