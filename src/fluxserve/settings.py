"""Settings: built once at start-up (CLI), then passed down. Nothing here reads the environment
at import time; `load_settings` takes the environment as an argument."""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

DEFAULT_DATA_DIR = "./fluxserve-data"


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

    @field_validator("price_usd")
    @classmethod
    def _price_not_negative(cls, value: Decimal | None) -> Decimal | None:
        if value is not None and value < 0:
            raise ValueError("price_usd must be >= 0")
        return value


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


class TrainingConfig(BaseModel):
    """LoRA training knobs that are the operator's, not the caller's."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    resolution: int = Field(default=512, ge=32, le=2048)
    checkpoint_every: int = Field(default=100, ge=1)


class StorageConfig(BaseModel):
    """Where outputs live: the data folder (served at /media) or an S3-compatible bucket."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    backend: Literal["local", "s3"] = "local"
    bucket: str | None = None
    prefix: str = ""
    endpoint_url: str | None = None
    region: str | None = None
    public_base_url: str | None = Field(
        default=None, description="Base URL clients download bucket objects from."
    )

    @model_validator(mode="after")
    def _s3_needs_bucket(self) -> StorageConfig:
        if self.backend == "s3" and not (self.bucket and self.public_base_url):
            raise ValueError("storage.backend = 's3' needs storage.bucket and public_base_url")
        return self


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
    batch_sync_wait_s: float = Field(default=60.0, ge=0)
    max_input_bytes: int = Field(default=25 * 1024 * 1024, gt=0)
    max_input_pixels: int = Field(default=40_000_000, gt=0)
    input_fetch_timeout_s: float = Field(default=20.0, gt=0)
    job_max_attempts: int = Field(default=2, ge=1)
    job_lease_s: float = Field(default=600.0, gt=0)
    webhook_max_attempts: int = Field(default=8, ge=1)
    webhook_timeout_s: float = Field(default=10.0, gt=0)
    webhook_backoff_base_s: float = Field(default=2.0, gt=0)
    webhook_secret: str | None = None
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
        return self.models.get(engine_model_id, ModelConfig())

    def endpoint(self, model_id: str) -> EndpointConfig:
        return self.endpoints.get(model_id, EndpointConfig())


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
    }
    for name, field in env_map.items():
        if env.get(name):
            values[field] = env[name]
    values.update(given)
    values.setdefault("data_dir", DEFAULT_DATA_DIR)
    return Settings.model_validate(values)
