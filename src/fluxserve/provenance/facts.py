"""What one output's manifest states, as plain data gathered by the worker."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

DEMO_WEIGHTS_LABEL = "demo (tiny random weights; images are noise)"


@dataclass(frozen=True)
class OutputFacts:
    """The facts of one output image. `prompt` is always passed; the signer drops it unless
    the operator turned `provenance.include_prompt` on."""

    request_id: str
    model_id: str
    engine_model: str
    operation: str
    lora_count: int
    prompt: str
    index: int = 0
    # The input image the model worked from (stored PNG), listed as the parent ingredient.
    parent_png: bytes | None = None


def weights_label(kind: str, location: str, revision: str | None) -> str:
    """The weights as a manifest may name them: a hub id (with revision), a local folder's
    name, or the demo marker. Never a local path: that would leak the operator's layout."""
    if kind == "demo":
        return DEMO_WEIGHTS_LABEL
    name = Path(location).name if kind == "local" else location
    suffix = f"@{revision}" if revision else ""
    return f"{name}{suffix}" + (" (local folder)" if kind == "local" else "")
