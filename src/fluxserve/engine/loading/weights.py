"""Where each engine model's weights come from: a local diffusers folder, a hub id, or the
built-in demo weights. Torch-free, so the worker can report weights without loading torch.

Rules, in order:
- `models.<id>.enabled = false` disables the model.
- `models.<id>.weights` unset: demo weights (tiny random pipeline built locally).
- `random:full` / `random:tiny`: the real architecture (or a tiny one of the same classes) with
  random weights, built in memory on the model's device: speed and memory checks without a
  download (see `random_models.py`).
- A value that exists on disk, or that is written as a path (absolute, `./`, `../`, `~`), is a
  local folder; a missing folder or one without `model_index.json` disables the model. There is
  never a silent fallback to demo weights.
- Anything else of the form `owner/name` is a hub id, loaded with `revision`."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from fluxserve.settings import Settings

WeightsKind = Literal["demo", "random", "local", "hub"]

DEMO = "demo"
RANDOM_PREFIX = "random:"
RANDOM_SCALES = ("full", "tiny")
_HUB_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*/[A-Za-z0-9][A-Za-z0-9._-]*$")


@dataclass(frozen=True)
class WeightsSource:
    """Resolved weights of one engine model. `disabled_reason` set means: do not load."""

    engine_model: str
    kind: WeightsKind
    location: str  # folder path, hub id, or "demo"
    revision: str | None = None
    disabled_reason: str | None = None

    @property
    def demo(self) -> bool:
        """Whether images are noise (tiny demo or random weights)."""
        return self.kind in ("demo", "random")

    @property
    def random_scale(self) -> str:
        """`full` or `tiny`, for random weights."""
        return self.location.removeprefix(RANDOM_PREFIX)


def _looks_like_path(value: str) -> bool:
    return value.startswith(("/", "./", "../", "~")) or Path(value).is_absolute()


def resolve_weights(settings: Settings, engine_model: str) -> WeightsSource:
    """Decide where `engine_model` loads from, or why it cannot load at all."""
    config = settings.model(engine_model)
    if config.weights is None:
        source = WeightsSource(engine_model, "demo", DEMO)
    else:
        source = _configured_source(engine_model, config.weights, config.revision)
    if not config.enabled:
        return _disabled(source, "disabled in configuration")
    return source


def _configured_source(engine_model: str, weights: str, revision: str | None) -> WeightsSource:
    if weights.startswith(RANDOM_PREFIX):
        source = WeightsSource(engine_model, "random", weights)
        if source.random_scale not in RANDOM_SCALES:
            return _disabled(source, f"random weights are {' or '.join(RANDOM_SCALES)}")
        return source
    folder = Path(weights).expanduser()
    if folder.exists() or _looks_like_path(weights) or not _HUB_ID.match(weights):
        source = WeightsSource(engine_model, "local", str(folder), revision)
        if not folder.is_dir():
            return _disabled(source, f"weights folder {folder} does not exist")
        if not (folder / "model_index.json").is_file():
            return _disabled(source, f"{folder} is not a diffusers folder (no model_index.json)")
        return source
    return WeightsSource(engine_model, "hub", weights, revision)


def _disabled(source: WeightsSource, reason: str) -> WeightsSource:
    return WeightsSource(
        source.engine_model, source.kind, source.location, source.revision, disabled_reason=reason
    )
