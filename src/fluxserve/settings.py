"""Settings: built once at start-up (CLI), then passed down. Nothing here reads the environment
at import time; `load_settings` takes the environment as an argument."""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

DEFAULT_DATA_DIR = "./fluxserve-data"
# Bound of every priority setting (key, model, sync boost), so ranks stay well inside 64 bits.
PRIORITY_LIMIT = 100_000


class ModelConfig(BaseModel):
    """Operator settings for one engine model (see `fluxserve.catalog.ENGINE_MODELS`)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    weights: str | None = Field(
        default=None, description="Local folder or hub id; unset serves demo weights."
    )
    revision: str | None = None
    dtype: Literal["auto", "float32", "bfloat16", "float16"] = "auto"
    device: str = "auto"
    enabled: bool = True


class EndpointConfig(BaseModel):
    """Operator settings for one API model id (the ids clients see)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = True
    price_usd: Decimal | None = None
    default_steps: int | None = Field(default=None, ge=1, le=100)
    priority: int = Field(
        default=0,
        ge=-PRIORITY_LIMIT,
        le=PRIORITY_LIMIT,
        description="Added to the priority of this model's jobs (docs/scheduling.md).",
    )

    @field_validator("price_usd")
    @classmethod
    def _price_not_negative(cls, value: Decimal | None) -> Decimal | None:
        if value is not None and value < 0:
            raise ValueError("price_usd must be >= 0")
        return value


UNCONFIGURED_MODEL = ModelConfig()
UNCONFIGURED_ENDPOINT = EndpointConfig()


class SchedulingConfig(BaseModel):
    """The order in which workers claim queued jobs (docs/scheduling.md). Every term is in
    seconds of queue time, so one rank orders priorities, fair share and age together."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    aging_s: float = Field(
        default=60.0,
        gt=0,
        le=86_400,
        description="One priority point is worth this many seconds of waiting.",
    )
    fair_share_s: float = Field(
        default=60.0,
        ge=0,
        le=86_400,
        description="Each job a key already has in line (same model and priority) moves its "
        "next one this many seconds back.",
    )
    sync_boost: int = Field(
        default=1000,
        ge=0,
        le=PRIORITY_LIMIT,
        description="Priority points added to a job whose client waits on the connection.",
    )


class EngineConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    max_batch: int = Field(default=4, ge=1, le=64)
    batch_wait_ms: int = Field(default=20, ge=0, le=10_000)
    gpu_memory_budget_gb: float | None = Field(default=None, gt=0)
    preload: tuple[str, ...] = ()
    compile_repeated_blocks: bool = False
    compile_on_cpu: bool = Field(
        default=False,
        description="Honour compile_repeated_blocks off CUDA too (slow first call; for tests).",
    )
    lora_slots: int = Field(
        default=1,
        ge=1,
        le=4,
        description="With compile_repeated_blocks: LoRAs per request, each a hot-swapped slot "
        "of rank lora_max_rank on every linear layer of the transformer, paid on every call.",
    )
    lora_max_rank: int = Field(
        default=64,
        ge=1,
        le=1024,
        description="With compile_repeated_blocks: the highest LoRA rank served.",
    )
    quantization: Literal["none", "fp8", "int8"] = "none"
    attention_backend: str | None = None
    cpu_offload: bool = False
    vae_tiling_min_pixels: int = Field(default=1536 * 1536, ge=0)
    isolate: bool = Field(default=True, description="Run the engine in its own process.")


class SafetyConfig(BaseModel):
    """The image check after generation (the prompt check is always on)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    image_checker: Literal["auto", "none", "opennsfw", "transformers"] = "auto"
    image_model_path: str | None = Field(
        default=None, description="Local image-classification folder for kind 'transformers'."
    )
    image_checker_device: Literal["auto", "cpu", "cuda"] = Field(
        default="cpu",
        description="Where the image check runs: 'cpu'; 'cuda', the first visible GPU "
        "(onnxruntime-gpu for open_nsfw, torch for 'transformers'), refusing to start without "
        "it; 'auto', the GPU where the checker's runtime can use one, else the CPU. On a GPU "
        "the node's main process opens a CUDA context of its own (a few hundred MB beside the "
        "engine's, outside its memory budget), hence not the default.",
    )


