"""Service health and the model catalog, saying plainly which models serve demo weights."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from fluxserve.api.context import ApiContext
from fluxserve.api.deps import Ctx
from fluxserve.api.schemas.responses import Catalog, Health
from fluxserve.catalog import API_MODELS, ENGINE_MODELS
from fluxserve.engine.boundary.messages import ModelStatus
from fluxserve.money import micros_to_usd

router = APIRouter()

DEMO_NOTE = (
    "demo weights: tiny random-weight models built offline; their images are noise. "
    "Configure real weights to generate real images."
)


def catalog_rows(ctx: ApiContext) -> list[dict[str, Any]]:
    statuses: dict[str, ModelStatus] = {s.engine_model: s for s in ctx.model_statuses()}
    rows = []
    for model in API_MODELS.values():
        engine = ENGINE_MODELS[model.engine_model]
        status = statuses.get(engine.id)
        override = ctx.settings.endpoint(model.id).price_usd
        enabled = ctx.settings.endpoint(model.id).enabled and (status is None or status.enabled)
        rows.append(
            {
                "model_id": model.id,
                "title": model.title,
                "engine_model": engine.id,
                "pipeline": engine.pipeline,
                "weights": status.weights if status else "demo",
                "demo_weights": bool(status.demo) if status else True,
                "license": engine.license,
                "price_usd": str(
                    override if override is not None else micros_to_usd(model.price_micros)
                ),
                "priced_by_size": bool(model.size_prices) and override is None,
                "default_steps": None if model.trainer else ctx.intake.default_steps(model),
                "routes": [
                    {"method": "POST", "path": e.path, "mode": e.mode} for e in model.endpoints
                ],
                "enabled": enabled,
                "disabled_reason": None if enabled else (status.reason if status else "disabled"),
            }
        )
    return rows


@router.get("/health", operation_id="health", response_model=Health)
async def health(ctx: Ctx) -> dict[str, Any]:
    """Weights, demo flags, disabled models and the content-credentials signer."""
    statuses = ctx.model_statuses()
    demo = sorted(s.engine_model for s in statuses if s.demo)
    disabled = {s.engine_model: s.reason for s in statuses if not s.enabled}
    return {
        "status": "ok",
        "demo_weights": demo,
        "note": DEMO_NOTE if demo else None,
        "disabled_models": disabled,
        "provenance": ctx.signer.health() if ctx.signer else {"enabled": False},
        "engine_models": [
            {
                "engine_model": s.engine_model,
                "weights": s.weights,
                "demo": s.demo,
                "enabled": s.enabled,
                "loaded": s.loaded,
                "reason": s.reason,
            }
            for s in statuses
        ],
    }


@router.get("/v1/models", operation_id="models", response_model=Catalog)
async def models(ctx: Ctx) -> dict[str, Any]:
    """The model catalog: routes, pipelines, weights, licences and prices."""
    return {"models": catalog_rows(ctx), "note": DEMO_NOTE}
