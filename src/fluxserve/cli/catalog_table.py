"""`fluxserve models`: the registry as a table (or as the markdown of docs/models.md), with the
weights each model would load under the given settings."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from rich.console import Console
from rich.table import Table

from fluxserve.catalog import API_MODELS, ENGINE_MODELS, ApiModel, Endpoint
from fluxserve.money import micros_to_usd
from fluxserve.settings import Settings

COLUMNS = ("model id", "route", "mode", "pipeline", "weights", "licence", "price")


def weights_label(settings: Settings, engine_model: str) -> str:
    config = settings.model(engine_model)
    if not config.enabled:
        return "disabled"
    return config.weights or "demo (tiny random weights: images are noise)"


def price_label(settings: Settings, model_id: str) -> str:
    model = API_MODELS[model_id]
    override = settings.endpoint(model_id).price_usd
    if override is not None:
        return f"${override}"
    if model.size_prices:
        return ", ".join(
            f"≤{t.max_pixels / 1e6:.2f}MP ${micros_to_usd(t.micros)}" for t in model.size_prices
        )
    return f"${micros_to_usd(model.price_micros)}"


def _rows(settings: Settings) -> Iterator[tuple[str, ...]]:
    for model in API_MODELS.values():
        engine = ENGINE_MODELS[model.engine_model]
        enabled = settings.endpoint(model.id).enabled
        for route in model.endpoints:
            yield (
                model.id if enabled else f"{model.id} (disabled)",
                f"POST {route.path}",
                route.mode,
                engine.pipeline,
                weights_label(settings, engine.id),
                engine.license,
                price_label(settings, model.id),
            )


def print_catalog(settings: Settings) -> None:
    table = Table(*COLUMNS)
    for row in _rows(settings):
        table.add_row(*row)
    Console(width=250).print(table)


def _defaults_label(model: ApiModel) -> str:
    d = model.defaults
    parts = [] if d.steps is None else [f"{d.steps} steps (max {d.max_steps})"]
    if d.guidance is not None:
        parts.append(f"guidance {d.guidance:g}")
    if d.sides:
        parts.append("sides " + "/".join(str(side) for side in d.sides))
    return ", ".join(parts) or "—"


def _endpoint_line(model: ApiModel, route: Endpoint, price: str) -> str:
    engine = ENGINE_MODELS[model.engine_model]
    return (
        f"| {model.id} | `POST {route.path}` | {route.mode} | {engine.pipeline} "
        f"({engine.hub_id}) | {_defaults_label(model)} | {price} |"
    )


def catalog_markdown() -> str:
    """docs/models.md: the registry with built-in defaults (a test keeps the file in step)."""
    lines = [
        "# Models and routes",
        "",
        "Generated from `src/fluxserve/catalog.py` by `fluxserve models --markdown`; "
        "a test fails when this file and the registry differ.",
        "",
        "| model id | route | mode | pipeline (weights) | defaults | price |",
        "|---|---|---|---|---|---|",
    ]
    built_in = Settings(data_dir=Path("."))
    for model in API_MODELS.values():
        price = price_label(built_in, model.id)
        lines += [_endpoint_line(model, route, price) for route in model.endpoints]
    return "\n".join(lines) + "\n"
