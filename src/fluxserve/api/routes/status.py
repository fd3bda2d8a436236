"""The universal status endpoint and the media files it points at."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import FileResponse, JSONResponse

from fluxserve.api.deps import CallerKey, Ctx
from fluxserve.api.routes.common import check_owned
from fluxserve.api.routing import ERROR_RESPONSES, Responses
from fluxserve.api.schemas.responses import ErrorBody, RequestStatus
from fluxserve.errors import NotFound
from fluxserve.jobs.records import JobState
from fluxserve.jobs.views import MediaState, status_body
from fluxserve.storage.base import content_type_for, is_public_key
from fluxserve.storage.local import LocalStorage

router = APIRouter()

NOT_FOUND: Responses = {404: {"model": ErrorBody, "description": "No such request of yours"}}


@router.get(
    "/v2/requests/status/{request_id}",
    operation_id="request_status",
    summary="The status of any async request, with its media URLs once COMPLETED",
    response_model=RequestStatus,
    responses={401: ERROR_RESPONSES[401], **NOT_FOUND},
)
async def request_status(request_id: str, ctx: Ctx, key: CallerKey) -> JSONResponse:
    # One thread hop, one read transaction: the job, its whereabouts and media deletions.
    read = await ctx.blocking.run(ctx.jobs.status_read, request_id)
    job = check_owned(read.job if read is not None else None, request_id, key)
    assert read is not None
    # The expiry is taken before the URLs are signed, so it is never later than theirs.
    expires_at = ctx.media_expires_at()
    deleted = read.deleted.get("outputs") if job.state is JobState.COMPLETED else None
    body = status_body(job, ctx.media_url, MediaState(expires_at, deleted))
    # Extra fields beside the spec's (webhook bodies stay exactly the spec's).
    body.update(read.whereabouts)
    provenance = await ctx.provenance.field(job, ctx.intake.storage, deleted is not None)
    if provenance is not None:
        body["provenance"] = provenance
    return JSONResponse(body)


_MEDIA_RESPONSES: Responses = {
    200: {
        "content": {
            "image/png": {},
            "image/jpeg": {},
            "image/webp": {},
            "application/octet-stream": {},  # a trained LoRA
            "application/json": {},  # its sidecar
        }
    },
    403: {"model": ErrorBody, "description": "The URL is not signed, or was altered"},
    404: {"model": ErrorBody, "description": "No such media"},
    410: {"model": ErrorBody, "description": "The URL expired: the status gives a fresh one"},
}


@router.get(
    "/media/s/{expires}/{sig}/{key:path}",
    operation_id="signed_media",
    summary="An output file by its signed URL, until the URL expires",
    response_class=FileResponse,
    responses=_MEDIA_RESPONSES,
)
async def signed_media(expires: str, sig: str, key: str, ctx: Ctx) -> FileResponse:
    """The URLs that the status and webhooks give out. An expired one answers 410; the
    owner's GET /v2/requests/status/{id} always gives fresh ones."""
    if ctx.storage is None or not is_public_key(key):
        raise NotFound("No such media")
    ctx.storage.check_link(key, expires, sig)
    return _file(ctx.storage, key)


@router.get(
    "/media/{key:path}",
    operation_id="media",
    summary="An output file by an unsigned URL (only when media URLs are not signed)",
    response_class=FileResponse,
    responses=_MEDIA_RESPONSES,
)
async def media(key: str, ctx: Ctx) -> FileResponse:
    """Inputs are never served; outputs only while URLs are unsigned (else 403)."""
    if ctx.storage is None or not is_public_key(key):
        raise NotFound("No such media")
    ctx.storage.check_link(key, None, None)
    return _file(ctx.storage, key)


def _file(storage: LocalStorage, key: str) -> FileResponse:
    try:
        path = storage.path_for(key)
    except ValueError:
        path = None
    if path is None or not path.is_file():
        raise NotFound("No such media")
    return FileResponse(path, media_type=content_type_for(key))
