"""LoRA training parameters: defaults, bounds and their validation, in one torch-free place.

The HTTP layer validates requests with these, and the engine trains with the same numbers."""

from __future__ import annotations

import math
from dataclasses import dataclass

from fluxserve.errors import InvalidRequest


@dataclass(frozen=True)
class TrainingParams:
    """The caller-tunable knobs of one LoRA training (rank is fixed by the service)."""

    steps: int
    learning_rate: float
    rank: int


TRAINING_DEFAULTS = TrainingParams(steps=1000, learning_rate=1e-4, rank=16)
STEPS_MIN = 1
STEPS_MAX = 10_000
LEARNING_RATE_MIN = 1e-6
LEARNING_RATE_MAX = 1e-2


def validate_training_params(steps: object = None, learning_rate: object = None) -> TrainingParams:
    """Check `steps` and `learning_rate` (None means "use the default") and return the full set.

    Raises InvalidRequest naming the field and its allowed range."""
    return TrainingParams(
        steps=_valid_steps(steps),
        learning_rate=_valid_learning_rate(learning_rate),
        rank=TRAINING_DEFAULTS.rank,
    )


def _valid_steps(steps: object) -> int:
    if steps is None:
        return TRAINING_DEFAULTS.steps
    # bool is an int subclass; `true` steps is a client bug, not 1 step.
    if isinstance(steps, bool) or not isinstance(steps, int):
        raise InvalidRequest(
            f"steps must be a whole number between {STEPS_MIN} and {STEPS_MAX}, got {steps!r}"
        )
    if not STEPS_MIN <= steps <= STEPS_MAX:
        raise InvalidRequest(f"steps must be between {STEPS_MIN} and {STEPS_MAX}, got {steps}")
    return steps


def _valid_learning_rate(learning_rate: object) -> float:
    if learning_rate is None:
        return TRAINING_DEFAULTS.learning_rate
    if isinstance(learning_rate, bool) or not isinstance(learning_rate, int | float):
        raise InvalidRequest(
            f"learning_rate must be a number between {LEARNING_RATE_MIN:g} and "
            f"{LEARNING_RATE_MAX:g}, got {learning_rate!r}"
        )
    value = float(learning_rate)
    if not math.isfinite(value) or not LEARNING_RATE_MIN <= value <= LEARNING_RATE_MAX:
        raise InvalidRequest(
            f"learning_rate must be between {LEARNING_RATE_MIN:g} and {LEARNING_RATE_MAX:g}, "
            f"got {learning_rate!r}"
        )
    return value
