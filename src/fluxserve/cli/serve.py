"""`fluxserve serve` (the API, with workers unless told otherwise) and `fluxserve worker`."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from fluxserve.cli.common import ConfigPath, DatabaseUrl, DataDir, fail, load, setup_logging
from fluxserve.settings import Settings

Preload = Annotated[
    list[str] | None,
    typer.Option("--preload", help="Engine model to load at start (repeatable)."),
]
MemoryBudget = Annotated[
    float | None,
    typer.Option("--gpu-memory-budget", help="GiB of pipelines to keep resident (LRU eviction)."),
]
MaxBatch = Annotated[int | None, typer.Option("--max-batch", help="Most images per pipeline call.")]
BatchWait = Annotated[
    int | None,
    typer.Option("--batch-wait-ms", help="How long a busy worker waits to fill a batch."),
]
PublicUrl = Annotated[
    str | None, typer.Option(help="Base URL clients reach the API at (for media URLs).")
]
Workers = Annotated[int | None, typer.Option(help="Worker threads in this process.")]


def with_engine_options(
    settings: Settings,
    preload: list[str] | None,
    budget: float | None,
    max_batch: int | None,
    batch_wait_ms: int | None,
) -> Settings:
    """The settings with the engine flags given on the command line applied on top."""
    update: dict[str, Any] = {}
    if preload:
        update["preload"] = tuple(preload)
    if budget is not None:
        update["gpu_memory_budget_gb"] = budget
    if max_batch is not None:
        update["max_batch"] = max_batch
    if batch_wait_ms is not None:
        update["batch_wait_ms"] = batch_wait_ms
    if not update:
        return settings
    engine = settings.engine.model_validate({**settings.engine.model_dump(), **update})
    return settings.model_copy(update={"engine": engine})


def serve(
    host: Annotated[str | None, typer.Option(help="Address [default: 127.0.0.1].")] = None,
    port: Annotated[int | None, typer.Option(help="Port [default: 8000].")] = None,
    data_dir: DataDir = None,
    public_url: PublicUrl = None,
    allow_private_urls: Annotated[
        bool,
        typer.Option(help="Allow input/webhook URLs on loopback and private networks (local use)."),
    ] = False,
    config: ConfigPath = None,
    workers: Workers = None,
    no_workers: Annotated[
        bool, typer.Option("--no-workers", help="API only: jobs run on `fluxserve worker` nodes.")
    ] = False,
    database_url: DatabaseUrl = None,
    preload: Preload = None,
    gpu_memory_budget: MemoryBudget = None,
    max_batch: MaxBatch = None,
    batch_wait_ms: BatchWait = None,
) -> None:
    """Run the API, with in-process workers unless --no-workers (SQLite and local files by
    default)."""
    import uvicorn

    from fluxserve.server import Service, create_service_app

    settings = load(
        host=host,
        port=port,
        data_dir=data_dir,
        public_url_override=public_url,
        allow_private_urls=allow_private_urls or None,
        config_path=config,
        workers=workers,
        database_url_override=database_url,
    )
    settings = with_engine_options(settings, preload, gpu_memory_budget, max_batch, batch_wait_ms)
    setup_logging()
    service = Service.build(settings, with_engine=not no_workers)
    try:
        app = create_service_app(service, run_workers=not no_workers)
        uvicorn.run(app, host=settings.host, port=settings.port, log_level="info")
    finally:
        service.close()


def worker(
    models: Annotated[
        str | None,
        typer.Option(
            help="Comma-separated API or engine model ids this worker hosts (default all)."
        ),
    ] = None,
    data_dir: DataDir = None,
    config: ConfigPath = None,
    public_url: PublicUrl = None,
    workers: Workers = None,
    database_url: DatabaseUrl = None,
    preload: Preload = None,
    gpu_memory_budget: MemoryBudget = None,
    max_batch: MaxBatch = None,
    batch_wait_ms: BatchWait = None,
) -> None:
    """Run workers (and webhook delivery) without HTTP, sharing the job store with API nodes."""
    from fluxserve.server import Service, run_worker_node
    from fluxserve.worker.pool import expand_model_ids

    settings = load(
        data_dir=data_dir,
        config_path=config,
        public_url_override=public_url,
        workers=workers,
        database_url_override=database_url,
    )
    settings = with_engine_options(settings, preload, gpu_memory_budget, max_batch, batch_wait_ms)
    try:
        model_ids = expand_model_ids(models.split(",")) if models else None
    except ValueError as exc:
        raise fail(str(exc)) from None
    setup_logging()
    service = Service.build(settings)
    try:
        run_worker_node(service, model_ids)
    finally:
        service.close()
