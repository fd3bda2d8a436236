"""Checking input images at submit time, and normalising them for the engine."""

from __future__ import annotations

import io
from dataclasses import dataclass

from PIL import Image, ImageOps, UnidentifiedImageError

from fluxserve.errors import InvalidRequest

SUPPORTED_INPUT_FORMATS = frozenset({"JPEG", "PNG", "GIF", "WEBP"})
_FORMAT_NAMES = "JPEG, PNG, GIF or WEBP"
# EXIF orientations 5-8 turn the picture a quarter, so width and height swap on display.
_QUARTER_TURN_ORIENTATIONS = frozenset({5, 6, 7, 8})
_EXIF_ORIENTATION = 0x0112
# Any of these can come out of a damaged file, depending on where the damage is.
_DECODE_ERRORS = (OSError, SyntaxError, ValueError, EOFError, IndexError, TypeError)


@dataclass(frozen=True)
class DecodedImage:
    """An input image that decoded cleanly; width and height as displayed (EXIF applied)."""

    data: bytes
    format: str
    width: int
    height: int
    png: bytes | None = None  # `to_png_bytes(data)`, when it was made ahead (off the loop)


def decode_image(data: bytes, *, what: str, max_pixels: int) -> DecodedImage:
    """Check that `data` is one whole JPEG, PNG, GIF or WEBP image of at most `max_pixels`.

    The size is checked from the header before any pixel is decoded, so a decompression bomb
    costs nothing. Animated images count by their first frame. Raises InvalidRequest naming
    `what` otherwise.
    """
    if not data:
        raise InvalidRequest(f"{what} is empty")
    with _open(data, what) as image:
        width, height = image.size
        image_format = str(image.format)
        _check_pixels(width, height, what=what, max_pixels=max_pixels)
        _verify(image, what)
    # verify() leaves the image unusable; decoding the first frame catches what it misses.
    with _open(data, what) as image:
        _load_first_frame(image, what)
        orientation = image.getexif().get(_EXIF_ORIENTATION)
    if orientation in _QUARTER_TURN_ORIENTATIONS:
        width, height = height, width
    return DecodedImage(data=data, format=image_format, width=width, height=height)


def to_png_bytes(data: bytes) -> bytes:
    """Any accepted input image as PNG bytes: first frame, EXIF orientation applied, RGB or
    RGBA (8 bits a channel). Call `decode_image` first; this does not check the size."""
    with _open(data, "input image") as image:
        _load_first_frame(image, "input image")
        upright = ImageOps.exif_transpose(image)
        converted = _to_rgb_or_rgba(upright)
    out = io.BytesIO()
    converted.save(out, format="PNG")
    return out.getvalue()


def _open(data: bytes, what: str) -> Image.Image:
    try:
        return Image.open(io.BytesIO(data), formats=sorted(SUPPORTED_INPUT_FORMATS))
    except UnidentifiedImageError:
        raise InvalidRequest(f"{what} is not a supported image ({_FORMAT_NAMES})") from None
    except Image.DecompressionBombError:
        raise InvalidRequest(f"{what} has too many pixels") from None
    except _DECODE_ERRORS:
        raise InvalidRequest(f"{what} is not a valid image: the data is damaged") from None


def _check_pixels(width: int, height: int, *, what: str, max_pixels: int) -> None:
    if width < 1 or height < 1:
        raise InvalidRequest(f"{what} has no pixels ({width}x{height})")
    if width * height > max_pixels:
        raise InvalidRequest(
            f"{what} is too large: {width}x{height} is {width * height} pixels, "
            f"more than the limit of {max_pixels}"
        )


def _verify(image: Image.Image, what: str) -> None:
    try:
        image.verify()
    except _DECODE_ERRORS:
        raise InvalidRequest(f"{what} is not a valid image: the data is damaged") from None


def _load_first_frame(image: Image.Image, what: str) -> None:
    try:
        image.seek(0)
        image.load()
    except Image.DecompressionBombError:
        raise InvalidRequest(f"{what} has too many pixels") from None
    except _DECODE_ERRORS:
        raise InvalidRequest(f"{what} is not a valid image: the data is damaged") from None


def _to_rgb_or_rgba(image: Image.Image) -> Image.Image:
    if image.mode.startswith("I"):
        # 16-bit greyscale: keep the high byte; a plain convert would clip to white.
        image = image.convert("I").point(lambda value: value / 256).convert("L")
    has_alpha = image.mode in ("RGBA", "LA", "PA", "La", "RGBa") or "transparency" in image.info
    return image.convert("RGBA" if has_alpha else "RGB")
