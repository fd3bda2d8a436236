"""From a validated body to a queued job: check the model, fetch and keep the inputs, price it,
and create the job with its hold in one transaction. Inputs are fetched here, at submit time, so
a bad URL or a broken image is a 400 to the caller, not a failed job later."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, replace

from fluxserve.api.idempotency import IdempotentRequest, current_request
from fluxserve.billing.keys import ApiKeyRecord
from fluxserve.catalog import API_MODELS, ApiModel
from fluxserve.errors import IdempotencyMismatch, InsufficientBalance, ModelNotFound
from fluxserve.ids import new_request_id
from fluxserve.inputs.dataset import TrainingDataset
from fluxserve.inputs.fetch import InputFetcher
from fluxserve.inputs.images import DecodedImage, decode_image, to_png_bytes
from fluxserve.jobs import scheduling
from fluxserve.jobs.idempotency import DuplicateIdempotencyKey, IdempotencyClaim
from fluxserve.jobs.records import JobRecord, JobState
from fluxserve.jobs.signals import JobSignals
from fluxserve.jobs.spec import GenerationSpec, TrainingSpec
from fluxserve.jobs.store import JobStore
from fluxserve.money import micros_to_usd, usd_to_micros
from fluxserve.settings import Settings
from fluxserve.storage.base import MediaStorage
from fluxserve.webhooks.validate import check_webhook_target


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
        balance: Callable[[str], int],
    ) -> None:
        self.settings = settings
        self.balance = balance  # a key id's spendable micro-dollars
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

    def default_steps(self, model: ApiModel) -> int:
        configured = self.settings.endpoint(model.id).default_steps
        if configured is None and model.defaults.steps is None:
            raise ValueError(f"{model.id} takes no step count")
        return configured or model.defaults.steps or 0

    def price(self, model: ApiModel, width: int, height: int, count: int) -> int:
        override = self.settings.endpoint(model.id).price_usd
        override_micros = usd_to_micros(override) if override is not None else None
        return model.price_for(width, height, count, override_micros)

    def priority(self, model: ApiModel, key: ApiKeyRecord, waiting: bool) -> int:
        """A new job's scheduling priority (jobs/scheduling.py)."""
        return scheduling.job_priority(
            self.settings.scheduling,
            key_priority=key.priority,
            model_priority=self.settings.endpoint(model.id).priority,
            waiting=waiting,
        )

    def check_funds(self, key: ApiKeyRecord, model: ApiModel) -> None:
        """InsufficientBalance when the key cannot pay for even the cheapest request of
        `model`: called before any input is fetched, decoded or stored, so a key without
        funds cannot make the server do that work. (The exact price is held at submit.)"""
        cheapest = self.price(model, 1, 1, 1)
        if cheapest > 0 and self.balance(key.id) < cheapest:
            raise InsufficientBalance(required_usd=micros_to_usd(cheapest))

    def decode_for_job(self, data: bytes, what: str) -> DecodedImage:
        """The input image, checked and decoded, with the PNG the job will keep. Blocking: up
        to seconds of CPU for a small but huge-in-pixels file (run it on the image lane)."""
        image = decode_image(data, what=what, max_pixels=self.settings.max_input_pixels)
        return replace(image, png=to_png_bytes(image.data))

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
            png = image.png if image.png is not None else to_png_bytes(image.data)
            self.storage.put(self.input_key(request_id, name), png, "image/png")
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
        waiting: bool = False,
    ) -> JobRecord:
        """Keep the inputs, then create the job and its hold; on refusal remove the inputs.
        `waiting`: the client holds the connection until the job ends (claimed sooner).

        With an `Idempotency-Key` whose request already made a job, nothing is created: that
        job comes back as it was accepted, so the route answers as it did the first time."""
        idempotent = current_request()
        claim = None
        if idempotent is not None:
            claim = self._claim(idempotent)
            original = self._original(key, idempotent, claim)
            if original is not None:
                self.discard_inputs(request_id)
                return original
        try:
            return self._create(
                request_id=request_id,
                model=model,
                key=key,
                spec=spec,
                price_micros=price_micros,
                webhook=webhook,
                alias=alias,
                images=images,
                dataset=dataset,
                claim=claim,
                waiting=waiting,
            )
        except DuplicateIdempotencyKey:
            # A twin sent at the same moment won the race: answer with its job.
            assert idempotent is not None and claim is not None
            original = self._original(key, idempotent, claim)
            assert original is not None
            return original

    def retries_known_key(self, key: ApiKeyRecord) -> bool:
        """Whether the request being handled carries an `Idempotency-Key` that `key` has
        already used (for the same request or not: `submit` tells them apart)."""
        idempotent = current_request()
        if idempotent is None:
            return False
        return self.jobs.idempotent(key.id, idempotent.checked_key()) is not None

    def _claim(self, idempotent: IdempotentRequest) -> IdempotencyClaim:
        return IdempotencyClaim(
            key=idempotent.checked_key(),
            fingerprint=idempotent.fingerprint(),
            ttl_s=self.settings.idempotency_ttl_s,
        )

    def _original(
        self, key: ApiKeyRecord, idempotent: IdempotentRequest, claim: IdempotencyClaim
    ) -> JobRecord | None:
        """The job an earlier request with this key made, as it was when accepted; None when
        there is none. IdempotencyMismatch when that request was a different one."""
        earlier = self.jobs.idempotent(key.id, claim.key)
        if earlier is None:
            return None
        if earlier.fingerprint != claim.fingerprint:
            raise IdempotencyMismatch(claim.key)
        job = self.jobs.get(earlier.request_id)
        assert job is not None  # the key's row refers to it
        idempotent.replayed = True
        # Routes that wait for the end re-read the job; those that answer at once say QUEUED,
        # as they did the first time.
        return replace(job, state=JobState.QUEUED)

    def _create(
        self,
        *,
        request_id: str,
        model: ApiModel,
        key: ApiKeyRecord,
        spec: GenerationSpec | TrainingSpec,
        price_micros: int,
        webhook: Webhook | None,
        alias: str | None,
        images: dict[str, DecodedImage] | None,
        dataset: TrainingDataset | None,
        claim: IdempotencyClaim | None,
        waiting: bool,
    ) -> JobRecord:
        try:
            if webhook is not None:
                check_webhook_target(webhook.url, allow_private=self.settings.allow_private_urls)
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
                priority=self.priority(model, key, waiting),
                idempotency_claim=claim,
                active_cap=self.settings.limits.max_active_jobs_per_key,
            )
        except BaseException:
            self.discard_inputs(request_id)
            raise
        self.signals.job_queued(model.id)
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
    waiting: bool = False,
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
        waiting=waiting,
    )


def new_id(model: ApiModel) -> str:
    return new_request_id(model.id)
