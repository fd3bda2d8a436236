"""The `fluxserve` command line: the commands, assembled from their modules."""

from __future__ import annotations

import typer

from fluxserve.cli import generate, models, money, serve, verify

app = typer.Typer(
    help="fluxserve: a self-hosted, drop-in FLUX image-generation API.", no_args_is_help=True
)
keys_app = typer.Typer(help="Create, disable and prioritise API keys.", no_args_is_help=True)
wallet_app = typer.Typer(help="Top up and inspect prepaid wallets.", no_args_is_help=True)
models_app = typer.Typer(help="The model catalog.", invoke_without_command=True)

app.command()(serve.serve)
app.command()(serve.worker)
app.command()(verify.verify)
app.command()(generate.generate)
keys_app.command("create")(money.keys_create)
keys_app.command("disable")(money.keys_disable)
keys_app.command("priority")(money.keys_priority)
keys_app.command("rotate-webhook-secret")(money.keys_rotate_webhook_secret)
wallet_app.command("topup")(money.wallet_topup)
wallet_app.command("show")(money.wallet_show)
models_app.callback()(models.models)
models_app.command("pull")(models.models_pull)
app.add_typer(keys_app, name="keys")
app.add_typer(wallet_app, name="wallet")
app.add_typer(models_app, name="models")


def main() -> None:
    app()
