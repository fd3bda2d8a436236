"""One normalised safety policy for every endpoint, whatever tolerance scale the endpoint speaks.

`SafetyPolicy.strictness` runs from 0.0 (most permissive the endpoint allows) to 1.0 (strictest).
Each endpoint's `safety_tolerance` maps onto it linearly, the strict end of its scale to 1.0:

    strictness = (scale_max - value) / (scale_max - scale_min)   when the low end is strict
    strictness = (value - scale_min) / (scale_max - scale_min)   when the high end is strict

Every scale in the hosted API reference is strict at its low end:

    endpoint (scale)                              value -> strictness
    flux-2-pro image-to-image ("1".."3")          1 -> 1.0    2 -> 0.5    3 -> 0.0
    flux-2-pro text-to-image (1..4)               1 -> 1.0    2 -> 0.667  3 -> 0.333  4 -> 0.0
    flux-pro-1-1 ultra ("1".."6")                 1 -> 1.0    2 -> 0.8    3 -> 0.6
                                                  4 -> 0.4    5 -> 0.2    6 -> 0.0
    flux-kontext-restore-image (0..2, dflt 2)     0 -> 1.0    1 -> 0.5    2 -> 0.0
    OpenAI `moderation` ("auto" 1, "low" 2)       1 -> 0.5    2 -> 0.0
    endpoints without a tolerance                 DEFAULT_STRICTNESS (0.5)

`enabled` comes from `enable_safety_checker` (or the negation of fill-dev's
`disable_safety_checker`). A disabled policy still blocks sexual content involving minors: see
`fluxserve.safety.prompt_check`.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Literal

from fluxserve.errors import InvalidRequest

StrictEnd = Literal["low", "high"]

DEFAULT_STRICTNESS = 0.5

_INTEGER = re.compile(r"[+-]?\d+")


@dataclass(frozen=True, slots=True)
class SafetyPolicy:
    """How hard to filter one request: `enabled` switches the optional checks, `strictness`
    (0.0 permissive .. 1.0 strict) sets how much they block."""

    enabled: bool
    strictness: float

    def __post_init__(self) -> None:
        if not (math.isfinite(self.strictness) and 0.0 <= self.strictness <= 1.0):
            raise ValueError(f"strictness must be in [0, 1], got {self.strictness!r}")

    @classmethod
    def default(cls, *, enabled: bool = True) -> SafetyPolicy:
        """The policy for endpoints whose request has no tolerance parameter."""
        return cls(enabled=enabled, strictness=DEFAULT_STRICTNESS)

    @classmethod
    def from_tolerance(
        cls,
        value: int | str,
        scale_min: int,
        scale_max: int,
        strict_end: StrictEnd = "low",
        *,
        enabled: bool = True,
    ) -> SafetyPolicy:
        """Map an endpoint's `safety_tolerance` (an int, or a string holding one) onto a policy.

        Raises `InvalidRequest` when the value is not an integer inside the scale."""
        if scale_min >= scale_max:
            raise ValueError(f"empty tolerance scale [{scale_min}, {scale_max}]")
        level = _parse_level(value, scale_min, scale_max)
        span = scale_max - scale_min
        steps_from_strict = level - scale_min if strict_end == "low" else scale_max - level
        return cls(enabled=enabled, strictness=1.0 - steps_from_strict / span)


@dataclass(frozen=True, slots=True)
class ToleranceScale:
    """One endpoint's `safety_tolerance` scale, with the value used when the request omits it."""

    minimum: int
    maximum: int
    default: int
    strict_end: StrictEnd = "low"

    def policy(self, value: int | str | None, *, enabled: bool = True) -> SafetyPolicy:
        """The policy for a request's tolerance value (None: the scale's default)."""
        chosen = self.default if value is None else value
        return SafetyPolicy.from_tolerance(
            chosen, self.minimum, self.maximum, self.strict_end, enabled=enabled
        )


FLUX2_PRO_IMAGE_TO_IMAGE_SCALE = ToleranceScale(minimum=1, maximum=3, default=2)
FLUX2_PRO_TEXT_TO_IMAGE_SCALE = ToleranceScale(minimum=1, maximum=4, default=2)
FLUX_PRO_ULTRA_SCALE = ToleranceScale(minimum=1, maximum=6, default=2)
KONTEXT_RESTORE_SCALE = ToleranceScale(minimum=0, maximum=2, default=2)
# The OpenAI Images API's `moderation`: "auto" is our default line, "low" the permissive end.
OPENAI_MODERATION_SCALE = ToleranceScale(minimum=0, maximum=2, default=1)
OPENAI_MODERATION_LEVELS = {"auto": 1, "low": 2}


def _parse_level(value: int | str, scale_min: int, scale_max: int) -> int:
    # bool is an int subclass; `true` is never a tolerance level.
    level: int | None = None
    if isinstance(value, int) and not isinstance(value, bool):
        level = value
    elif isinstance(value, str) and _INTEGER.fullmatch(value.strip()):
        level = int(value.strip())
    if level is None or not scale_min <= level <= scale_max:
        raise InvalidRequest(f"safety_tolerance must be an integer in [{scale_min}, {scale_max}]")
    return level
