"""The universal status endpoint and the media files it points at."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import FileResponse

from fluxserve.api.deps import CallerKey, Ctx
from fluxserve.errors import NotFound
from fluxserve.jobs.views import status_body
from fluxserve.storage.base import content_type_for

router = APIRouter()


@router.get("/v2/requests/status/{request_id}")
async def request_status(request_id: str, ctx: Ctx, key: CallerKey) -> dict[str, Any]:
    job = ctx.jobs.get(request_id)
    # Someone else's request answers exactly like a missing one: ids are not a lookup oracle.
    if job is None or (job.key_id != key.id and not key.is_operator):
        raise NotFound(f"Request '{request_id}' not found")
    return status_body(job, ctx.settings.public_url)


@router.get("/media/{key:path}")
async def media(key: str, ctx: Ctx) -> FileResponse:
    """Outputs are public by URL, like the hosted API's CDN links; inputs are never served."""
    if ctx.storage is None or not key.startswith("outputs/"):
        raise NotFound("No such media")
    try:
        path = ctx.storage.path_for(key)
    except ValueError:
        path = None
    if path is None or not path.is_file():
        raise NotFound("No such media")
    return FileResponse(path, media_type=content_type_for(key))
