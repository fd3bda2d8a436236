"""Images across the engine pipe as raw pixels. Torch-free."""

from __future__ import annotations

from PIL import Image

# Raw rather than encoded: a PNG round trip cost more than the request machinery itself.
RawImage = tuple[str, tuple[int, int], bytes]


def to_raw(image: Image.Image) -> RawImage:
    return image.mode, image.size, image.tobytes()


def from_raw(raw: RawImage) -> Image.Image:
    mode, size, pixels = raw
    return Image.frombytes(mode, size, pixels)