class TrainingConfig(BaseModel):
    """LoRA training knobs that are the operator's, not the caller's."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    resolution: int = Field(default=512, ge=32, le=2048)
    checkpoint_every: int = Field(default=100, ge=1)
    gpu_memory_budget_gb: float | None = Field(
        default=None, gt=0, description="Memory budget of the training lane's own engine."
    )


MIB = 1024 * 1024
S3_MIN_PART_BYTES = 5 * MIB  # S3 refuses smaller parts (except the last)


class StorageConfig(BaseModel):
    """Where media lives: the data folder (served at /media) or an S3-compatible bucket.

    Only outputs (keys under `outputs/`) are public. Everything else (inputs, datasets, LoRA
    files fetched for a request, checkpoints) is private: in an S3 bucket it is stored under
    `private_prefix` of `private_bucket` (default: the media bucket) and never given a URL."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    backend: Literal["local", "s3"] = "local"
    bucket: str | None = None
    prefix: str = ""
    endpoint_url: str | None = None
    region: str | None = None
    public_base_url: str | None = Field(
        default=None, description="Base URL clients download bucket objects from."
    )
    private_bucket: str | None = Field(
        default=None, description="Bucket for private objects (default: the media bucket)."
    )
    private_prefix: str = Field(
        default="private", description="Where private objects go in the private bucket."
    )
    presign_expires_s: int | None = Field(
        default=None,
        ge=1,
        le=7 * 24 * 3600,
        description="Give outputs presigned URLs valid this long instead of public_base_url "
        "ones (for a bucket that allows no anonymous reads).",
    )
    multipart_threshold_bytes: int = Field(default=16 * MIB, ge=S3_MIN_PART_BYTES)
    multipart_chunk_bytes: int = Field(default=16 * MIB, ge=S3_MIN_PART_BYTES)

    @model_validator(mode="after")
    def _s3_needs_bucket(self) -> StorageConfig:
        if self.backend != "s3":
            return self
        if not self.bucket or not (self.public_base_url or self.presign_expires_s):
            raise ValueError(
                "storage.backend = 's3' needs storage.bucket, and public_base_url "
                "or presign_expires_s"
            )
        shared = self.private_bucket in (None, self.bucket)
        private = self.private_prefix.strip("/")
        public_outputs = "/".join(p for p in (self.prefix.strip("/"), "outputs") if p)
        if shared and (not private or f"{private}/".startswith(f"{public_outputs}/")):
            raise ValueError(
                "storage.private_prefix must be set, and lie outside the public outputs, "
                "when private objects share the media bucket"
            )
        return self


class ProvenanceConfig(BaseModel):
    """C2PA content credentials on every output image (see README, "Provenance")."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = True
    required: bool = Field(
        default=False, description="A job whose output cannot be signed ends ERROR, not unsigned."
    )
    include_prompt: bool = Field(default=False, description="Prompts can be private; off.")
    cert_chain: str | None = Field(
        default=None,
        description="PEM certificate chain (signer first), as a file path or the PEM text; "
        "unset: a self-made local CA and signer in the data folder.",
    )
    private_key: SecretStr | None = Field(
        default=None, description="PEM private key (EC P-256/P-384 or RSA), path or PEM text."
    )
    timestamp_url: str | None = Field(default=None, description="RFC 3161 timestamp authority.")

    @model_validator(mode="after")
    def _chain_and_key_together(self) -> ProvenanceConfig:
        if (self.cert_chain is None) != (self.private_key is None):
            raise ValueError("provenance.cert_chain and provenance.private_key go together")
        return self


class LimitsConfig(BaseModel):
    """Per-key limits that every API node enforces together."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    redis_url: str | None = Field(
        default=None,
        description="Redis holding the submission rate buckets shared by all API nodes; "
        "unset: each node keeps its own (right for a single node).",
    )
    redis_key_prefix: str = Field(default="fluxserve", min_length=1)
    max_active_jobs_per_key: int = Field(
        default=50,
        ge=1,
        description="Most QUEUED + PROCESSING jobs one key may have, counted in the job store.",
    )


SQLITE_API_THREADS = 2  # measured: docs/benchmarks.md section 10


