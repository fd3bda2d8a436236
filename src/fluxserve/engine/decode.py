"""Decoding request image bytes for the engine. Torch-free."""

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
