"""The model registry is the one source: every registered endpoint is served with a typed
request and response in /openapi.json, nothing is served that is not registered, and the docs
and CLI tables are generated from it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from fluxserve.api.app import create_app
from fluxserve.catalog import API_MODELS, ENGINE_MODELS, Endpoint
from fluxserve.cli.catalog_table import catalog_markdown
from fluxserve.server import Service
from fluxserve.settings import Settings

DOCS_MODELS = Path(__file__).resolve().parents[2] / "docs" / "models.md"


def _endpoints() -> list[Endpoint]:
    return [e for m in API_MODELS.values() for e in m.endpoints]


@pytest.fixture(scope="module")
def openapi(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    settings = Settings(data_dir=tmp_path_factory.mktemp("registry"))
    service = Service.build(settings, with_engine=False)
    try:
        app: FastAPI = create_app(service.api_context(fetcher=None))  # type: ignore[arg-type]
        with TestClient(app) as client:
            response = client.get("/openapi.json")
        assert response.status_code == 200
        document: dict[str, Any] = response.json()
        return document
    finally:
        service.close()


def test_every_registered_endpoint_is_served_with_typed_bodies(openapi: dict[str, Any]) -> None:
    paths = openapi["paths"]
    for registered in _endpoints():
        operation = paths[registered.path]["post"]
        assert operation["operationId"] == registered.name
        assert operation["summary"] == registered.summary
        body = operation["requestBody"]["content"]["application/json"]["schema"]
        assert body["$ref"].startswith("#/components/schemas/"), registered.name
        success = next(c for c in ("200", "202") if c in operation["responses"])
        answer = operation["responses"][success]["content"]["application/json"]["schema"]
        assert answer["$ref"].startswith("#/components/schemas/"), registered.name
        for status in ("400", "401", "402", "429"):
            error = operation["responses"][status]["content"]["application/json"]["schema"]
            assert error["$ref"] == "#/components/schemas/ErrorBody"


# Surfaces beside the spec's, which translate into registry models rather than add any.
# POST routes beside the registry's submit endpoints: the OpenAI surface, a request's lifecycle.
OTHER_SURFACES = {
    "/v1/images/generations",
    "/v1/images/edits",
    "/v2/requests/{request_id}/cancel",
    "/v2/requests/{request_id}/webhooks/replay",
    "/admin/v1/keys",
    "/admin/v1/keys/{key_id}/disable",
    "/admin/v1/keys/{key_id}/top-up",
}


def test_nothing_is_served_that_the_registry_does_not_hold(openapi: dict[str, Any]) -> None:
    served = {path for path, ops in openapi["paths"].items() if "post" in ops}
    assert served - OTHER_SURFACES == {e.path for e in _endpoints()}


def test_request_schemas_show_their_fields(openapi: dict[str, Any]) -> None:
    schemas = openapi["components"]["schemas"]
    assert "prompt" in schemas["Flux1TextToImage"]["required"]
    assert schemas["Flux1TextToImage"]["properties"]["guidance_scale"]["default"] == 3.5
    assert schemas["KontextRestore"]["properties"]["output_format"]["enum"] == ["jpg", "png"]
    assert schemas["KontextRestore"]["required"] == ["input_image"]
    assert schemas["SchnellGenerate"]["properties"]["num_steps"]["maximum"] == 8
    status = openapi["paths"]["/v2/requests/status/{request_id}"]["get"]
    ok = status["responses"]["200"]["content"]["application/json"]["schema"]
    assert ok["$ref"] == "#/components/schemas/RequestStatus"
    assert {"Ocp-Apim-Subscription-Key", "X-Secret-Key"} <= {
        scheme.get("name") for scheme in openapi["components"]["securitySchemes"].values()
    }


def test_every_api_model_names_a_known_engine_model_and_unique_routes() -> None:
    names = [e.name for e in _endpoints()]
    paths = [e.path for e in _endpoints()]
    assert len(set(names)) == len(names) and len(set(paths)) == len(paths)
    for model in API_MODELS.values():
        assert model.engine_model in ENGINE_MODELS
        assert (model.defaults.steps is None) == model.trainer


def test_docs_models_md_is_generated_from_the_registry() -> None:
    assert DOCS_MODELS.read_text() == catalog_markdown(), (
        "docs/models.md is stale: run `fluxserve models --markdown > docs/models.md`"
    )
