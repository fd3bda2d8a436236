"""Training parameter defaults and bounds, shared by the API and the engine."""

from __future__ import annotations

import pytest

from fluxserve.errors import InvalidRequest
from fluxserve.training_params import (
    LEARNING_RATE_MAX,
    LEARNING_RATE_MIN,
    STEPS_MAX,
    STEPS_MIN,
    TRAINING_DEFAULTS,
    TrainingParams,
    validate_training_params,
)


def test_defaults() -> None:
    assert TrainingParams(steps=1000, learning_rate=1e-4, rank=16) == TRAINING_DEFAULTS
    assert validate_training_params() == TRAINING_DEFAULTS
    assert (STEPS_MIN, STEPS_MAX) == (1, 10_000)
    assert (LEARNING_RATE_MIN, LEARNING_RATE_MAX) == (1e-6, 1e-2)


def test_bounds_are_inclusive() -> None:
    low = validate_training_params(steps=1, learning_rate=1e-6)
    assert (low.steps, low.learning_rate) == (1, 1e-6)
    high = validate_training_params(steps=10_000, learning_rate=1e-2)
    assert (high.steps, high.learning_rate, high.rank) == (10_000, 1e-2, 16)


@pytest.mark.parametrize(
    ("steps", "learning_rate", "words"),
    [
        (0, None, "steps must be between 1 and 10000, got 0"),
        (10_001, None, "steps must be between 1 and 10000"),
        (12.5, None, "steps must be a whole number"),
        (True, None, "steps must be a whole number"),
        ("100", None, "steps must be a whole number"),
        (None, 0.0, "learning_rate must be between 1e-06 and 0.01, got 0.0"),
        (None, 0.1, "learning_rate must be between"),
        (None, float("nan"), "learning_rate must be between"),
        (None, float("inf"), "learning_rate must be between"),
        (None, "0.001", "learning_rate must be a number"),
        (None, False, "learning_rate must be a number"),
    ],
)
def test_out_of_bounds_values_are_refused_by_name(
    steps: object, learning_rate: object, words: str
) -> None:
    with pytest.raises(InvalidRequest) as info:
        validate_training_params(steps=steps, learning_rate=learning_rate)
    assert words in info.value.message
