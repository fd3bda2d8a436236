"""The `fluxserve` command line: serve, keys, wallet, models."""

from __future__ import annotations

import logging
import os
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from fluxserve.settings import Settings, load_settings

app = typer.Typer(
    help="fluxserve: a self-hosted, drop-in FLUX image-generation API.", no_args_is_help=True
)
keys_app = typer.Typer(help="Create and disable API keys.", no_args_is_help=True)
wallet_app = typer.Typer(help="Top up and inspect prepaid wallets.", no_args_is_help=True)
models_app = typer.Typer(help="The model catalog.", invoke_without_command=True)
app.add_typer(keys_app, name="keys")
app.add_typer(wallet_app, name="wallet")
app.add_typer(models_app, name="models")

DataDir = Annotated[
    Path | None,
    typer.Option(
        "--data-dir", help="Data folder (default ./fluxserve-data, or FLUXSERVE_DATA_DIR)."
    ),
]
ConfigPath = Annotated[
    Path | None, typer.Option("--config", help="TOML config file (or FLUXSERVE_CONFIG).")
]


def _settings(**overrides: Any) -> Settings:
    return load_settings(overrides, environ=os.environ)


def _fail(message: str) -> typer.Exit:
    Console(stderr=True).print(f"[red]error:[/red] {message}")
    return typer.Exit(code=1)


EngineFlag = Annotated[bool | None, typer.Option(hidden=True)]
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
DatabaseUrl = Annotated[
    str | None,
    typer.Option(
        "--database-url",
        help="SQLAlchemy URL of the job store (default: SQLite in the data folder).",
    ),
]


def _with_engine_options(
    settings: Settings,
    preload: list[str] | None,
    budget: float | None,
    max_batch: int | None,
    batch_wait_ms: int | None,
) -> Settings:
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


def _logging() -> None:
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Address [default: 127.0.0.1].")] = None,
    port: Annotated[int | None, typer.Option(help="Port [default: 8000].")] = None,
    data_dir: DataDir = None,
    public_url: Annotated[
        str | None, typer.Option(help="Base URL clients reach this server at (for media URLs).")
    ] = None,
    allow_private_urls: Annotated[
        bool,
        typer.Option(help="Allow input/webhook URLs on loopback and private networks (local use)."),
    ] = False,
    config: ConfigPath = None,
    workers: Annotated[int | None, typer.Option(help="Worker threads in this process.")] = None,
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

    settings = _settings(
        host=host,
        port=port,
        data_dir=data_dir,
        public_url_override=public_url,
        allow_private_urls=allow_private_urls or None,
        config_path=config,
        workers=workers,
        database_url_override=database_url,
    )
    settings = _with_engine_options(settings, preload, gpu_memory_budget, max_batch, batch_wait_ms)
    _logging()
    service = Service.build(settings, with_engine=not no_workers)
    try:
        app_ = create_service_app(service, run_workers=not no_workers)
        uvicorn.run(app_, host=settings.host, port=settings.port, log_level="info")
    finally:
        service.close()


@app.command()
def worker(
    models: Annotated[
        str | None,
        typer.Option(
            help="Comma-separated API or engine model ids this worker hosts (default all)."
        ),
    ] = None,
    data_dir: DataDir = None,
    config: ConfigPath = None,
    public_url: Annotated[
        str | None, typer.Option(help="The API's public base URL (for media URLs).")
    ] = None,
    workers: Annotated[int | None, typer.Option(help="Worker threads.")] = None,
    database_url: DatabaseUrl = None,
    preload: Preload = None,
    gpu_memory_budget: MemoryBudget = None,
    max_batch: MaxBatch = None,
    batch_wait_ms: BatchWait = None,
) -> None:
    """Run workers (and webhook delivery) without HTTP, sharing the job store with API nodes."""
    from fluxserve.server import Service, run_worker_node
    from fluxserve.worker.pool import expand_model_ids

    settings = _settings(
        data_dir=data_dir,
        config_path=config,
        public_url_override=public_url,
        workers=workers,
        database_url_override=database_url,
    )
    settings = _with_engine_options(settings, preload, gpu_memory_budget, max_batch, batch_wait_ms)
    try:
        model_ids = expand_model_ids(models.split(",")) if models else None
    except ValueError as exc:
        raise _fail(str(exc)) from None
    _logging()
    service = Service.build(settings)
    try:
        run_worker_node(service, model_ids)
    finally:
        service.close()


