"""The API-key headers in the OpenAPI document: each operation that authenticates its caller
(`caller_key`, `submitting_key` or a `SubmissionTo` among its dependencies) lists both schemes
as alternatives, so /docs offers to send a key, as FastAPI would for `Security` dependencies
(see `api/deps.py` for why they are not)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from fastapi import APIRouter, FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute

from fluxserve.api.deps import KEY_HEADERS, SubmissionTo, caller_key, submitting_key

_AUTHENTICATING: set[Callable[..., Any]] = {caller_key, submitting_key}


def install_key_security_docs(app: FastAPI, routers: list[APIRouter]) -> None:
    """Wrap `app.openapi` so that the operations of `routers` (included without a prefix)
    that take a key declare the key headers."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        doc = build()
        schemes = doc.setdefault("components", {}).setdefault("securitySchemes", {})
        for scheme, header in KEY_HEADERS.items():
            schemes[scheme] = {"type": "apiKey", "in": "header", "name": header}
        alternatives: list[dict[str, list[str]]] = [{scheme: []} for scheme in KEY_HEADERS]
        for path, methods in _authenticating_operations(routers):
            for method in methods:
                operation = doc["paths"][path][method.lower()]
                operation["security"] = [*operation.get("security", []), *alternatives]
        app.openapi_schema = doc
        return doc

    app.openapi = openapi  # type: ignore[method-assign]


def _authenticating_operations(routers: list[APIRouter]) -> Iterator[tuple[str, set[str]]]:
    for route in (route for router in routers for route in router.routes):
        if not isinstance(route, APIRoute) or not route.include_in_schema:
            continue
        if any(_authenticates(call) for call in _calls(route.dependant)):
            yield route.path_format, route.methods or set()


def _authenticates(call: Callable[..., Any] | None) -> bool:
    return call in _AUTHENTICATING or isinstance(call, SubmissionTo)


def _calls(dependant: Dependant) -> Iterator[Callable[..., Any] | None]:
    for sub in dependant.dependencies:
        yield sub.call
        yield from _calls(sub)
