"""The web playground at `/`: one static page and its script and style, shipped in the package
(`fluxserve/playground/`). The page builds its form in the browser from `/v1/models` and the
request schemas in `/openapi.json`, so every model's own fields show without a build step."""

from __future__ import annotations

from importlib import resources

from fastapi import APIRouter
from fastapi.responses import HTMLResponse, Response

from fluxserve.errors import NotFound

router = APIRouter(tags=["Playground"])

_ASSETS = {"app.js": "text/javascript", "style.css": "text/css"}


def _read(name: str) -> str:
    return resources.files("fluxserve.playground").joinpath(name).read_text("utf-8")


@router.get(
    "/", operation_id="playground", summary="The web playground", response_class=HTMLResponse
)
async def playground() -> HTMLResponse:
    """Paste a key, pick a model, fill its fields, watch progress, download the results."""
    return HTMLResponse(_read("index.html"))


@router.get(
    "/playground/{name}",
    operation_id="playground_asset",
    summary="The playground's script and style",
    response_class=Response,
    responses={200: {"content": {"text/javascript": {}, "text/css": {}}}},
)
async def playground_asset(name: str) -> Response:
    if name not in _ASSETS:
        raise NotFound("No such playground file")
    return Response(_read(name), media_type=_ASSETS[name])
