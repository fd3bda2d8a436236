"""What every command shares: the common options, settings loading, clean failures."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from fluxserve.settings import Settings, load_settings

DataDir = Annotated[
    Path | None,
    typer.Option(
        "--data-dir", help="Data folder (default ./fluxserve-data, or FLUXSERVE_DATA_DIR)."
    ),
]
ConfigPath = Annotated[
    Path | None, typer.Option("--config", help="TOML config file (or FLUXSERVE_CONFIG).")
]
DatabaseUrl = Annotated[
    str | None,
    typer.Option(
        "--database-url",
        help="SQLAlchemy URL of the job store (default: SQLite in the data folder).",
    ),
]


def load(**overrides: Any) -> Settings:
    """Settings from defaults, the config file, FLUXSERVE_* variables and these flags."""
    return load_settings(overrides, environ=os.environ)


def fail(message: str) -> typer.Exit:
    Console(stderr=True).print(f"[red]error:[/red] {message}")
    return typer.Exit(code=1)


def setup_logging() -> None:
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
