"""How the spec's routes are declared: path, summary and operation id come from the model
registry, every error status documents the error body, and a JSON body is read as JSON whatever
Content-Type the client sent (clients of the hosted API differ, and it never refused them)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine, MutableMapping
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.routing import APIRoute

from fluxserve.api.examples import request_examples
from fluxserve.api.jsonparse import parse_json_body
from fluxserve.api.schemas.responses import ErrorBody
from fluxserve.catalog import endpoint

Responses = dict[int | str, dict[str, Any]]

ERROR_RESPONSES: Responses = {
    400: {"model": ErrorBody, "description": "Invalid request, or Model not found"},
    401: {"model": ErrorBody, "description": "Missing or unknown API key"},
    402: {"model": ErrorBody, "description": "Insufficient Balance"},
    403: {"model": ErrorBody, "description": "The API key is disabled"},
    413: {"model": ErrorBody, "description": "The request body is too large"},
    429: {"model": ErrorBody, "description": "Too many requests (see Retry-After)"},
    500: {"model": ErrorBody, "description": "The request could not be processed"},
}


# Above this, parsing (tens of ms per MB) moves off the event loop so other requests go on.
_PARSE_IN_THREAD_BYTES = 256 * 1024


class JsonRequest(Request):
    """A request whose JSON is parsed by `parse_json_body`: every refusal is a domain error."""

    async def json(self) -> Any:
        if not hasattr(self, "_json"):
            raw = await self.body()
            if len(raw) > _PARSE_IN_THREAD_BYTES:
                self._json = await asyncio.to_thread(parse_json_body, raw)
            else:
                self._json = parse_json_body(raw)
        return self._json


def _as_json(scope: MutableMapping[str, Any]) -> dict[str, Any]:
    headers = [(k, v) for k, v in scope["headers"] if k.lower() != b"content-type"]
    return {**scope, "headers": [*headers, (b"content-type", b"application/json")]}


class JsonBodyRoute(APIRoute):
    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def handle(request: Request) -> Response:
            return await handler(JsonRequest(_as_json(request.scope), request.receive))

        return handle


def spec_router() -> APIRouter:
    return APIRouter(route_class=JsonBodyRoute)


def spec_post(
    router: APIRouter,
    name: str,
    response_model: Any,
    *,
    status_code: int = 200,
    responses: Responses | None = None,
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """`@router.post` for the registered endpoint `name` (see `fluxserve.catalog`)."""
    registered = endpoint(name)
    return router.post(
        registered.path,
        operation_id=name,
        summary=registered.summary,
        response_model=response_model,
        status_code=status_code,
        responses={**ERROR_RESPONSES, **(responses or {})},
        openapi_extra=request_examples(name),
    )