class DatabaseConfig(BaseModel):
    """Connections each process keeps to the job store, and the API's threads that use them."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    pool_size: int = Field(
        default=8, ge=1, le=256, description="Connections kept open per process."
    )
    max_overflow: int = Field(
        default=8, ge=0, le=256, description="Extra connections opened under a burst."
    )
    key_cache_ttl_s: float = Field(
        default=5.0,
        ge=0,
        le=300,
        description="How long an API process trusts a key it has looked up; a key disabled "
        "by another process is refused there within this many seconds (0: no cache).",
    )

    api_threads: int | None = Field(
        default=None,
        ge=1,
        le=256,
        description="Threads an API process runs database work on. Default: 2 on SQLite (one "
        "writer at a time; more threads only contend for the interpreter), `pool_size` on "
        "PostgreSQL (each thread waits on the network).",
    )

    def api_threads_for(self, dialect: str) -> int:
        """The API's database threads for a store of `dialect`: never more than the kept
        connections, so a busy API neither waits for the pool nor opens and closes overflow
        connections per request (those serve the process's background threads)."""
        wanted = self.api_threads or (SQLITE_API_THREADS if dialect == "sqlite" else self.pool_size)
        return min(wanted, self.pool_size)


class MetricsConfig(BaseModel):
    """Prometheus metrics: API nodes answer GET /metrics; worker nodes can listen too."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    worker_port: int | None = Field(
        default=None,
        ge=0,
        le=65535,
        description="`fluxserve worker` serves its process metrics (engine step times) here.",
    )
    worker_host: str = "127.0.0.1"


DAY_S = 24 * 3600.0


class RetentionConfig(BaseModel):
    """How long each kind of media is kept after its job ended (seconds; unset keeps it
    forever), and how often the sweeper looks. A training's LoRA file is an output: it stays as
    long as the training's outputs do, and so do the copies cached for generations."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    outputs_s: float | None = Field(default=30 * DAY_S, gt=0)
    inputs_s: float | None = Field(default=7 * DAY_S, gt=0)
    checkpoints_s: float | None = Field(default=7 * DAY_S, gt=0)
    lora_cache_s: float | None = Field(
        default=7 * DAY_S, gt=0, description="LoRA files cached on a node, since last used."
    )
    sweep_interval_s: float = Field(default=3600.0, gt=0)
    sweep_batch: int = Field(default=500, ge=1, description="Most jobs one sweep pass handles.")


class MediaConfig(BaseModel):
    """Output URLs that expire: HMAC-signed for the data folder (/media), presigned for S3."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    url_lifetime_s: int = Field(default=7 * 24 * 3600, ge=1, le=7 * 24 * 3600)
    signing_secret: SecretStr | None = Field(
        default=None,
        description="HMAC key of /media URLs; unset: one made and kept in the data folder "
        "(every API node serving the same folder must share it).",
    )
    retention: RetentionConfig = Field(default_factory=RetentionConfig)


class Settings(BaseModel):
    """Everything the service needs to know, fixed for the life of the process."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    data_dir: Path
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=0, le=65535)
    public_url_override: str | None = None
    database_url_override: str | None = None
    allow_private_urls: bool = False
    workers: int = Field(default=1, ge=1, le=64)
    rate_limit_per_minute: int = Field(default=120, ge=1)
    sync_timeout_s: float = Field(default=300.0, gt=0)
    # How long an Idempotency-Key answers with its first request's job (Stripe: 24 h).
    idempotency_ttl_s: float = Field(default=86400.0, gt=0)
    batch_sync_wait_s: float = Field(default=60.0, ge=0)
    max_input_bytes: int = Field(default=25 * 1024 * 1024, gt=0)
    max_input_pixels: int = Field(default=40_000_000, gt=0)
    input_fetch_timeout_s: float = Field(default=20.0, gt=0)
    # HTTP edge limits; docs/security.md says what each guards against.
    max_json_body_bytes: int = Field(default=1024 * 1024, gt=0)
    http_header_timeout_s: float = Field(default=10.0, gt=0)
    http_body_idle_timeout_s: float = Field(default=30.0, gt=0)
    http_body_timeout_s: float = Field(default=300.0, gt=0)
    http_keep_alive_s: float = Field(default=5.0, gt=0)
    http_max_connections: int = Field(default=2048, ge=1)
    http_limit_concurrency: int = Field(default=1024, ge=1)
    job_max_attempts: int = Field(default=2, ge=1)
    job_lease_s: float = Field(
        default=60.0, gt=0, description="Renewed by the node's heartbeat while it lives."
    )
    node_heartbeat_s: float = Field(default=5.0, gt=0)
    node_timeout_s: float = Field(
        default=30.0, gt=0, description="A node silent this long is dead; its jobs run again."
    )
    sweep_interval_s: float = Field(default=10.0, gt=0)
    drain_s: float = Field(
        default=30.0, ge=0, description="On SIGTERM: how long running jobs may take to finish."
    )
    webhook_max_attempts: int = Field(default=8, ge=1)
    webhook_timeout_s: float = Field(default=10.0, gt=0)
    webhook_backoff_base_s: float = Field(default=2.0, gt=0)
    webhook_secret: str | None = None
    operator_token: SecretStr | None = Field(
        default=None,
        description="Bearer token of the HTTP admin API (/admin/v1/...); unset: no admin API.",
    )
    webhook_concurrency: int = Field(default=128, ge=1, le=1024)
    webhook_per_host: int = Field(default=8, ge=1)
    config_path: Path | None = None
    demo_weights_dir_override: Path | None = Field(
        default=None, description="Share one demo-weights cache between data folders."
    )
    models: dict[str, ModelConfig] = Field(default_factory=dict)
    endpoints: dict[str, EndpointConfig] = Field(default_factory=dict)
    engine: EngineConfig = Field(default_factory=EngineConfig)
    safety: SafetyConfig = Field(default_factory=SafetyConfig)
    training: TrainingConfig = Field(default_factory=TrainingConfig)
    storage: StorageConfig = Field(default_factory=StorageConfig)
    provenance: ProvenanceConfig = Field(default_factory=ProvenanceConfig)
    limits: LimitsConfig = Field(default_factory=LimitsConfig)
    scheduling: SchedulingConfig = Field(default_factory=SchedulingConfig)
    database: DatabaseConfig = Field(default_factory=DatabaseConfig)
    metrics: MetricsConfig = Field(default_factory=MetricsConfig)
    media: MediaConfig = Field(default_factory=MediaConfig)

    @property
    def public_url(self) -> str:
        """Base URL that clients use to reach this server (polling and media URLs)."""
        if self.public_url_override:
            return self.public_url_override.rstrip("/")
        host = "127.0.0.1" if self.host in ("0.0.0.0", "::", "") else self.host
        return f"http://{host}:{self.port}"

    @property
    def database_url(self) -> str:
        if self.database_url_override:
            return self.database_url_override
        return f"sqlite:///{(self.data_dir / 'fluxserve.db').resolve()}"

    @property
    def media_dir(self) -> Path:
        return self.data_dir / "media"

    @property
    def demo_weights_dir(self) -> Path:
        return self.demo_weights_dir_override or self.data_dir / "demo-weights"

    @property
    def work_dir(self) -> Path:
        """Scratch space for jobs (training checkpoints, unpacked datasets)."""
        return self.data_dir / "work"

    def model(self, engine_model_id: str) -> ModelConfig:
        return self.models.get(engine_model_id, UNCONFIGURED_MODEL)

    def endpoint(self, model_id: str) -> EndpointConfig:
        # Read several times per submit: the default is built once (they are frozen).
        return self.endpoints.get(model_id, UNCONFIGURED_ENDPOINT)


