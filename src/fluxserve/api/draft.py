"""One generation request on its way to the queue: its model, id, inputs and LoRAs, gathered
by a route and then submitted as a job."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from fluxserve.api.context import ApiContext
from fluxserve.api.intake import Webhook, new_id, submit_generation
from fluxserve.api.loras import resolve_loras
from fluxserve.api.schemas.fields import seeds_for
from fluxserve.api.schemas.loras import LoraInput
from fluxserve.billing.keys import ApiKeyRecord
from fluxserve.catalog import ApiModel
from fluxserve.inputs.images import DecodedImage, decode_image
from fluxserve.jobs.records import JobRecord
from fluxserve.jobs.spec import GenerationSpec, LoraSpec


@dataclass
class Draft:
    ctx: ApiContext
    key: ApiKeyRecord
    model: ApiModel
    request_id: str
    images: dict[str, DecodedImage] = field(default_factory=dict)

    @classmethod
    async def start(cls, ctx: ApiContext, key: ApiKeyRecord, model: ApiModel) -> Draft:
        """A new draft; refused (402) first when the key cannot pay for the model at all, so
        no input is fetched, decoded or stored for it."""
        await ctx.blocking.run(ctx.intake.check_funds, key, model)
        return cls(ctx, key, model, new_id(model))

    def steps(self, given: int | None = None) -> int:
        """The caller's step count, else the operator's default for this model, else ours."""
        return given or self.ctx.intake.default_steps(self.model)

    @property
    def guidance(self) -> float | None:
        return self.model.defaults.guidance

    async def fetch_image(self, url: str, *, what: str, name: str = "image") -> DecodedImage:
        image = await self.ctx.intake.fetch_image(url, what=what)
        self.images[name] = image
        return image

    async def add_image(self, data: bytes, *, what: str, name: str = "image") -> DecodedImage:
        """An uploaded input image (multipart), checked as strictly as a fetched one (and
        decoded on a thread: a huge one takes seconds)."""
        image = await self.ctx.blocking.run(
            decode_image, data, what=what, max_pixels=self.ctx.settings.max_input_pixels
        )
        self.images[name] = image
        return image

    def input_key(self, name: str) -> str | None:
        return self.ctx.intake.input_key(self.request_id, name) if name in self.images else None

    async def loras(self, loras: list[LoraInput] | None, scale: float = 1.0) -> list[LoraSpec]:
        """Call last before `submit`: LoRA files fetched by URL are kept as inputs, and are
        removed again here if a later one is refused."""
        try:
            return await resolve_loras(
                self.ctx, self.key, self.request_id, loras, self.model.engine_model, scale
            )
        except BaseException:
            self.ctx.intake.discard_inputs(self.request_id)
            raise

    def spec(self, *, seed: int | None, count: int = 1, **fields: Any) -> GenerationSpec:
        """The job spec: this draft's engine model and inputs, one seed per image, plus
        the route's own fields."""
        return GenerationSpec(
            engine_model=self.model.engine_model,
            seeds=seeds_for(seed, count),
            image_key=self.input_key("image"),
            mask_key=self.input_key("mask"),
            **fields,
        )

    async def submit(
        self,
        spec: GenerationSpec,
        webhook: Webhook | None = None,
        alias: str | None = None,
        *,
        waiting: bool = False,
    ) -> JobRecord:
        """Keep the inputs and create the job (one write transaction), on a thread;
        `waiting` when the client holds the connection for the result."""
        return await self.ctx.blocking.run(
            submit_generation,
            self.ctx.intake,
            request_id=self.request_id,
            model=self.model,
            key=self.key,
            spec=spec,
            webhook=webhook,
            images=self.images,
            alias=alias,
            waiting=waiting,
        )
