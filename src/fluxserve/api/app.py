"""The FastAPI application: routes and error handlers over a context built elsewhere."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractAsyncContextManager

from fastapi import FastAPI

from fluxserve.api.body_limits import BodyLimits
from fluxserve.api.context import ApiContext
from fluxserve.api.errors import install_error_handlers
from fluxserve.api.idempotency import IdempotencyKeys
from fluxserve.api.openapi_errors import install_error_docs
from fluxserve.api.routes import (
    account,
    admin,
    cancel,
    events,
    flux1,
    flux2,
    health,
    kontext,
    metrics,
    openai_images,
    playground,
    schnell_batch,
    status,
    sync,
    trainers,
    webhook_log,
)

Lifespan = Callable[[FastAPI], AbstractAsyncContextManager[None]]


def create_app(ctx: ApiContext, lifespan: Lifespan | None = None) -> FastAPI:
    app = FastAPI(
        title="fluxserve",
        summary="Self-hosted, drop-in FLUX image-generation API on diffusers",
        lifespan=lifespan,
    )
    app.state.ctx = ctx
    install_error_handlers(app)
    # Added first, so it runs inside BodyLimits: only a body within its cap is copied.
    app.add_middleware(IdempotencyKeys)
    app.add_middleware(BodyLimits, settings=ctx.settings)
    install_error_docs(app)
    for module in (flux2, trainers, kontext, sync, flux1, schnell_batch, status, health, metrics):
        app.include_router(module.router)
    for module in (account, admin, cancel, events, openai_images, playground, webhook_log):
        app.include_router(module.router)
    return app