def _read_config_file(path: Path) -> dict[str, Any]:
    with path.open("rb") as handle:
        return tomllib.load(handle)


def load_settings(
    overrides: Mapping[str, Any] | None = None,
    environ: Mapping[str, str] | None = None,
) -> Settings:
    """Merge, lowest first: built-in defaults, the TOML config file, FLUXSERVE_* environment,
    then explicit overrides (CLI flags). `None` values in overrides mean "not given"."""
    env = dict(environ or {})
    given = {k: v for k, v in (overrides or {}).items() if v is not None}
    config_path = given.get("config_path") or env.get("FLUXSERVE_CONFIG")
    values: dict[str, Any] = {}
    if config_path:
        values.update(_read_config_file(Path(config_path)))
        values["config_path"] = Path(config_path)
    env_map = {
        "FLUXSERVE_DATA_DIR": "data_dir",
        "FLUXSERVE_DATABASE_URL": "database_url_override",
        "FLUXSERVE_PUBLIC_URL": "public_url_override",
        "FLUXSERVE_WEBHOOK_SECRET": "webhook_secret",
        "FLUXSERVE_OPERATOR_TOKEN": "operator_token",
    }
    for name, field in env_map.items():
        if env.get(name):
            values[field] = env[name]
    provenance_env = {
        "FLUXSERVE_C2PA_CERT_CHAIN": "cert_chain",
        "FLUXSERVE_C2PA_PRIVATE_KEY": "private_key",
        "FLUXSERVE_C2PA_TIMESTAMP_URL": "timestamp_url",
    }
    for name, field in provenance_env.items():
        if env.get(name):
            values["provenance"] = {**values.get("provenance", {}), field: env[name]}
    values.update(given)
    values.setdefault("data_dir", DEFAULT_DATA_DIR)
    return Settings.model_validate(values)
