"""GET /metrics: Prometheus text format, for autoscalers (queue depth per model) and
dashboards."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import Response

from fluxserve.api.deps import Ctx

router = APIRouter()


@router.get(
    "/metrics",
    operation_id="metrics",
    summary="Queue depth and age per model, finished jobs, webhook backlog (Prometheus)",
    response_class=Response,
    responses={200: {"content": {"text/plain": {}}}},
)
def metrics(ctx: Ctx) -> Response:
    # A plain def: FastAPI runs it in its thread pool, so the database query blocks no loop.
    body, content_type = ctx.metrics.render()
    return Response(body, media_type=content_type)
