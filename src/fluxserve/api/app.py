"""The FastAPI application: routes and error handlers over a context built elsewhere."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractAsyncContextManager

from fastapi import FastAPI

from fluxserve.api.context import ApiContext
from fluxserve.api.errors import install_error_handlers
from fluxserve.api.routes import (
    flux1,
    flux2,
    health,
    kontext,
    schnell_batch,
    status,
    sync,
    trainers,
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
    for module in (flux2, trainers, kontext, sync, flux1, schnell_batch, status, health):
        app.include_router(module.router)
    return app
