"""`fluxserve models` (the catalog) and `fluxserve models pull` (hub weights ahead of time)."""

from __future__ import annotations

from typing import Annotated

import typer

from fluxserve.cli.common import ConfigPath, DataDir, load


def models(
    ctx: typer.Context,
    data_dir: DataDir = None,
    config: ConfigPath = None,
    markdown: Annotated[
        bool, typer.Option("--markdown", help="Print docs/models.md (built-in defaults).")
    ] = False,
) -> None:
    """List the catalog: model id, route, pipeline, weights (or "demo"), licence, price."""
    if ctx.invoked_subcommand is not None:
        return
    from fluxserve.cli.catalog_table import catalog_markdown, print_catalog

    if markdown:
        typer.echo(catalog_markdown(), nl=False)
        return
    print_catalog(load(data_dir=data_dir, config_path=config))


def models_pull(
    model: Annotated[
        list[str] | None, typer.Option("--model", help="Engine model id (repeatable).")
    ] = None,
    data_dir: DataDir = None,
    config: ConfigPath = None,
) -> None:
    """Download the hub weights that the configuration names (needs network access)."""
    from fluxserve.engine.loading.pull import pull_weights

    results = pull_weights(load(data_dir=data_dir, config_path=config), model)
    if not results:
        typer.echo("no model is configured with hub weights: nothing to pull")
        return
    for result in results:
        mark = "ok  " if result.ok else "FAIL"
        typer.echo(f"{mark} {result.engine_model} ({result.location}): {result.message}")
    if not all(r.ok for r in results):
        raise typer.Exit(code=1)
