"""Field rules shared by several endpoints: seeds, counts, safety tolerance, formats."""

from __future__ import annotations

import random
from typing import Annotated, Any

from pydantic import BeforeValidator, Field

from fluxserve.catalog import MAX_OUTPUT_PIXELS, MAX_STEPS
from fluxserve.errors import InvalidRequest
from fluxserve.jobs.spec import SafetySpec
from fluxserve.safety.policy import ToleranceScale


def _strict_int(value: Any) -> Any:
    """Ints, or strings of digits (the spec writes some numbers as strings); never floats/bools."""
    if isinstance(value, bool):
        raise ValueError("must be an integer")
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value.strip())
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


LooseInt = Annotated[int, BeforeValidator(_strict_int)]
Seed = Annotated[int, BeforeValidator(_strict_int), Field(ge=0, le=2**63 - 1)]
Steps = Annotated[int, BeforeValidator(_strict_int), Field(ge=1, le=MAX_STEPS)]
ImageCount = Annotated[int, BeforeValidator(_strict_int), Field(ge=1, le=4)]


def seeds_for(seed: int | None, count: int) -> list[int]:
    """One seed per image: the given seed, then the next ones; random when none is given.
    The seed is fixed at accept time so that a re-run after a restart makes the same image."""
    # A seed is no secret: the process's Mersenne Twister (seeded from the OS at start)
    # costs a fraction of a system call per submit.
    base = seed if seed is not None else random.getrandbits(32)
    return [base + i for i in range(count)]


def safety_spec(scale: ToleranceScale, tolerance: int | None, *, enabled: bool) -> SafetySpec:
    """The job's safety settings from an endpoint's own tolerance scale (see safety/policy.py)."""
    policy = scale.policy(tolerance, enabled=enabled)
    return SafetySpec(enabled=policy.enabled, strictness=policy.strictness)


def check_pixels(width: int, height: int, *, limit: int = MAX_OUTPUT_PIXELS) -> None:
    if width * height > limit:
        raise InvalidRequest(
            f"requested size {width}x{height} is over the {limit / 1e6:.1f} MP limit"
        )
