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
from fluxserve.api.openapi_security import install_key_security_docs
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
    # Routes are matched in order, one by one: the status read, the most frequent request of
    # all (clients poll), comes first.
    modules = [status, flux2, trainers, kontext, sync, flux1, schnell_batch, health, metrics]
    modules += [account, admin, cancel, events, openai_images, playground, webhook_log]
    routers = [module.router for module in modules]
    for router in routers:
        app.include_router(router)
    install_error_docs(app)
    install_key_security_docs(app, routers)
    return app