def _stores(data_dir: Path | None, config: Path | None = None) -> Any:
    from fluxserve.billing.keys import KeyStore
    from fluxserve.db.database import Database

    settings = _settings(data_dir=data_dir, config_path=config)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    return KeyStore(Database.open(settings.database_url))


def _usd(value: str) -> int:
    from fluxserve.money import usd_to_micros

    try:
        micros = usd_to_micros(value)
    except ValueError as exc:
        raise _fail(str(exc)) from None
    if micros < 0:
        raise _fail("amount must not be negative")
    return micros


@keys_app.command("create")
def keys_create(
    name: Annotated[str, typer.Option(help="A label for the key.")] = "",
    credit: Annotated[str, typer.Option(help="Starting wallet credit in USD.")] = "0",
    operator: Annotated[bool, typer.Option(help="Operator key: may read every request.")] = False,
    data_dir: DataDir = None,
) -> None:
    """Create an API key; the key itself is the last line printed (it is shown only once)."""
    keys = _stores(data_dir)
    record, plain = keys.create(name=name, credit_micros=_usd(credit), is_operator=operator)
    typer.echo(f"created key {record.id} ({record.name or 'unnamed'}), credit ${Decimal(credit)}")
    typer.echo(plain)


@keys_app.command("disable")
def keys_disable(key: str, data_dir: DataDir = None) -> None:
    """Disable a key (by the key itself or its id); its requests then get 403."""
    from fluxserve.errors import FluxServeError

    try:
        record = _stores(data_dir).disable(key)
    except FluxServeError as exc:
        raise _fail(exc.message) from None
    typer.echo(f"disabled key {record.id}")


@wallet_app.command("topup")
def wallet_topup(key: str, usd: str, data_dir: DataDir = None) -> None:
    """Add USD to a key's wallet."""
    from fluxserve.errors import FluxServeError
    from fluxserve.money import micros_to_usd

    micros = _usd(usd)
    if micros == 0:
        raise _fail("amount must be greater than zero")
    try:
        wallet = _stores(data_dir).topup(key, micros)
    except FluxServeError as exc:
        raise _fail(exc.message) from None
    balance, held = micros_to_usd(wallet.balance_micros), micros_to_usd(wallet.held_micros)
    typer.echo(f"balance ${balance} (held ${held})")


@wallet_app.command("show")
def wallet_show(
    key: str,
    data_dir: DataDir = None,
    entries: Annotated[int, typer.Option(help="Ledger entries to list.")] = 10,
) -> None:
    """Show a wallet's balance, held funds and latest ledger entries."""
    from fluxserve.errors import FluxServeError
    from fluxserve.money import micros_to_usd

    keys = _stores(data_dir)
    try:
        wallet = keys.wallet(key)
        ledger = keys.ledger(key, limit=entries)
    except FluxServeError as exc:
        raise _fail(exc.message) from None
    typer.echo(f"key {wallet.key_id}")
    typer.echo(f"balance ${micros_to_usd(wallet.balance_micros)}")
    typer.echo(f"held    ${micros_to_usd(wallet.held_micros)}")
    table = Table("when", "kind", "amount", "request")
    for entry in ledger:
        table.add_row(
            entry.created_at.isoformat(timespec="seconds"),
            entry.kind,
            f"${micros_to_usd(entry.amount_micros)}",
            entry.request_id or "",
        )
    Console().print(table)


@models_app.callback()
def models(ctx: typer.Context, data_dir: DataDir = None, config: ConfigPath = None) -> None:
    """List the catalog: model id, route, pipeline, weights (or "demo"), price."""
    if ctx.invoked_subcommand is not None:
        return
    from fluxserve.cli.catalog_table import print_catalog

    print_catalog(_settings(data_dir=data_dir, config_path=config))


@models_app.command("pull")
def models_pull(
    model: Annotated[
        list[str] | None, typer.Option("--model", help="Engine model id (repeatable).")
    ] = None,
    data_dir: DataDir = None,
    config: ConfigPath = None,
) -> None:
    """Download the hub weights that the configuration names (needs network access)."""
    from fluxserve.engine.pull import pull_weights

    results = pull_weights(_settings(data_dir=data_dir, config_path=config), model)
    if not results:
        typer.echo("no model is configured with hub weights: nothing to pull")
        return
    for result in results:
        mark = "ok  " if result.ok else "FAIL"
        typer.echo(f"{mark} {result.engine_model} ({result.location}): {result.message}")
    if not all(r.ok for r in results):
        raise typer.Exit(code=1)


def main() -> None:
    app()
