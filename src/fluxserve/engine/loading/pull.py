"""`fluxserve models pull`: download the configured hub weights into the hub cache ahead of
time, so the first request does not wait on a multi-GB download. Says plainly when there is no
network instead of failing somewhere inside a pipeline load."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from fluxserve.catalog import ENGINE_MODELS
from fluxserve.engine.loading.weights import resolve_weights
from fluxserve.settings import Settings


@dataclass(frozen=True)
class PullResult:
    engine_model: str
    location: str
    ok: bool
    message: str


Downloader = Callable[[str, str | None], str]


def _snapshot(repo_id: str, revision: str | None) -> str:
    from huggingface_hub import snapshot_download

    return str(snapshot_download(repo_id=repo_id, revision=revision))


def pull_weights(
    settings: Settings, only: list[str] | None = None, download: Downloader = _snapshot
) -> list[PullResult]:
    """One result per engine model that names hub weights (demo and local folders need none)."""
    results = []
    for engine_model in only or list(ENGINE_MODELS):
        source = resolve_weights(settings, engine_model)
        if source.kind != "hub" or source.disabled_reason:
            continue
        try:
            path = download(source.location, source.revision)
        except Exception as exc:  # the hub client raises many kinds; all mean "not pulled"
            results.append(PullResult(engine_model, source.location, False, _explain(exc)))
        else:
            results.append(PullResult(engine_model, source.location, True, f"in {path}"))
    return results


def _explain(exc: Exception) -> str:
    text = f"{type(exc).__name__}: {exc}"
    network_words = ("connect", "resolve", "network", "offline", "timed out", "unreachable")
    if any(word in text.lower() for word in network_words):
        return f"no network access to the model hub ({text.splitlines()[0][:200]})"
    return text.splitlines()[0][:300]
