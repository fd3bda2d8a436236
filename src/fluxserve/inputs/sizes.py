"""Output sizes: preset names, "auto", explicit WxH, aspect ratios and megapixels.

Pure functions. Every size they return has both sides a multiple of 16 (what the FLUX VAE and
patching need) and between MIN_SIDE and MAX_SIDE.
"""

from __future__ import annotations

import math
import re
from decimal import Decimal, InvalidOperation

from fluxserve.errors import InvalidRequest

SIZE_MULTIPLE = 16
MIN_SIDE = 64
MAX_SIDE = 4096
DEFAULT_SIZE = (1024, 1024)

IMAGE_SIZE_PRESETS: dict[str, tuple[int, int]] = {
    # fal-style names (FLUX.1 endpoints)
    "square_hd": (1024, 1024),
    "square": (512, 512),
    "portrait_4_3": (768, 1024),
    "portrait_16_9": (576, 1024),
    "landscape_4_3": (1024, 768),
    "landscape_16_9": (1024, 576),
    # FLUX.2 names (landscape_4_3 and landscape_16_9 are shared with the list above)
    "square_1_1": (1024, 1024),
    "portrait_4_5": (832, 1040),
    "portrait_9_16": (576, 1024),
    "landscape_3_2": (1152, 768),
    "landscape_21_9": (1344, 576),
}
"""Preset name -> (width, height)."""

ULTRA_ASPECT_SIZES: dict[str, tuple[int, int]] = {
    "21:9": (3136, 1344),
    "16:9": (2752, 1536),
    "4:3": (2368, 1792),
    "3:2": (2496, 1664),
    "1:1": (2048, 2048),
    "2:3": (1664, 2496),
    "3:4": (1792, 2368),
    "9:16": (1536, 2752),
    "9:21": (1344, 3136),
}
"""FLUX1.1 [pro] ultra aspect ratio -> (width, height), about 4 megapixels each."""

MAX_MEGAPIXELS = Decimal(MAX_SIDE * MAX_SIDE) / (1024 * 1024)

_EXPLICIT_SIZE = re.compile(r"^\s*(\d{1,6})\s*[x×*]\s*(\d{1,6})\s*$", re.IGNORECASE)


def parse_image_size(
    value: str, *, what: str, input_size: tuple[int, int] | None, max_pixels: int
) -> tuple[int, int]:
    """(width, height) for an `image_size` value: a preset name, "auto", or "WxH".

    "auto" keeps the input image's size (1024x1024 when there is no input), scaled down to
    `max_pixels` keeping its aspect ratio. Explicit sides must lie in 64..4096 and are rounded
    to the nearest multiple of 16. Raises InvalidRequest listing the valid choices otherwise,
    or when a preset or explicit size has more than `max_pixels`.
    """
    name = value.strip().lower()
    if name == "auto":
        return _auto_size(input_size, max_pixels)
    size = IMAGE_SIZE_PRESETS.get(name) or _explicit_size(value, what)
    _check_pixels(size, what, max_pixels)
    return size


def ultra_aspect_size(aspect_ratio: str, *, what: str = "aspect_ratio") -> tuple[int, int]:
    """(width, height) for a FLUX1.1 [pro] ultra aspect ratio such as "16:9"."""
    size = ULTRA_ASPECT_SIZES.get(aspect_ratio.strip())
    if size is None:
        choices = ", ".join(ULTRA_ASPECT_SIZES)
        raise InvalidRequest(f"{what} must be one of: {choices}; got '{aspect_ratio}'")
    return size


def snap_to_multiple(width: int, height: int, multiple: int = SIZE_MULTIPLE) -> tuple[int, int]:
    """Each side rounded to the nearest multiple of `multiple` (halves round up), at least
    `multiple` itself."""
    return _snap(width, multiple), _snap(height, multiple)


def megapixels_size(megapixels: str, input_size: tuple[int, int]) -> tuple[int, int]:
    """(width, height) with the input's aspect ratio and an area of `megapixels` (in units of
    1024x1024 pixels, e.g. "0.25" or "1"), or the input's own size for "match_input"."""
    width, height = input_size
    if megapixels.strip().lower() == "match_input":
        return _fit(width, height, max_pixels=MAX_SIDE * MAX_SIDE)
    target = _parse_megapixels(megapixels)
    area = float(target) * 1024 * 1024
    scale = math.sqrt(area / (width * height))
    return _fit(round(width * scale), round(height * scale), max_pixels=MAX_SIDE * MAX_SIDE)


def _auto_size(input_size: tuple[int, int] | None, max_pixels: int) -> tuple[int, int]:
    width, height = input_size or DEFAULT_SIZE
    return _fit(width, height, max_pixels=max_pixels)


def _fit(width: int, height: int, *, max_pixels: int) -> tuple[int, int]:
    """Scale (width, height) down so it fits max_pixels and MAX_SIDE, keeping its aspect ratio
    as nearly as multiples of 16 allow; never below MIN_SIDE."""
    if width < 1 or height < 1:
        raise ValueError(f"size must be positive, got {width}x{height}")
    scale = min(1.0, math.sqrt(max_pixels / (width * height)), MAX_SIDE / width, MAX_SIDE / height)
    snapped = snap_to_multiple(round(width * scale), round(height * scale))
    while snapped[0] * snapped[1] > max_pixels and max(snapped) > MIN_SIDE:
        # Rounding up overshot the budget: give back one step on the longer side.
        w, h = snapped
        snapped = (w - SIZE_MULTIPLE, h) if w >= h else (w, h - SIZE_MULTIPLE)
    return _clamp(snapped[0]), _clamp(snapped[1])


def _explicit_size(value: str, what: str) -> tuple[int, int]:
    match = _EXPLICIT_SIZE.match(value)
    if match is None:
        raise InvalidRequest(_choices_message(what, value))
    width, height = int(match.group(1)), int(match.group(2))
    if not (MIN_SIDE <= width <= MAX_SIDE and MIN_SIDE <= height <= MAX_SIDE):
        raise InvalidRequest(_choices_message(what, value))
    return snap_to_multiple(width, height)


def _check_pixels(size: tuple[int, int], what: str, max_pixels: int) -> None:
    width, height = size
    if width * height > max_pixels:
        raise InvalidRequest(
            f"{what} {width}x{height} is {width * height} pixels, more than this model's "
            f"limit of {max_pixels}"
        )


def _choices_message(what: str, value: str) -> str:
    presets = ", ".join(IMAGE_SIZE_PRESETS)
    return (
        f"{what} must be one of: {presets}, auto, or WIDTHxHEIGHT with each side between "
        f"{MIN_SIDE} and {MAX_SIDE} (e.g. 1024x768); got '{value}'"
    )


def _parse_megapixels(megapixels: str) -> Decimal:
    try:
        target = Decimal(megapixels.strip())
    except InvalidOperation:
        target = Decimal(0)
    if not target.is_finite() or not 0 < target <= MAX_MEGAPIXELS:
        raise InvalidRequest(
            f"megapixels must be a number above 0 and at most {MAX_MEGAPIXELS}, "
            f"or match_input; got '{megapixels}'"
        )
    return target


def _snap(side: int, multiple: int) -> int:
    return max(multiple, (side + multiple // 2) // multiple * multiple)


def _clamp(side: int) -> int:
    return min(MAX_SIDE, max(MIN_SIDE, side))
