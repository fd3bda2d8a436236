"""`fluxserve verify FILE_OR_URL`: what an image's content credentials say, and whether they
hold. Needs no server, settings or network beyond fetching a URL."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import httpx
import typer
from rich.console import Console

from fluxserve.cli.common import fail
from fluxserve.provenance.reader import CredentialsReport, read_credentials

UNTRUSTED = "signingCredential.untrusted"


def _load(target: str) -> tuple[bytes, str | None]:
    if target.startswith(("http://", "https://")):
        try:
            response = httpx.get(target, follow_redirects=True, timeout=60)
            response.raise_for_status()
        except httpx.HTTPError as exc:
            raise fail(f"cannot fetch {target}: {exc}") from None
        return response.content, response.headers.get("content-type")
    try:
        return Path(target).read_bytes(), None
    except OSError as exc:
        raise fail(f"cannot read {target}: {exc.strerror}") from None


def _lines(report: CredentialsReport) -> list[str]:
    if not report.present:
        return ["content credentials: none (no C2PA manifest in this image)"]
    lines = [f"validation: {report.validation_state}"]
    if report.failures:
        lines.append(f"failures: {', '.join(report.failures)}")
    if report.failures == (UNTRUSTED,):
        lines.append(
            "  (the signature and the image hash hold; the signer's certificate is not on the "
            "validator's trust list, e.g. fluxserve's self-made default)"
        )
    if not report.manifest:
        return lines  # unreadable: the failure says why
    lines += [
        f"signer: {report.signer} (issuer {report.issuer})",
        f"signed at: {report.signed_at or 'no trusted timestamp'}",
        f"claim generator: {report.claim_generator}",
    ]
    for action in report.actions:
        agent = action.get("softwareAgent") or {}
        agent_text = f"{agent.get('name', '')} {agent.get('version', '')}".strip()
        source = str(action.get("digitalSourceType", "")).rsplit("/", 1)[-1]
        lines.append(f"action: {action.get('action')} {source} {agent_text}".rstrip())
    for name, value in report.generation.items():
        lines.append(f"{name}: {value}")
    for ingredient in report.ingredients:
        lines.append(f"ingredient: {ingredient.get('title')} ({ingredient.get('relationship')})")
    return lines


def verify(
    target: Annotated[str, typer.Argument(metavar="FILE_OR_URL", help="Image file or URL.")],
    trust: Annotated[
        Path | None,
        typer.Option(help="PEM trust anchors (e.g. your CA); a chain to one reads 'Trusted'."),
    ] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the active manifest and the verdict as JSON.")
    ] = False,
) -> None:
    """Print an image's C2PA manifest summary and validation state. Exit code 0 when the
    credentials are Valid or Trusted, 1 when they are missing or invalid."""
    data, content_type = _load(target)
    anchors = trust.read_text() if trust is not None else None
    report = read_credentials(data, content_type, anchors)
    if as_json:
        verdict = {
            "present": report.present,
            "validation_state": report.validation_state,
            "failures": list(report.failures),
            "manifest": report.manifest,
        }
        print(json.dumps(verdict, indent=2))
    else:
        Console(highlight=False).print("\n".join(_lines(report)), markup=False)
    if not report.sound:
        raise typer.Exit(code=1)
