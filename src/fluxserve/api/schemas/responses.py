"""The response bodies, as `/openapi.json` shows them. Routes build the JSON themselves (the
spec's shapes, byte for byte); these models document it and let tests check it."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

JobStatus = Literal["QUEUED", "PROCESSING", "COMPLETED", "FAILED", "ERROR", "CANCELLED"]


class ErrorBody(BaseModel):
    """Every error: `{"error": text}`, or `{"error": title, "message": text}` where the spec
    pairs them (402, 429, Model not found)."""

    error: str
    message: str | None = None


class Accepted(BaseModel):
    """202: the request is queued; poll `polling_url`."""

    request_id: str
    status: JobStatus
    polling_url: str


class SyncOutput(BaseModel):
    """The sync endpoints' answer: the image's URL."""

    output: str


class MediaOutput(BaseModel):
    media_url: list[str]
    media_type: str


class Progress(BaseModel):
    """Present while a job reports progress (a fluxserve extension)."""

    model_config = ConfigDict(extra="allow")

    step: int
    total: int
    loss: float | None = None


class OutputProvenance(BaseModel):
    """The outputs' C2PA content credentials as a validator reads them (a fluxserve
    extension, on GET /v2/requests/status/{id} once COMPLETED with images)."""

    present: bool
    signer: str | None
    validation_state: str = Field(description="Valid, Trusted, Invalid, or Missing")
    failures: list[str] = Field(
        description="Validation failure codes, e.g. signingCredential.untrusted"
    )


class RequestStatus(BaseModel):
    """The universal status body, also POSTed to webhooks."""

    request_id: str
    status: JobStatus
    model_id: str
    error: str | None
    output: MediaOutput | None
    created_at: str | None
    updated_at: str | None
    completed_at: str | None
    progress: Progress | None = Field(default=None, description="Only while running")
    queue_position: int | None = Field(
        default=None,
        description="Only while QUEUED, on the status endpoint: jobs of this model ahead (0: next)",
    )
    eta_s: float | None = Field(
        default=None,
        description="Only while QUEUED or PROCESSING, on the status endpoint: estimated seconds "
        "until the job ends, from recent jobs of this model (null while nothing is known)",
    )
    provenance: OutputProvenance | None = Field(
        default=None, description="Only on the status endpoint, once COMPLETED with images"
    )


class UltraResult(RequestStatus):
    """FLUX1.1 ultra with `sync_mode: true`: the status body once done."""

    polling_url: str


class SyncTimeout(BaseModel):
    """504 from a sync route: not ready in time. `status` says what became of the job:
    CANCELLED (it had not started: released, uncharged) or PROCESSING (it finishes and is
    charged; poll `polling_url`)."""

    error: str
    status: JobStatus
    request_id: str
    polling_url: str


class BatchQueued(BaseModel):
    """getDataBatch while its request is still queued or running."""

    requestId: str
    status: str
    message: str
    pollingEndpoint: str
    pollingInstructions: str


class BatchStatus(BaseModel):
    """getDataBatch once done, checkStatus, and batch webhooks."""

    requestId: str
    status: Literal["queued", "processing", "completed", "failed", "error", "cancelled"]
    output: str | None
    completedAt: int | None
    error: str | None = None


class EngineModelHealth(BaseModel):
    engine_model: str
    weights: str
    demo: bool
    enabled: bool
    loaded: bool
    reason: str | None


class ProvenanceHealth(BaseModel):
    """The C2PA signer: who signs, whether its credentials are self-made, how it has gone."""

    enabled: bool
    signer: str | None = None
    issuer: str | None = None
    algorithm: str | None = None
    self_made: bool | None = None
    expires: str | None = None
    timestamp_url: str | None = None
    required: bool | None = None
    include_prompt: bool | None = None
    signed: int = Field(default=0, description="Outputs signed by this process")
    failed: int = Field(default=0, description="Outputs this process failed to sign")
    note: str | None = None


class Health(BaseModel):
    status: Literal["ok"]
    demo_weights: list[str]
    note: str | None
    disabled_models: dict[str, str | None]
    engine_models: list[EngineModelHealth]
    provenance: ProvenanceHealth


class CatalogRoute(BaseModel):
    method: str
    path: str
    mode: str


class CatalogRow(BaseModel):
    model_id: str
    title: str
    engine_model: str
    pipeline: str
    weights: str
    demo_weights: bool
    license: str
    price_usd: str
    priced_by_size: bool
    default_steps: int | None
    routes: list[CatalogRoute]
    enabled: bool
    disabled_reason: str | None


class Catalog(BaseModel):
    models: list[CatalogRow]
    note: str


class Account(BaseModel):
    """The calling key and its wallet (amounts in US dollars, exact decimal strings)."""

    name: str
    key_prefix: str
    balance_usd: str
    held_usd: str
