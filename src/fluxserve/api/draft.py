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
from fluxserve.inputs.images import DecodedImage
from fluxserve.jobs.records import JobRecord
from fluxserve.jobs.spec import GenerationSpec, LoraSpec


def admit_inputs(ctx: ApiContext, key: ApiKeyRecord, model: ApiModel) -> None:
    """Before a request's inputs are fetched, decoded or stored: refused (429) when the key is
    at its cap of active jobs, unless it retries a known `Idempotency-Key` (that adds no job,
    and a client retrying a running job must get that job), and refused (402) when it cannot
    pay for the model at all. Blocking: run it on `ctx.blocking`."""
    if not ctx.intake.retries_known_key(key):
        ctx.active_jobs.check(key.id)
    ctx.intake.check_funds(key, model)


@dataclass
class Draft:
    """Routes without inputs reach the database once, in `submit` (whose transaction checks
    the cap and holds the price); a route's first input first passes `admit_inputs`."""

    ctx: ApiContext
    key: ApiKeyRecord
    model: ApiModel
    request_id: str
    images: dict[str, DecodedImage] = field(default_factory=dict)
    admitted: bool = field(default=False, init=False)

    @classmethod
    async def start(cls, ctx: ApiContext, key: ApiKeyRecord, model: ApiModel) -> Draft:
        return cls(ctx, key, model, new_id(model))

    async def _admit(self) -> None:
        if not self.admitted:
            await self.ctx.blocking.run(admit_inputs, self.ctx, self.key, self.model)
            self.admitted = True

    def steps(self, given: int | None = None) -> int:
        """The caller's step count, else the operator's default for this model, else ours."""
        return given or self.ctx.intake.default_steps(self.model)

    @property
    def guidance(self) -> float | None:
        return self.model.defaults.guidance

    async def fetch_image(self, url: str, *, what: str, name: str = "image") -> DecodedImage:
        await self._admit()
        data = await self.ctx.intake.fetch_bytes(url, what=what)
        return await self._decode(data, what=what, name=name)

    async def add_image(self, data: bytes, *, what: str, name: str = "image") -> DecodedImage:
        """An uploaded input image (multipart), checked as strictly as a fetched one (and
        decoded on a thread: a huge one takes seconds)."""
        await self._admit()
        return await self._decode(data, what=what, name=name)

    async def _decode(self, data: bytes, *, what: str, name: str) -> DecodedImage:
        image = await self.ctx.blocking.run_cpu(self.ctx.intake.decode_for_job, data, what)
        self.images[name] = image
        return image

    def input_key(self, name: str) -> str | None:
        return self.ctx.intake.input_key(self.request_id, name) if name in self.images else None

    async def loras(self, loras: list[LoraInput] | None, scale: float = 1.0) -> list[LoraSpec]:
        """Call last before `submit`: LoRA files fetched by URL are kept as inputs, and are
        removed again here if a later one is refused."""
        if loras:
            await self._admit()
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
