"""FLUX Kontext image restoration (async). Its validation messages are the spec's own."""

from __future__ import annotations

from typing import Annotated

from fastapi.responses import JSONResponse

from fluxserve.api.deps import Submission, WebhookUrlHeader, submission_to
from fluxserve.api.draft import Draft
from fluxserve.api.intake import Webhook
from fluxserve.api.responses import accepted
from fluxserve.api.routes.common import header_webhook
from fluxserve.api.routing import spec_post, spec_router
from fluxserve.api.schemas.kontext import RESTORE_INSTRUCTION, KontextRestore
from fluxserve.api.schemas.responses import Accepted
from fluxserve.inputs.sizes import parse_image_size

router = spec_router()


@spec_post(router, "kontext_restore", Accepted, status_code=202)
async def restore(
    caller: Annotated[Submission, submission_to("flux-kontext-restore-image")],
    body: KontextRestore,
    x_webhook_url: WebhookUrlHeader = None,
) -> JSONResponse:
    ctx, key, model = caller
    draft = await Draft.start(ctx, key, model)
    webhook = header_webhook(x_webhook_url)
    if body.webhook:
        webhook = Webhook(url=body.webhook, events=body.webhook_events_filter)
    image = await draft.fetch_image(body.input_image, what="input_image")
    width, height = parse_image_size(
        "auto",
        what="input_image",
        input_size=(image.width, image.height),
        max_pixels=model.defaults.auto_max_pixels,
    )
    spec = draft.spec(
        seed=body.seed,
        operation="restore",
        prompt=RESTORE_INSTRUCTION,
        width=width,
        height=height,
        steps=draft.steps(),
        guidance=draft.guidance,
        output_format=body.output_format,
        safety=body.safety(),
    )
    return accepted(ctx, await draft.submit(spec, webhook))
