"""`fluxserve models`: the catalog as a table, with the weights each model would load."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from fluxserve.catalog import API_MODELS, ENGINE_MODELS
from fluxserve.money import micros_to_usd
from fluxserve.routes_table import ROUTES
from fluxserve.settings import Settings


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


def print_catalog(settings: Settings) -> None:
    table = Table("model id", "route", "pipeline", "weights", "licence", "price")
    for route in ROUTES:
        model = API_MODELS[route.model_id]
        engine = ENGINE_MODELS[model.engine_model]
        enabled = settings.endpoint(model.id).enabled
        table.add_row(
            model.id if enabled else f"{model.id} (disabled)",
            f"{route.method} {route.path}",
            engine.pipeline,
            weights_label(settings, engine.id),
            engine.license,
            price_label(settings, model.id),
        )
    Console(width=250).print(table)
