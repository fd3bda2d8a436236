"""`fluxserve keys ...` and `fluxserve wallet ...`: what operators do with keys and credit."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.table import Table

from fluxserve.cli.common import ConfigPath, DatabaseUrl, DataDir, fail, load
from fluxserve.errors import FluxServeError
from fluxserve.money import micros_to_usd, usd_to_micros

if TYPE_CHECKING:
    from fluxserve.billing.keys import KeyStore


def _keys(data_dir: Path | None, config: Path | None, database_url: str | None) -> KeyStore:
    from fluxserve.billing.keys import KeyStore
    from fluxserve.db.database import Database

    settings = load(data_dir=data_dir, config_path=config, database_url_override=database_url)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    return KeyStore(Database.open(settings.database_url))


def _usd(value: str) -> int:
    try:
        micros = usd_to_micros(value)
    except ValueError as exc:
        raise fail(str(exc)) from None
    if micros < 0:
        raise fail("amount must not be negative")
    return micros


def keys_create(
    name: Annotated[str, typer.Option(help="A label for the key.")] = "",
    credit: Annotated[str, typer.Option(help="Starting wallet credit in USD.")] = "0",
    operator: Annotated[bool, typer.Option(help="Operator key: may read every request.")] = False,
    data_dir: DataDir = None,
    config: ConfigPath = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Create an API key; the key itself is the last line printed (it is shown only once)."""
    keys = _keys(data_dir, config, database_url)
    record, plain = keys.create(name=name, credit_micros=_usd(credit), is_operator=operator)
    typer.echo(f"created key {record.id} ({record.name or 'unnamed'}), credit ${Decimal(credit)}")
    typer.echo(plain)


def keys_disable(
    key: str, data_dir: DataDir = None, config: ConfigPath = None, database_url: DatabaseUrl = None
) -> None:
    """Disable a key (by the key itself or its id); its requests then get 403."""
    try:
        record = _keys(data_dir, config, database_url).disable(key)
    except FluxServeError as exc:
        raise fail(exc.message) from None
    typer.echo(f"disabled key {record.id}")


def wallet_topup(
    key: str,
    usd: str,
    data_dir: DataDir = None,
    config: ConfigPath = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Add USD to a key's wallet."""
    micros = _usd(usd)
    if micros == 0:
        raise fail("amount must be greater than zero")
    try:
        wallet = _keys(data_dir, config, database_url).topup(key, micros)
    except FluxServeError as exc:
        raise fail(exc.message) from None
    balance, held = micros_to_usd(wallet.balance_micros), micros_to_usd(wallet.held_micros)
    typer.echo(f"balance ${balance} (held ${held})")


def wallet_show(
    key: str,
    data_dir: DataDir = None,
    entries: Annotated[int, typer.Option(help="Ledger entries to list.")] = 10,
    config: ConfigPath = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Show a wallet's balance, held funds and latest ledger entries."""
    keys = _keys(data_dir, config, database_url)
    try:
        wallet = keys.wallet(key)
        ledger = keys.ledger(key, limit=entries)
    except FluxServeError as exc:
        raise fail(exc.message) from None
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
