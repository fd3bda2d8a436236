"""SafetyPolicy and the tolerance scales of the hosted API reference."""

from __future__ import annotations

import math

import pytest

from fluxserve.errors import InvalidRequest
from fluxserve.safety.policy import (
    DEFAULT_STRICTNESS,
    FLUX2_PRO_IMAGE_TO_IMAGE_SCALE,
    FLUX2_PRO_TEXT_TO_IMAGE_SCALE,
    FLUX_PRO_ULTRA_SCALE,
    KONTEXT_RESTORE_SCALE,
    SafetyPolicy,
    ToleranceScale,
)


@pytest.mark.parametrize(
    ("value", "scale_min", "scale_max", "expected"),
    [
        ("1", 1, 3, 1.0),
        ("2", 1, 3, 0.5),
        ("3", 1, 3, 0.0),
        (1, 1, 4, 1.0),
        (2, 1, 4, 2 / 3),
        (3, 1, 4, 1 / 3),
        (4, 1, 4, 0.0),
        ("1", 1, 6, 1.0),
        ("2", 1, 6, 0.8),
        ("5", 1, 6, 0.2),
        ("6", 1, 6, 0.0),
        (0, 0, 2, 1.0),
        (1, 0, 2, 0.5),
        (2, 0, 2, 0.0),
    ],
)
def test_documented_mapping_table(
    value: int | str, scale_min: int, scale_max: int, expected: float
) -> None:
    policy = SafetyPolicy.from_tolerance(value, scale_min, scale_max)
    assert policy.enabled is True
    assert math.isclose(policy.strictness, expected)


def test_high_strict_end_reverses_the_scale() -> None:
    assert SafetyPolicy.from_tolerance(3, 1, 3, "high").strictness == 1.0
    assert SafetyPolicy.from_tolerance(1, 1, 3, "high").strictness == 0.0


def test_string_with_spaces_and_disabled_flag() -> None:
    policy = SafetyPolicy.from_tolerance(" 3 ", 1, 3, enabled=False)
    assert policy == SafetyPolicy(enabled=False, strictness=0.0)


@pytest.mark.parametrize("value", ["abc", "2.5", "", "0", "4", 0, 4, True, False])
def test_values_off_the_scale_are_the_callers_fault(value: int | str) -> None:
    with pytest.raises(InvalidRequest) as caught:
        SafetyPolicy.from_tolerance(value, 1, 3)
    assert caught.value.message == "safety_tolerance must be an integer in [1, 3]"
    assert caught.value.code == "invalid_request"


def test_kontext_error_matches_the_spec_wording() -> None:
    with pytest.raises(InvalidRequest, match=r"^safety_tolerance must be an integer in \[0, 2\]$"):
        KONTEXT_RESTORE_SCALE.policy(3)


def test_scale_defaults_apply_when_the_request_omits_tolerance() -> None:
    assert KONTEXT_RESTORE_SCALE.policy(None).strictness == 0.0
    assert FLUX2_PRO_IMAGE_TO_IMAGE_SCALE.policy(None).strictness == 0.5
    assert math.isclose(FLUX2_PRO_TEXT_TO_IMAGE_SCALE.policy(None).strictness, 2 / 3)
    assert math.isclose(FLUX_PRO_ULTRA_SCALE.policy(None).strictness, 0.8)
    assert FLUX_PRO_ULTRA_SCALE.policy("6", enabled=False) == SafetyPolicy(False, 0.0)


def test_default_policy_for_endpoints_without_tolerance() -> None:
    assert SafetyPolicy.default() == SafetyPolicy(True, DEFAULT_STRICTNESS)
    # fill-dev sends disable_safety_checker; the caller negates it.
    assert SafetyPolicy.default(enabled=False).enabled is False


@pytest.mark.parametrize("strictness", [-0.01, 1.01, math.nan, math.inf])
def test_strictness_outside_unit_range_is_refused(strictness: float) -> None:
    with pytest.raises(ValueError, match="strictness"):
        SafetyPolicy(enabled=True, strictness=strictness)


def test_empty_scale_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="empty tolerance scale"):
        SafetyPolicy.from_tolerance(1, 2, 2)
    with pytest.raises(ValueError):
        ToleranceScale(minimum=3, maximum=1, default=2).policy(None)
