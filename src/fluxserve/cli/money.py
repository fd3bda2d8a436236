"""`fluxserve keys ...` and `fluxserve wallet ...`: what operators do with keys and credit."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from fluxserve.cli.common import ConfigPath, DatabaseUrl, DataDir, fail, load
from fluxserve.errors import FluxServeError
from fluxserve.money import micros_to_usd, usd_to_micros

if TYPE_CHECKING:
    from fluxserve.billing.keys import KeyStore
    from fluxserve.billing.ledger import LedgerEntry


def _keys(data_dir: Path | None, config: Path | None, database_url: str | None) -> KeyStore:
    from fluxserve.billing.keys import KeyStore
    from fluxserve.db.database import Database

    settings = load(data_dir=data_dir, config_path=config, database_url_override=database_url)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    return KeyStore(Database.open(settings.database_url))


PRIORITY_HELP = (
    "Scheduling priority of the key's jobs: each point is worth `scheduling.aging_s` seconds "
    "of queue time (docs/scheduling.md). Negative lowers it."
)


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
    priority: Annotated[int, typer.Option(help=PRIORITY_HELP)] = 0,
    data_dir: DataDir = None,
    config: ConfigPath = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Create an API key and its webhook signing secret; the key itself is the last line
    printed (both are shown only once)."""
    keys = _keys(data_dir, config, database_url)
    try:
        record, plain = keys.create(
            name=name, credit_micros=_usd(credit), is_operator=operator, priority=priority
        )
    except FluxServeError as exc:
        raise fail(exc.message) from None
    typer.echo(f"created key {record.id} ({record.name or 'unnamed'}), credit ${Decimal(credit)}")
    typer.echo(f"webhook signing secret: {keys.webhook_secret(record.id)}")
    typer.echo(plain)


def keys_priority(
    key: str,
    priority: Annotated[int, typer.Option(help=PRIORITY_HELP)],
    data_dir: DataDir = None,
    config: ConfigPath = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Change a key's scheduling priority (by the key itself or its id); it applies to the jobs
    it submits from then on."""
    try:
        record = _keys(data_dir, config, database_url).set_priority(key, priority)
    except FluxServeError as exc:
        raise fail(exc.message) from None
    typer.echo(f"key {record.id} priority {record.priority}")


def keys_rotate_webhook_secret(
    key: str, data_dir: DataDir = None, config: ConfigPath = None, database_url: DatabaseUrl = None
) -> None:
    """Give a key (the key itself or its id) a new webhook signing secret, printed once;
    deliveries are signed with it from now on, and the old one stops working."""
    try:
        secret = _keys(data_dir, config, database_url).rotate_webhook_secret(key)
    except FluxServeError as exc:
        raise fail(exc.message) from None
    typer.echo(secret)


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
    # Plain lines, not a table sized to the terminal: a narrow one must never cut an amount.
    typer.echo("when  kind  amount  held-change  balance-after  held-after  request")
    for entry in ledger:
        typer.echo(ledger_line(entry))


def ledger_line(entry: LedgerEntry) -> str:
    """One ledger entry with every amount in full (a hold's own amount is $0.00: it only moves
    money into held, which the held change shows)."""
    change = entry.held_change_micros
    fields = (
        entry.created_at.isoformat(timespec="seconds"),
        entry.kind,
        _dollars(entry.amount_micros),
        "?" if change is None else _dollars(change, plus=True),
        _dollars(entry.balance_after_micros),
        _dollars(entry.held_after_micros),
        entry.request_id or "-",
    )
    return "  ".join(fields)


def _dollars(micros: int, *, plus: bool = False) -> str:
    """-$0.025, $0.025 (or +$0.025 with `plus`): exact, never rounded to cents."""
    sign = "-" if micros < 0 else ("+" if plus and micros > 0 else "")
    return f"{sign}${micros_to_usd(abs(micros))}"
