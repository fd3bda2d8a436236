"""`/openapi.json` is a valid OpenAPI 3.1 document that describes every route, with typed
bodies, the spec's example requests, and the OpenAI routes' multipart edit."""

from __future__ import annotations

from typing import Any

import httpx
from openapi_spec_validator import validate

from fluxserve.api.examples import SPEC_EXAMPLES
from fluxserve.catalog import API_MODELS
from tests.api.conftest import Api


def _openapi(api: Api) -> dict[str, Any]:
    response = httpx.get(f"{api.url}/openapi.json", timeout=30)
    assert response.status_code == 200
    document: dict[str, Any] = response.json()
    return document


def test_openapi_is_valid_3_1(api: Api) -> None:
    document = _openapi(api)
    assert document["openapi"].startswith("3.1")
    validate(document)  # raises on any violation of the OpenAPI 3.1 schema


def test_every_route_is_described(api: Api) -> None:
    operations = [op for path in _openapi(api)["paths"].values() for op in path.values()]
    assert operations
    for operation in operations:
        assert operation.get("summary") or operation.get("description"), operation
        assert "200" in operation["responses"] or "202" in operation["responses"]


def test_spec_routes_carry_the_spec_examples(api: Api) -> None:
    paths = _openapi(api)["paths"]
    for model in API_MODELS.values():
        for endpoint in model.endpoints:
            content = paths[endpoint.path]["post"]["requestBody"]["content"]["application/json"]
            assert "$ref" in content["schema"]
            assert content["examples"]["spec"]["value"] == SPEC_EXAMPLES[endpoint.name]


def test_openai_routes_are_documented(api: Api) -> None:
    document = _openapi(api)
    generations = document["paths"]["/v1/images/generations"]["post"]
    assert generations["responses"]["402"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/OpenAIError"
    }
    edits = document["paths"]["/v1/images/edits"]["post"]
    form = edits["requestBody"]["content"]["multipart/form-data"]["schema"]
    assert form["properties"]["image"]["format"] == "binary"
    assert {"image", "prompt"} <= set(form["required"])
    assert "BearerKey" in document["components"]["securitySchemes"]


def test_routes_that_take_a_key_declare_both_key_headers(api: Api) -> None:
    document = _openapi(api)
    schemes = document["components"]["securitySchemes"]
    assert schemes["SubscriptionKey"] == {
        "type": "apiKey", "in": "header", "name": "Ocp-Apim-Subscription-Key"
    }  # fmt: skip
    assert schemes["SecretKey"] == {"type": "apiKey", "in": "header", "name": "X-Secret-Key"}
    either = [{"SubscriptionKey": []}, {"SecretKey": []}]
    paths = document["paths"]
    for model in API_MODELS.values():  # submits
        for endpoint in model.endpoints:
            assert paths[endpoint.path]["post"]["security"] == either, endpoint.path
    assert paths["/v2/requests/status/{request_id}"]["get"]["security"] == either
    assert paths["/v2/requests/{request_id}/cancel"]["post"]["security"] == either
    assert "security" not in paths["/health"]["get"]
    assert paths["/admin/v1/keys"]["post"]["security"] == [{"OperatorToken": []}]
