"""What each operation passes to its pipeline, and what it refuses before calling it."""

from __future__ import annotations

from typing import Any

import pytest

from fluxserve.engine.inference.operations import img2img_steps, plan_call, validate_task
from fluxserve.errors import InvalidRequest
from tests.engine.fixtures_local_engine import input_png, make_task, mask_png


def _skipped(steps: int, strength: float) -> int:
    # diffusers' get_timesteps: the steps at the start of the schedule that img2img skips.
    return int(max(steps - min(steps * strength, steps), 0))


@pytest.mark.parametrize(
    ("steps", "strength"), [(4, 0.8), (2, 0.9), (28, 0.95), (4, 0.05), (1, 0.5), (50, 0.3)]
)
def test_img2img_steps_always_keep_the_input_image(steps: int, strength: float) -> None:
    planned = img2img_steps(steps, strength)
    assert planned >= steps
    assert _skipped(planned, strength) >= 1  # does not start from pure noise
    assert planned - _skipped(planned, strength) >= 1  # and denoises at least once


@pytest.mark.parametrize(("given", "used"), [(1.5, 1.0), (0.0, 0.01), (None, 0.95), (0.3, 0.3)])
def test_img2img_strength_is_clamped(given: float | None, used: float) -> None:
    task = make_task(operation="image_to_image", image=input_png(), strength=given)
    assert plan_call(task, count=1).kwargs["strength"] == used


def test_img2img_steps_unchanged_when_already_fine() -> None:
    assert img2img_steps(28, 0.6) == 28


def test_kontext_gets_the_exact_output_area() -> None:
    task = make_task(
        "flux1-kontext-dev", operation="restore", image=input_png(80, 80), width=128, height=64
    )
    plan = plan_call(task, count=1)
    assert plan.pipeline_class == "FluxKontextPipeline"
    assert plan.kwargs["max_area"] == 128 * 64
    assert plan.kwargs["_auto_resize"] is False
    assert plan.kwargs["image"].size == (128, 64)


def test_fill_passes_one_image_and_mask_per_output() -> None:
    task = make_task(
        "flux1-fill-dev", operation="fill", image=input_png(32, 32), mask=mask_png(32, 32)
    )
    kwargs = plan_call(task, count=3).kwargs
    assert [image.size for image in kwargs["image"]] == [(64, 64)] * 3
    assert [mask.mode for mask in kwargs["mask_image"]] == ["L"] * 3


def test_reference_images_per_flux2_pipeline() -> None:
    dev = plan_call(make_task("flux2-dev", operation="edit", image=input_png()), count=2)
    klein = plan_call(make_task("flux2-klein-4b", operation="edit", image=input_png()), count=2)
    assert isinstance(dev.kwargs["image"], list) and len(dev.kwargs["image"]) == 1
    assert not isinstance(klein.kwargs["image"], list)


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"width": 72}, "multiples of 16"),
        ({"steps": 0}, "steps"),
        ({"seeds": ()}, "seed"),
        ({"operation": "edit"}, "needs an input image"),
        ({"operation": "fill", "image": b"x"}, "needs a mask"),
    ],
)
def test_invalid_tasks_are_refused(fields: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidRequest, match=message):
        validate_task(make_task(**fields), multiple=16)


def test_unsupported_operation_is_refused() -> None:
    with pytest.raises(InvalidRequest, match="does not support fill"):
        plan_call(make_task("flux1-schnell", operation="fill"), count=1)


def test_undecodable_input_is_refused() -> None:
    task = make_task("flux2-klein-4b", operation="edit", image=b"not an image")
    with pytest.raises(InvalidRequest, match="could not be decoded"):
        plan_call(task, count=1)
