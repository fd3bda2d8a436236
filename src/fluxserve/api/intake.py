"""From a validated body to a queued job: check the model, fetch and keep the inputs, price it,
and create the job with its hold in one transaction. Inputs are fetched here, at submit time, so
a bad URL or a broken image is a 400 to the caller, not a failed job later."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass

from fluxserve.billing.keys import ApiKeyRecord
from fluxserve.catalog import API_MODELS, ApiModel
from fluxserve.errors import ModelNotFound
from fluxserve.ids import new_request_id
from fluxserve.inputs.dataset import TrainingDataset
from fluxserve.inputs.fetch import InputFetcher
from fluxserve.inputs.images import DecodedImage, decode_image, to_png_bytes
from fluxserve.jobs.records import JobRecord
from fluxserve.jobs.signals import JobSignals
from fluxserve.jobs.spec import GenerationSpec, TrainingSpec
from fluxserve.jobs.store import JobStore
from fluxserve.money import usd_to_micros
from fluxserve.settings import Settings
from fluxserve.storage.base import MediaStorage


@dataclass(frozen=True)
class Webhook:
    url: str
    events: list[str] | None = None
    style: str = "status"


class Intake:
    def __init__(
        self,
        settings: Settings,
        jobs: JobStore,
        storage: MediaStorage,
        fetcher: InputFetcher,
        signals: JobSignals,
        disabled_reason: Callable[[str], str | None],
    ) -> None:
        self.settings = settings
        self.jobs = jobs
        self.storage = storage
        self.fetcher = fetcher
        self.signals = signals
        self._disabled_reason = disabled_reason

    def model(self, model_id: str) -> ApiModel:
        """The API model, or the spec's `Model not found` error when it is unknown or disabled."""
        model = API_MODELS.get(model_id)
        if model is None or not self.settings.endpoint(model_id).enabled:
            raise ModelNotFound(model_id)
        reason = self._disabled_reason(model.engine_model)
        if reason is not None:
            raise ModelNotFound(model_id, reason)
        return model

    def default_steps(self, model_id: str, fallback: int) -> int:
        return self.settings.endpoint(model_id).default_steps or fallback

    def price(self, model: ApiModel, width: int, height: int, count: int) -> int:
        override = self.settings.endpoint(model.id).price_usd
        override_micros = usd_to_micros(override) if override is not None else None
        return model.price_for(width, height, count, override_micros)

    async def fetch_image(self, url: str, *, what: str) -> DecodedImage:
        data = await self.fetcher.fetch(url, what=what)
        return decode_image(data, what=what, max_pixels=self.settings.max_input_pixels)

    async def fetch_bytes(self, url: str, *, what: str) -> bytes:
        return await self.fetcher.fetch(url, what=what)

    @staticmethod
    def input_key(request_id: str, name: str) -> str:
        return f"inputs/{request_id}/{name}.png"

    @staticmethod
    def dataset_key(request_id: str) -> str:
        return f"inputs/{request_id}/dataset.json"

    def _keep_inputs(
        self, request_id: str, images: dict[str, DecodedImage], dataset: TrainingDataset | None
    ) -> None:
        for name, image in images.items():
            self.storage.put(
                self.input_key(request_id, name), to_png_bytes(image.data), "image/png"
            )
        if dataset is None:
            return
        samples = []
        for index, sample in enumerate(dataset.samples):
            key = f"inputs/{request_id}/dataset/{index:04d}.png"
            self.storage.put(key, sample.image_png, "image/png")
            samples.append({"name": sample.name, "image_key": key, "caption": sample.caption})
        body = json.dumps({"samples": samples}).encode()
        self.storage.put(self.dataset_key(request_id), body, "application/json")

    def discard_inputs(self, request_id: str) -> None:
        self.storage.delete_prefix(f"inputs/{request_id}")

    def submit(
        self,
        *,
        request_id: str,
        model: ApiModel,
        key: ApiKeyRecord,
        spec: GenerationSpec | TrainingSpec,
        price_micros: int,
        webhook: Webhook | None = None,
        alias: str | None = None,
        images: dict[str, DecodedImage] | None = None,
        dataset: TrainingDataset | None = None,
    ) -> JobRecord:
        """Keep the inputs, then create the job and its hold; on refusal remove the inputs."""
        try:
            self._keep_inputs(request_id, images or {}, dataset)
            job = self.jobs.create(
                request_id=request_id,
                model_id=model.id,
                key_id=key.id,
                spec=spec.model_dump(mode="json"),
                price_micros=price_micros,
                webhook_url=webhook.url if webhook else None,
                webhook_events=webhook.events if webhook else None,
                webhook_style=webhook.style if webhook else "status",
                alias=alias,
            )
        except BaseException:
            self.discard_inputs(request_id)
            raise
        self.signals.job_queued()
        return job


def submit_generation(
    intake: Intake,
    *,
    request_id: str,
    model: ApiModel,
    key: ApiKeyRecord,
    spec: GenerationSpec,
    webhook: Webhook | None = None,
    images: dict[str, DecodedImage] | None = None,
    alias: str | None = None,
) -> JobRecord:
    """Submit a generation priced by its size and image count."""
    return intake.submit(
        request_id=request_id,
        model=model,
        key=key,
        spec=spec,
        price_micros=intake.price(model, spec.width, spec.height, len(spec.seeds)),
        webhook=webhook,
        alias=alias,
        images=images,
    )


def new_id(model: ApiModel) -> str:
    return new_request_id(model.id)
