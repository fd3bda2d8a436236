"""The error answers every operation can give, added to /openapi.json, so that the document
states the real contract (clients and schema-driven fuzzers read it) instead of FastAPI's
default 422, which this API never sends (validation errors are 400)."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

from fluxserve.api.errors import STATUS_BY_CODE
from fluxserve.api.schemas.responses import ErrorBody

# Statuses the HTTP edge itself sends (body caps and deadlines), beside the domain errors.
_EDGE_STATUSES = (408, 413)


def install_error_docs(app: FastAPI) -> None:
    """Wrap `app.openapi` so each operation lists the API's error statuses and body."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        doc = build()
        statuses = sorted({*STATUS_BY_CODE.values(), *_EDGE_STATUSES})
        schemas = doc.setdefault("components", {}).setdefault("schemas", {})
        schemas.setdefault("ErrorBody", ErrorBody.model_json_schema())
        for operations in doc.get("paths", {}).values():
            for operation in operations.values():
                responses = operation.setdefault("responses", {})
                responses.pop("422", None)
                for status in statuses:
                    responses.setdefault(str(status), _error_response())
        app.openapi_schema = doc
        return doc

    app.openapi = openapi  # type: ignore[method-assign]


def _error_response() -> dict[str, Any]:
    return {
        "description": "Error",
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}}},
    }
