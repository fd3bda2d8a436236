"""`fluxserve serve` (the API, with workers unless told otherwise) and `fluxserve worker`."""

from __future__ import annotations

import signal
import threading
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
MetricsPort = Annotated[
    int | None,
    typer.Option(
        "--metrics-port",
        help="Serve this worker's Prometheus metrics (engine step times) on this port.",
    ),
]


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
    api_processes: Annotated[
        int | None,
        typer.Option(
            "--api-processes",
            min=1,
            max=64,
            help="Serve the API from N processes on the same port; the workers and the "
            "engine run once, in this process.",
        ),
    ] = None,
) -> None:
    """Run the API, with in-process workers unless --no-workers (SQLite and local files by
    default)."""
    import uvicorn

    from fluxserve.api.connguard import uvicorn_options
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
    if api_processes is not None:
        serve_processes(settings, api_processes, no_workers=no_workers)
        return
    service = Service.build(settings, with_engine=not no_workers)
    try:
        app = create_service_app(service, run_workers=not no_workers)
        uvicorn.run(
            app,
            host=settings.host,
            port=settings.port,
            log_level="info",
            **uvicorn_options(settings),
        )
    finally:
        service.close()


def serve_processes(settings: Settings, count: int, *, no_workers: bool) -> None:
    """`serve --api-processes N`: N API processes, and the workers once, in this one."""
    from fluxserve.cli.api_processes import ApiProcesses, wait_for_signal
    from fluxserve.server import Service, run_worker_node

    # Built first: the database is migrated once, before the API processes open it.
    service = Service.build(settings, with_engine=not no_workers)
    api = ApiProcesses(settings, count)
    try:
        api.start()
        if no_workers:
            wait_for_signal()
        else:
            run_worker_node(service, None, _stop_on_signals())
    finally:
        api.stop()
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
    metrics_port: MetricsPort = None,
) -> None:
    """Run workers (and webhook delivery) without HTTP, sharing the job store with API nodes."""
    stopping = _stop_on_signals()
    from fluxserve.server import Service, run_worker_node
    from fluxserve.worker.pool import expand_model_ids, lanes_for

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
    # A node that only trains never generates: it starts no generation engine (nor loads
    # `engine.preload` into memory); its trainings get their own engine on first use.
    generates = bool(lanes_for(model_ids)[0])
    service = Service.build(settings, with_engine=generates)
    port = metrics_port if metrics_port is not None else settings.metrics.worker_port
    try:
        if port is not None:
            service.metrics.serve(settings.metrics.worker_host, port)
        run_worker_node(service, model_ids, stopping)
    finally:
        service.close()


def _stop_on_signals() -> threading.Event:
    """An event that SIGTERM or SIGINT sets, and nothing more: a stop asked for while starting
    (a rolling restart, a scale-down) lets the start finish, then claims nothing; once running,
    the node drains (run_worker_node). No exception is thrown into whatever the main thread
    happens to be doing."""
    stopping = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stopping.set())
    return stopping
