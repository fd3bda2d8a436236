"""Image bytes in and out of the engine. Torch-free: the process boundary uses it too."""

from __future__ import annotations

import io

from PIL import Image, UnidentifiedImageError

from fluxserve.errors import InvalidRequest


def decode_image(data: bytes, mode: str, what: str = "input image") -> Image.Image:
    """Decode encoded image bytes (any format PIL reads) into `mode` ("RGB", "L")."""
    try:
        with Image.open(io.BytesIO(data)) as image:
            image.load()
            return image.convert(mode)
    except (UnidentifiedImageError, OSError, ValueError) as exc:
        raise InvalidRequest(f"The {what} could not be decoded: {exc}") from exc


RawImage = tuple[str, tuple[int, int], bytes]


def to_raw(image: Image.Image) -> RawImage:
    """An image as (mode, size, pixels) for the engine pipe: no compression on the hot path,
    where a PNG round trip cost more than the request machinery itself."""
    return image.mode, image.size, image.tobytes()


def from_raw(raw: RawImage) -> Image.Image:
    mode, size, pixels = raw
    return Image.frombytes(mode, size, pixels)
